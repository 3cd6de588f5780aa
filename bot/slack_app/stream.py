"""Streaming an answer into a Slack thread, complete however long or busy it gets.

Two ways to show a growing message: Slack's native stream
(``chat.startStream`` / ``appendStream`` / ``stopStream``, Markdown) or, where a
workspace lacks it, ``chat.postMessage`` then ``chat.update`` (mrkdwn). Either
way a message is edited at most about once a second, each edit waits its turn
in the workspace's shared budget (:class:`~bot.slack_app.limits.SlackPacer`), so
twenty streams at once make fewer, larger edits instead of a storm of 429s.
A native stream is scarce (``chat.startStream`` and ``chat.stopStream`` are
Tier 2, about 20 a minute per workspace), so an answer streams natively only
when a turn for it is free at once, and by post-and-edit otherwise;
text past a message's limit continues in a new message; the final text always
lands, and a stream cut short is closed with a note saying so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_app.limits import SlackPacer
from bot.slack_app.live_message import (
    REFUSALS,
    STOP,
    STREAMING_UNAVAILABLE,
    EditedMessage,
    LiveMessage,
    NativeMessage,
    StreamTarget,
)
from bot.slack_app.render import defuse_markdown, to_mrkdwn
from core.errors import BotError
from core.messages import text
from core.text import MIN_LIMIT, split_head

_log = logging.getLogger(__name__)

NATIVE_LIMIT = 11_000
"""Characters of model text per streamed message."""
EDIT_LIMIT = 3_500
"""Characters of model text per posted message."""
SENT_MAX = {True: 11_800, False: 3_900}
"""Characters Slack takes once rendered: 12,000 of ``markdown_text`` per stream call, and 4,000 of
``chat.update`` text (``msg_too_long`` past it), less room for a closing fence and a note."""


START, POST = "chat.startStream", "chat.postMessage"


class SlackStreamer:
    """Streams deltas into threads: natively while the workspace has room, else by post and edits."""

    def __init__(
        self,
        client: AsyncWebClient,
        pacer: SlackPacer,
        *,
        native: bool = True,
        native_limit: int = NATIVE_LIMIT,
        edit_limit: int = EDIT_LIMIT,
    ) -> None:
        self._client = client
        self.pacer = pacer
        self._native = native
        self._no_native: set[str] = set()
        self._limits = {True: native_limit, False: edit_limit}

    def native_for(self, team: str) -> bool:
        """Whether answers in ``team`` may use Slack's streaming methods at all."""
        return self._native and team not in self._no_native

    def limit_for(self, native: bool) -> int:
        return self._limits[native]

    async def stream(self, target: StreamTarget, deltas: AsyncIterator[str]) -> None:
        """Show ``deltas`` in the thread as they arrive; return once the whole text is shown."""
        await _Stream(self, target).run(deltas)

    async def opening_turn(self, target: StreamTarget, *, finished: bool) -> str:
        """Take the turn for a new message and say which method it is for.

        A native stream needs a ``chat.startStream`` turn now and room for its
        ``chat.stopStream`` (both Tier 2, scarce); otherwise, or when the answer is
        already complete, the message is posted (and edited) in the channel's turn.
        """
        pacer = self.pacer
        if not finished and self.native_for(target.team) and pacer.free_now(STOP) and pacer.turn_now(START):
            return START
        await pacer.turn(POST, target.channel)
        return POST

    async def open(self, target: StreamTarget, raw: str, *, final: bool, native: bool) -> LiveMessage:
        """Start a message, falling back to post-and-edit if the workspace refuses to stream."""
        if not native:
            return await _shown(EditedMessage(self._client, target), raw, final)
        try:
            return await _shown(NativeMessage(self._client, target), raw, final)
        except SlackApiError as exc:
            error = str(exc.response.get("error"))
            if error in REFUSALS:
                raise
            if error in STREAMING_UNAVAILABLE:
                self._no_native.add(target.team)
            _log.warning("chat.startStream failed (%s); using chat.postMessage + chat.update", error)
            return await _shown(EditedMessage(self._client, target), raw, final)


