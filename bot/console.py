"""The console platform: a REPL on stdin/stdout that runs the same handlers.

Images are saved under ``images/`` and their paths printed. Exits at EOF.
Everything printed passes through :mod:`bot.terminal_text`, since model
output may carry terminal control sequences; input is read as bytes and
decoded line by line, so one line that is not valid text cannot end the REPL.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from bot.terminal_text import ControlStripper, strip_controls
from core.ai import GeneratedImage
from core.audio import audio_too_large
from core.errors import UserInputError
from core.messages import text
from handlers.failures import unexpected, user_message
from handlers.janken_text import describe
from handlers.port import Command, GameView, PageButton, Services
from handlers.registry import HANDLERS, TRANSCRIBE
from handlers.transcribe import TranscribeRequest

_log = logging.getLogger(__name__)
THREAD = "console"


class ConsoleReply:
    """Prints everything; ``private`` messages are just printed, as there is one user."""

    def __init__(self, out: TextIO, images_dir: Path, locale: str = "en") -> None:
        self._out = out
        self._images_dir = images_dir
        self._locale = locale
        self.told: BaseException | None = None
        """An error the user has already been shown (at the end of a cut answer)."""

    def _print(self, line: str) -> None:
        self._out.write(strip_controls(line) + "\n")
        self._out.flush()

    async def post_text(self, text: str) -> None:
        self._print(text)

    async def send_private(self, text: str) -> None:
        self._print(text)

    async def send_private_page(self, message: str, buttons: Sequence[PageButton]) -> None:
        """No buttons in a terminal: each is shown as the command that does the same."""
        self._print(message)
        for button in buttons:
            self._print(text("button_typed", self._locale, label=button.label, typed=button.typed))

    async def start_thread(self, title: str) -> str:
        return THREAD

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        """Print the answer as it arrives; no refs, as the whole console is one conversation.

        An answer cut short keeps what arrived and ends with a line saying why: the model's
        failure (then the REPL does not say it again), or the bot stopping (SIGTERM).
        """
        wrote = False
        stripper = ControlStripper()  # one per stream: a sequence may span deltas
        try:
            async for delta in deltas:
                self._out.write(stripper.feed(delta))
                self._out.flush()
                wrote = True
        except BaseException as exc:
            if wrote:
                self._print("")
                locale = self._locale
                if isinstance(exc, asyncio.CancelledError):
                    self._print(text("answer_interrupted", locale, reason=text("bot_stopping", locale)))
                elif isinstance(exc, Exception):
                    self._print(text("answer_interrupted", locale, reason=user_message(exc, locale)))
                    self.told = exc
            raise
        if wrote:
            self._print("")
        return []

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        self._images_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        path = self._images_dir / f"{stamp}-{image.filename(caption)}"
        await asyncio.to_thread(path.write_bytes, image.data)
        self._print(text("image_saved", self._locale, caption=caption, path=path))
        return str(path)

    async def show_game(self, view: GameView, *, edit_clicked: bool = False) -> str:
        """Print the board and save its battle card; the console has no buttons, so every board
        is the one ``THREAD``."""
        self._print(describe(view, self._locale))
        if view.card:
            self._images_dir.mkdir(parents=True, exist_ok=True)
            path = self._images_dir / f"janken-{view.game.game_id}-{view.game.rounds_played}.png"
            await asyncio.to_thread(path.write_bytes, view.card)
            self._print(text("card_saved", self._locale, path=path))
        return THREAD

    @contextlib.asynccontextmanager
    async def progress(self, text: str) -> AsyncIterator[None]:
        self._print(text)
        yield


async def run(
    services: Services, stdin: TextIO, stdout: TextIO, *, images_dir: Path = Path("images")
) -> None:
    """Read commands line by line until EOF and answer each one, in ``BOT_LOCALE``'s language."""
    reply = ConsoleReply(stdout, images_dir, services.locale)
    user = _user_name()
    lines = _lines_of(stdin)
    while (line := await lines.get()) is not None:
        line = line.strip()
        if not line:
            continue
        name, _, rest = line.partition(" ")
        command = Command(
            "console",
            "local",
            "console",
            user,
            rest,
            thread=THREAD,
            locale=services.locale,
            request_id=uuid.uuid4().hex,
        )
        handler = HANDLERS.get(name.removeprefix("/").lower()) if name.startswith("/") else None
        try:
            if name.lower() == "/transcribe":
                await TRANSCRIBE(local_audio(rest), command, reply, services)
            elif handler is None:
                await reply.send_private(text("unknown_command", command.locale, command=name))
            else:
                await handler(command, reply, services)
        except Exception as exc:  # noqa: BLE001 - ours or a bug: the user gets a short line, not a traceback
            if unexpected(exc):
                _log.error("command %r failed", name, exc_info=exc)
            if exc is not reply.told:
                await reply.send_private(user_message(exc, command.locale))


def local_audio(raw: str) -> TranscribeRequest:
    """``/transcribe <path>``: a local file, its size checked before it is read."""
    if not raw.strip():
        raise UserInputError("usage_transcribe")
    path = Path(raw.strip().strip("\"'")).expanduser()
    try:
        size = path.stat().st_size if path.is_file() else None
    except OSError:
        size = None
    if size is None:
        raise UserInputError("no_such_file", path=str(path))

    async def fetch(max_bytes: int) -> bytes:
        return await asyncio.to_thread(_read_limited, path, max_bytes)

    return TranscribeRequest(path.name, None, size, fetch)


def _read_limited(path: Path, max_bytes: int) -> bytes:
    """The file, if it holds at most ``max_bytes`` (it may have grown since it was checked)."""
    try:
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as exc:
        raise UserInputError("no_such_file", path=str(path)) from exc
    if len(data) > max_bytes:
        raise audio_too_large(max_bytes)
    return data


def _lines_of(stdin: TextIO) -> asyncio.Queue[str | None]:
    """Lines read by a daemon thread (``None`` at EOF), so a signal can end the REPL mid-read.

    ``None`` is queued however reading ends, so the REPL never waits on a dead reader.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in _decoded_lines(stdin):
                loop.call_soon_threadsafe(queue.put_nowait, line)
        except (OSError, ValueError):
            _log.exception("reading the console's input failed")
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    return queue


def _decoded_lines(stdin: TextIO) -> Iterator[str]:
    """``stdin``'s lines; bytes the encoding cannot read become U+FFFD instead of an error.

    The text layer would raise mid-iteration and lose every later line, so the bytes
    underneath are read and decoded one line at a time where the stream has them.
    """
    raw = getattr(stdin, "buffer", None)
    if raw is None:
        yield from stdin
        return
    encoding = stdin.encoding or "utf-8"
    for line in raw:
        yield line.decode(encoding, errors="replace")


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "you"
