"""The live-stream engine every platform shares: an answer shown while it is generated.

One :class:`LiveStream` reads the model's deltas in the background and keeps
the chat up to date in as few writes as the platform's limits allow: it
coalesces deltas, spaces a message's edits at least ``min_interval`` apart,
reads the text only once a write's turn has come (so each write carries the
newest text), moves text past a message's limit into further messages (cut at
paragraph or sentence bounds, code fences kept valid) and closes a stream cut
short with a note. The final text always lands.

A platform supplies two small things: a :class:`Pacer` (turns to write, by
kind) and a :class:`LiveTarget` (where one answer goes: which kind of message
to open, how much text one may hold, and how to open it). A message it opens
is a :class:`LiveMessage`: posted by its first ``show``, edited by later ones,
finished by the ``final`` one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from typing import Protocol

from core.errors import BotError
from core.messages import text
from core.text import split_head

_log = logging.getLogger(__name__)
CLOSE_TIMEOUT = 5.0
"""Seconds to spend closing a stream cut short with its note."""


class LiveMessage(Protocol):
    """One chat message showing a growing answer."""

    sent: int
    """How much of its text is shown for good: a cut into a further message may not fall before it."""
    edit_turn: str
    """The kind of turn an edit takes."""
    finish_turn: str
    """The kind of turn the final write takes."""
    finish_at_once: bool
    """Whether the final write skips the spacing between edits (it ends a live stream)."""

    async def show(self, raw: str, *, final: bool) -> None:
        """Show ``raw`` (all of this message's text so far); ``final`` ends the message."""


class Pacer(Protocol):
    """Turns to write, shared by every answer on one workspace or bucket."""

    min_interval: float
    """Seconds between two edits of one message."""

    async def turn(self, kind: str) -> None:
        """Wait for a turn of ``kind``."""

    def prepaid(self, kind: str) -> AbstractContextManager[None]:
        """Inside, the next write of ``kind`` uses the turn already taken."""


class LiveTarget(Protocol):
    """Where one answer goes, on one platform."""

    cut_reason: str
    """The message key explaining that the platform stopped taking updates."""

    async def opening_turn(self, *, finished: bool) -> str:
        """Take the turn to open a new message and return its kind (``finished``: the answer is whole)."""

    def limit(self, raw: str, opening: str, message: LiveMessage | None) -> int:
        """How much of ``raw`` one message may hold: ``message``'s, or a new one opened by ``opening``."""

    async def open(self, raw: str, *, final: bool, opening: str) -> LiveMessage:
        """Open a new message showing ``raw`` with the turn ``opening`` took."""


class LiveStream:
    """One answer: reads deltas in the background and shows them in as few writes as the turns allow."""

    def __init__(self, target: LiveTarget, pacer: Pacer, *, locale: str = "en") -> None:
        """``locale``: the reader's, for the note that ends an answer cut short."""
        self._target = target
        self._pacer = pacer
        self._locale = locale
        self._raw = ""
        self._changed = asyncio.Event()
        self._message: LiveMessage | None = None
        self._last_edit = 0.0

    async def run(self, deltas: AsyncIterator[str]) -> None:
        """Show ``deltas`` as they arrive; return once the whole text is shown."""
        reader = asyncio.create_task(self._read(deltas))
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                paid = await self._turn(reader)
                finished = reader.done()
                await self._sync(final=finished, paid=paid)
                if finished:
                    break
        except BaseException as exc:
            reader.cancel()  # and wait: the caller may close the deltas' generator next
            await asyncio.gather(reader, return_exceptions=True)
            await self._close_early(exc)
            raise
        await reader  # the model's failure, if any, once its partial text is marked and shown

    async def _turn(self, reader: asyncio.Task[None]) -> str:
        """Wait for the next write's turn and return its kind; the text is read only after.

        A new message takes its opening turn. An edit comes at least ``min_interval``
        after the last one; if the answer completes meanwhile, the message's last
        write takes its own turn.
        """
        message = self._message
        if message is None:
            return await self._target.opening_turn(finished=reader.done())
        if not reader.done():
            edit = asyncio.ensure_future(self._spaced_turn(message.edit_turn))
            try:
                await asyncio.wait({edit, reader}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                edit.cancel()
            if edit.done() and not edit.cancelled():
                return message.edit_turn
        if message.finish_at_once:
            await self._pacer.turn(message.finish_turn)
        else:
            await self._spaced_turn(message.finish_turn)
        return message.finish_turn

    async def _spaced_turn(self, kind: str) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._last_edit + self._pacer.min_interval - loop.time()))
        await self._pacer.turn(kind)

    async def _read(self, deltas: AsyncIterator[str]) -> None:
        try:
            async for delta in deltas:
                self._raw += delta
                self._changed.set()
        except BotError as exc:
            self._raw += note(exc.message(self._locale), self._locale)
            raise
        finally:
            self._changed.set()

    async def _sync(self, *, final: bool, paid: str) -> None:
        """Bring the chat up to date with the text so far, moving overflow into new messages."""
        while len(self._raw) > (limit := self._target.limit(self._raw, paid, self._message)):
            floor = self._message.sent if self._message else 0
            head, self._raw = split_head(self._raw, limit, floor)
            await self._show(head, final=True, paid=paid)
            self._message = None
            paid = await self._target.opening_turn(finished=final)
        if self._raw.strip() or (final and self._message is not None):  # never an empty message
            await self._show(self._raw, final=final, paid=paid)

    async def _show(self, raw: str, *, final: bool, paid: str) -> None:
        with self._pacer.prepaid(paid):
            if self._message is None:
                self._message = await self._target.open(raw, final=final, opening=paid)
            else:
                await self._message.show(raw, final=final)
        self._last_edit = asyncio.get_running_loop().time()

    async def _close_early(self, exc: BaseException) -> None:
        """Best effort: end an open message with a note, so no stream is left hanging."""
        if self._message is None:
            return
        stopping = isinstance(exc, asyncio.CancelledError)
        reason = text("bot_stopping" if stopping else self._target.cut_reason, self._locale)
        try:
            closing = self._message.show(self._raw + note(reason, self._locale), final=True)
            await asyncio.wait_for(closing, timeout=CLOSE_TIMEOUT)
        except Exception:  # noqa: BLE001 - best effort; the stream's own failure is re-raised by the caller
            _log.warning("could not close a stream cut short", exc_info=True)


def note(reason: str, locale: str = "en") -> str:
    """The line that ends an answer cut short, saying why, in ``locale``."""
    return "\n\n_" + text("answer_interrupted", locale, reason=reason) + "_"
