"""A Reply that records what a handler said, and ``run`` to call a handler with one, for handler tests."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from core.ai import GeneratedImage
from handlers.port import Command, GameView, PageButton, Services
from handlers.registry import HANDLERS

_BOARD_NUMBERS = itertools.count(1)
"""Boards posted by any RecordingReply get distinct refs, as messages on a platform do."""
_ANSWER_NUMBERS = itertools.count(1)
"""So do the messages carrying answers."""


@dataclass
class RecordingReply:
    """Keeps every call in ``events`` as ``(kind, value)`` in order.

    ``clicked`` is the ref of the board a click came from (``None`` for a typed command);
    ``boards`` records each board shown as ``("edit", ref)`` or ``("post", ref)``;
    ``answers`` the refs each stream returned, one message per stream.
    """

    events: list[tuple[str, object]] = field(default_factory=list)
    threads: int = 0
    clicked: str | None = None
    boards: list[tuple[str, str]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    buttons: list[list[PageButton]] = field(default_factory=list)
    """The buttons under each private page, in order."""

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def values(self, kind: str) -> list[object]:
        return [value for k, value in self.events if k == kind]

    async def post_text(self, text: str) -> None:
        self.events.append(("text", text))

    async def send_private(self, text: str) -> None:
        self.events.append(("private", text))

    async def send_private_page(self, text: str, buttons: Sequence[PageButton]) -> None:
        self.events.append(("private", text))
        self.buttons.append(list(buttons))

    async def start_thread(self, title: str) -> str:
        self.threads += 1
        self.events.append(("thread", title))
        return f"thread-{self.threads}"

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        pieces = []
        try:
            async for delta in deltas:
                pieces.append(delta)
        finally:
            self.events.append(("stream", (thread, pieces)))
        self.answers.append(f"answer-{next(_ANSWER_NUMBERS)}")
        return self.answers[-1:]

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        self.events.append(("image", (image, caption)))
        return f"image-{len(self.values('image'))}"

    async def show_game(self, view: GameView, *, edit_clicked: bool = False) -> str:
        self.events.append(("game", view))
        if edit_clicked and self.clicked is not None:
            self.boards.append(("edit", self.clicked))
        else:
            self.boards.append(("post", f"board-{next(_BOARD_NUMBERS)}"))
        return self.boards[-1][1]

    def edited(self) -> list[str]:
        return [ref for how, ref in self.boards if how == "edit"]

    def posted(self) -> list[str]:
        return [ref for how, ref in self.boards if how == "post"]

    @contextlib.asynccontextmanager
    async def progress(self, text: str) -> AsyncIterator[None]:
        self.events.append(("progress", text))
        try:
            yield
        finally:
            self.events.append(("progress_done", text))


def cmd(text: str, *, user: str = "alice", thread: str | None = None, request_id: str = "") -> Command:
    """``text`` typed by ``user`` in channel C1 of Slack workspace T1."""
    return Command("slack", "T1", "C1", user, text, thread=thread, request_id=request_id)


async def run(name: str, command: Command, services: Services) -> RecordingReply:
    """Run the handler ``name`` on ``command``; what it said."""
    reply = RecordingReply()
    await HANDLERS[name](command, reply, services)
    return reply
