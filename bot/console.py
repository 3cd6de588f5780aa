"""The console platform: a REPL on stdin/stdout that runs the same handlers.

Images are saved under ``images/`` and their paths printed. Exits at EOF.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from core.ai import GeneratedImage
from core.errors import BotError
from core.messages import text
from handlers.janken_text import describe
from handlers.port import Command, GameView, Services
from handlers.registry import HANDLERS

_log = logging.getLogger(__name__)
THREAD = "console"


class ConsoleReply:
    """Prints everything; ``private`` messages are just printed, as there is one user."""

    def __init__(self, out: TextIO, images_dir: Path) -> None:
        self._out = out
        self._images_dir = images_dir

    def _print(self, line: str) -> None:
        self._out.write(line + "\n")
        self._out.flush()

    async def post_text(self, text: str) -> None:
        self._print(text)

    async def send_private(self, text: str) -> None:
        self._print(text)

    async def start_thread(self, title: str) -> str:
        return THREAD

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> None:
        wrote = False
        try:
            async for delta in deltas:
                self._out.write(delta)
                self._out.flush()
                wrote = True
        finally:
            if wrote:
                self._print("")

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        self._images_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        path = self._images_dir / f"{stamp}-{image.filename(caption)}"
        await asyncio.to_thread(path.write_bytes, image.data)
        self._print(text("image_saved", caption=caption, path=path))
        return str(path)

    async def show_game(self, view: GameView) -> None:
        self._print(describe(view))

    @contextlib.asynccontextmanager
    async def progress(self, text: str) -> AsyncIterator[None]:
        self._print(text)
        yield


async def run(
    services: Services, stdin: TextIO, stdout: TextIO, *, images_dir: Path = Path("images")
) -> None:
    """Read commands line by line until EOF and answer each one."""
    reply = ConsoleReply(stdout, images_dir)
    user = _user_name()
    lines = _lines_of(stdin)
    while (line := await lines.get()) is not None:
        line = line.strip()
        if not line:
            continue
        name, _, rest = line.partition(" ")
        command = Command(
            "console", "local", "console", user, rest, thread=THREAD, request_id=uuid.uuid4().hex
        )
        handler = HANDLERS.get(name.removeprefix("/").lower()) if name.startswith("/") else None
        try:
            if handler is None:
                await reply.send_private(text("unknown_command", command=name))
            else:
                await handler(command, reply, services)
        except BotError as exc:
            await reply.send_private(exc.user_message)
        except Exception:
            _log.exception("command %r failed", name)
            await reply.send_private(text("internal_error"))


def _lines_of(stdin: TextIO) -> asyncio.Queue[str | None]:
    """Lines read by a daemon thread (``None`` at EOF), so a signal can end the REPL mid-read."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    return queue


def _user_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "you"
