"""A Reply that records what a handler said, for platform-free handler tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from core.ai import GeneratedImage
from handlers.port import GameView


@dataclass
class RecordingReply:
    """Keeps every call in ``events`` as ``(kind, value)`` in order."""

    events: list[tuple[str, object]] = field(default_factory=list)
    threads: int = 0

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]

    def values(self, kind: str) -> list[object]:
        return [value for k, value in self.events if k == kind]

    async def post_text(self, text: str) -> None:
        self.events.append(("text", text))

    async def send_private(self, text: str) -> None:
        self.events.append(("private", text))

    async def start_thread(self, title: str) -> str:
        self.threads += 1
        self.events.append(("thread", title))
        return f"thread-{self.threads}"

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> None:
        pieces = []
        try:
            async for delta in deltas:
                pieces.append(delta)
        finally:
            self.events.append(("stream", (thread, pieces)))

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        self.events.append(("image", (image, caption)))
        return f"image-{len(self.values('image'))}"

    async def show_game(self, view: GameView) -> None:
        self.events.append(("game", view))

    @contextlib.asynccontextmanager
    async def progress(self, text: str) -> AsyncIterator[None]:
        self.events.append(("progress", text))
        try:
            yield
        finally:
            self.events.append(("progress_done", text))
