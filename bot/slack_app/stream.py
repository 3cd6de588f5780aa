"""Streaming an answer into a Slack thread, complete however long or busy it gets.

Two ways to show a growing message: Slack's native stream
(``chat.startStream`` / ``appendStream`` / ``stopStream``) or, where a
workspace lacks it, ``chat.postMessage`` then ``chat.update``; both send
``markdown_text`` (standard Markdown, safe next to Japanese). Either
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

import logging
from collections.abc import AsyncIterator

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.live_stream import LiveMessage, LiveStream
from bot.slack_app.limits import SlackPacer
from bot.slack_app.live_message import (
    REFUSALS,
    STOP,
    STREAMING_UNAVAILABLE,
    EditedMessage,
    NativeMessage,
    SlackMessage,
    StreamTarget,
)
from bot.slack_app.render import defuse_markdown
from core.text import MIN_LIMIT

_log = logging.getLogger(__name__)

NATIVE_LIMIT = 11_000
"""Characters of model text per streamed message."""
EDIT_LIMIT = 3_500
"""Characters of model text per posted message: each edit sends the whole message again."""
SENT_MAX = 11_800
"""Characters Slack takes once defused: 12,000 of ``markdown_text`` per call (``msg_too_long``
past it), less room for a closing fence and a note."""


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
        await LiveStream(_SlackAnswer(self, target), self.pacer, locale=target.locale).run(deltas)

    async def opening_turn(self, target: StreamTarget, *, finished: bool) -> str:
        """Take the turn for a new message and say which method it is for.

        A native stream needs a ``chat.startStream`` turn now and room for its
        ``chat.stopStream`` (both Tier 2, scarce); otherwise, or when the answer is
        already complete, the message is posted (and edited) in the channel's turn.
        """
        pacer = self.pacer
        native = not finished and self.native_for(target.team)
        if native and await pacer.free_now(STOP) and await pacer.turn_now(START):
            return START
        await pacer.turn(POST, target.channel)
        return POST

    async def open(self, target: StreamTarget, raw: str, *, final: bool, native: bool) -> SlackMessage:
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


async def _shown(message: SlackMessage, raw: str, final: bool) -> SlackMessage:
    await message.show(raw, final=final)
    return message


class _SlackAnswer:
    """One answer's place in Slack, as the live-stream engine sees it."""

    cut_reason = "slack_cut"

    def __init__(self, streamer: SlackStreamer, target: StreamTarget) -> None:
        self._streamer = streamer
        self._target = target

    async def opening_turn(self, *, finished: bool) -> str:
        return await self._streamer.opening_turn(self._target, finished=finished)

    def limit(self, raw: str, opening: str, message: LiveMessage | None) -> int:
        native = isinstance(message, NativeMessage) if message else opening == START
        return _fitted(raw, self._streamer.limit_for(native))

    async def open(self, raw: str, *, final: bool, opening: str) -> SlackMessage:
        return await self._streamer.open(self._target, raw, final=final, native=opening == START)


def _fitted(raw: str, limit: int) -> int:
    """``limit``, lowered until that much of ``raw`` is short enough once defused for Slack.

    Defusing lengthens text (a word joiner after each ``<`` that could ping or link), so
    text full of such characters is cut into smaller messages rather than refused.
    """
    while limit > MIN_LIMIT and (size := len(defuse_markdown(raw[:limit]))) > SENT_MAX:
        limit = max(MIN_LIMIT, limit * SENT_MAX // size - 1)
    return limit
