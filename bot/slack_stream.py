"""Streaming an answer into a Slack thread, complete however long or busy it gets.

Two ways to show a growing message: Slack's native stream
(``chat.startStream`` / ``appendStream`` / ``stopStream``, Markdown) or, where a
workspace lacks it, ``chat.postMessage`` then ``chat.update`` (mrkdwn). Either
way a message is edited at most about once a second, each edit waits its turn
in the workspace's shared :class:`~bot.throttle.EditBudget` (so twenty streams
at once make fewer, larger edits instead of a storm of 429s), text past a
message's limit continues in a new message, and the final text always lands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_render import defuse_markdown, stable_length, to_mrkdwn
from bot.throttle import EditBudget
from core.errors import BotError
from core.messages import text
from core.text import split_head

_log = logging.getLogger(__name__)

NATIVE_LIMIT = 11_000
"""Characters per streamed message (Slack takes 12,000 of Markdown per call)."""
EDIT_LIMIT = 3_500
"""Characters per posted message before mrkdwn escaping (Slack truncates past 4,000)."""


def default_budgets() -> dict[str, EditBudget]:
    """Slack's published tiers, with headroom: chat.update Tier 3, chat.appendStream Tier 4."""
    return {
        "chat.update": EditBudget(per_minute=45, burst=3),
        "chat.appendStream": EditBudget(per_minute=90, burst=5),
    }


@dataclass(frozen=True)
class StreamTarget:
    team: str
    channel: str
    thread_ts: str
    user: str


class _NativeMessage:
    """One message shown through Slack's streaming methods; text only ever grows."""

    edit_method = "chat.appendStream"

    def __init__(self, client: AsyncWebClient, target: StreamTarget) -> None:
        self._client = client
        self._target = target
        self.ts: str | None = None
        self.sent = 0

    async def show(self, raw: str, *, final: bool) -> None:
        upto = len(raw) if final else stable_length(raw)
        piece = defuse_markdown(raw[self.sent : upto]) or None
        channel = self._target.channel
        if self.ts is None:
            started = await self._client.chat_startStream(
                channel=channel,
                thread_ts=self._target.thread_ts,
                recipient_team_id=self._target.team,
                recipient_user_id=self._target.user,
                markdown_text=piece,
            )
            self.ts = str(started["ts"])
            if final:
                await self._client.chat_stopStream(channel=channel, ts=self.ts)
        elif final:
            await self._client.chat_stopStream(channel=channel, ts=self.ts, markdown_text=piece)
        elif piece:
            await self._client.chat_appendStream(channel=channel, ts=self.ts, markdown_text=piece)
        self.sent = upto


class _EditedMessage:
    """One message posted with ``chat.postMessage`` and rewritten with ``chat.update``."""

    edit_method = "chat.update"

    def __init__(self, client: AsyncWebClient, target: StreamTarget) -> None:
        self._client = client
        self._target = target
        self.ts: str | None = None
        self.sent = 0
        self._shown = ""

    async def show(self, raw: str, *, final: bool) -> None:
        body = to_mrkdwn(raw)
        if self.ts is None:
            posted = await self._client.chat_postMessage(
                channel=self._target.channel, thread_ts=self._target.thread_ts, text=body
            )
            self.ts = str(posted["ts"])
        elif body != self._shown:
            await self._client.chat_update(channel=self._target.channel, ts=self.ts, text=body)
        self._shown = body


class SlackStreamer:
    """Streams deltas into threads, natively unless the setting or the workspace says otherwise."""

    def __init__(
        self,
        client: AsyncWebClient,
        budgets: Mapping[str, EditBudget],
        *,
        native: bool = True,
        min_interval: float = 1.0,
    ) -> None:
        self._client = client
        self._budgets = budgets
        self.native = native
        self._min_interval = min_interval

    async def stream(self, target: StreamTarget, deltas: AsyncIterator[str]) -> None:
        """Show ``deltas`` in the thread as they arrive; return once the whole text is shown."""
        await _Stream(self, target).run(deltas)

    def message(self, target: StreamTarget) -> _NativeMessage | _EditedMessage:
        return _NativeMessage(self._client, target) if self.native else _EditedMessage(self._client, target)

    async def open(self, target: StreamTarget, raw: str, *, final: bool) -> _NativeMessage | _EditedMessage:
        """Start a message, falling back to post-and-edit if native streaming is refused."""
        message = self.message(target)
        try:
            await message.show(raw, final=final)
        except SlackApiError as exc:
            if not self.native or exc.response.get("error") == "ratelimited":
                raise
            _log.warning(
                "chat.startStream failed (%s); using chat.postMessage + chat.update",
                exc.response.get("error"),
            )
            self.native = False
            message = self.message(target)
            await message.show(raw, final=final)
        return message

    async def wait_turn(self, method: str, since: float) -> None:
        """Pace one message to ``min_interval``, then queue in the shared budget."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, since + self._min_interval - loop.time()))
        await self._budgets[method].acquire(method)


class _Stream:
    """One answer: reads deltas in the background and shows them in as few edits as the budget allows."""

    def __init__(self, streamer: SlackStreamer, target: StreamTarget) -> None:
        self._streamer = streamer
        self._target = target
        self._raw = ""
        self._changed = asyncio.Event()
        self._message: _NativeMessage | _EditedMessage | None = None
        self._last_edit = 0.0

    async def run(self, deltas: AsyncIterator[str]) -> None:
        reader = asyncio.create_task(self._read(deltas))
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                if self._message is not None and not reader.done():
                    await self._streamer.wait_turn(self._message.edit_method, self._last_edit)
                finished = reader.done()
                await self._sync(final=finished)
                if finished:
                    break
        except BaseException:
            reader.cancel()
            raise
        await reader  # the model's failure, if any, once its partial text is marked and shown

    async def _read(self, deltas: AsyncIterator[str]) -> None:
        try:
            async for delta in deltas:
                self._raw += delta
                self._changed.set()
        except BotError as exc:
            self._raw += "\n\n_" + text("answer_interrupted", reason=exc.user_message) + "_"
            raise
        finally:
            self._changed.set()

    async def _sync(self, *, final: bool) -> None:
        """Bring Slack up to date with the text so far, moving overflow into new messages."""
        limit = NATIVE_LIMIT if self._streamer.native else EDIT_LIMIT
        while len(self._raw) > limit:
            floor = self._message.sent if self._message else 0
            head, self._raw = split_head(self._raw, limit, floor)
            await self._show(head, final=True)
            self._message = None
            limit = NATIVE_LIMIT if self._streamer.native else EDIT_LIMIT
        if self._raw or final:
            await self._show(self._raw, final=final)

    async def _show(self, raw: str, *, final: bool) -> None:
        if self._message is None:
            self._message = await self._streamer.open(self._target, raw, final=final)
        else:
            await self._message.show(raw, final=final)
        self._last_edit = asyncio.get_running_loop().time()