async def _shown(message: NativeMessage | EditedMessage, raw: str, final: bool) -> LiveMessage:
    await message.show(raw, final=final)
    return message


class _Stream:
    """One answer: reads deltas in the background and shows them in as few writes as the budgets allow."""

    def __init__(self, streamer: SlackStreamer, target: StreamTarget) -> None:
        self._streamer = streamer
        self._target = target
        self._raw = ""
        self._changed = asyncio.Event()
        self._message: LiveMessage | None = None
        self._last_edit = 0.0

    async def run(self, deltas: AsyncIterator[str]) -> None:
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
        """Wait for the next write's turn and return its method; the text is read only after.

        A new message takes its opening turn. An edit comes at least ``min_interval``
        after the last one, in the workspace's turn; if the answer completes meanwhile,
        the message's last write takes its own turn (a stream's stop, at once).
        """
        message = self._message
        if message is None:
            return await self._streamer.opening_turn(self._target, finished=reader.done())
        if not reader.done():
            edit = asyncio.ensure_future(self._spaced_turn(message.edit_method))
            try:
                await asyncio.wait({edit, reader}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                edit.cancel()
            if edit.done() and not edit.cancelled():
                return message.edit_method
        if isinstance(message, NativeMessage):
            await self._streamer.pacer.turn(message.finish_method)
        else:
            await self._spaced_turn(message.finish_method)
        return message.finish_method

    async def _spaced_turn(self, method: str) -> None:
        pacer, loop = self._streamer.pacer, asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._last_edit + pacer.min_interval - loop.time()))
        await pacer.turn(method)

    async def _read(self, deltas: AsyncIterator[str]) -> None:
        try:
            async for delta in deltas:
                self._raw += delta
                self._changed.set()
        except BotError as exc:
            self._raw += _note(exc.message())
            raise
        finally:
            self._changed.set()

    async def _sync(self, *, final: bool, paid: str) -> None:
        """Bring Slack up to date with the text so far, moving overflow into new messages."""
        while len(self._raw) > (limit := self._limit(paid)):
            floor = self._message.sent if self._message else 0
            head, self._raw = split_head(self._raw, limit, floor)
            await self._show(head, final=True, paid=paid)
            self._message = None
            paid = await self._streamer.opening_turn(self._target, finished=final)
        if self._raw or final:
            await self._show(self._raw, final=final, paid=paid)

    def _limit(self, paid: str) -> int:
        native = isinstance(self._message, NativeMessage) if self._message else paid == START
        return _fitted(self._raw, self._streamer.limit_for(native), native)

    async def _show(self, raw: str, *, final: bool, paid: str) -> None:
        with self._streamer.pacer.prepaid(paid):
            if self._message is None:
                self._message = await self._streamer.open(
                    self._target, raw, final=final, native=paid == START
                )
            else:
                await self._message.show(raw, final=final)
        self._last_edit = asyncio.get_running_loop().time()

    async def _close_early(self, exc: BaseException) -> None:
        """Best effort: end an open message with a note, so no stream is left hanging."""
        if self._message is None:
            return
        reason = text("bot_stopping") if isinstance(exc, asyncio.CancelledError) else text("slack_cut")
        try:
            await asyncio.wait_for(self._message.show(self._raw + _note(reason), final=True), timeout=5)
        except Exception:  # noqa: BLE001 - best effort; the stream's own failure is re-raised by the caller
            _log.warning("could not close a stream cut short", exc_info=True)


def _fitted(raw: str, limit: int, native: bool) -> int:
    """``limit``, lowered until that much of ``raw`` is short enough once rendered for Slack.

    Escaping lengthens text (``&`` becomes ``&amp;``), so text full of such characters
    is cut into smaller messages rather than refused.
    """
    render, most = (defuse_markdown if native else to_mrkdwn), SENT_MAX[native]
    while limit > MIN_LIMIT and (size := len(render(raw[:limit]))) > most:
        limit = max(MIN_LIMIT, limit * most // size - 1)
    return limit


def _note(reason: str) -> str:
    return "\n\n_" + text("answer_interrupted", reason=reason) + "_"
