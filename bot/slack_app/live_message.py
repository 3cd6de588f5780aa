"""Slack's two kinds of live message: a native stream, and a message posted then updated.

Each shows a growing answer; :mod:`bot.slack_app.stream` decides which to open and when
each write may go. A native stream (``chat.startStream`` / ``appendStream`` /
``stopStream``) only ever grows; a posted message is rewritten whole with
``chat.update``. Both carry ``markdown_text``, which Slack renders as standard
Markdown, so ``**bold**`` next to Japanese shows bold rather than its asterisks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_app.render import defuse_markdown, stable_length
from core.errors import RateLimited

_log = logging.getLogger(__name__)
STOP = "chat.stopStream"

REFUSALS = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "not_authed", "token_revoked",
     "account_inactive"}
)  # fmt: skip
"""Errors a post-and-edit message would meet too: no point falling back."""
STREAMING_UNAVAILABLE = frozenset(
    {"not_allowed_token_type", "unknown_method", "method_not_supported", "feature_not_enabled",
     "missing_scope", "not_allowed", "access_denied"}
)  # fmt: skip
"""Errors that mean the workspace has no native streaming for this app: remember them."""


@dataclass(frozen=True)
class StreamTarget:
    team: str
    channel: str
    thread_ts: str
    user: str
    locale: str = "en"


class NativeMessage:
    """One message shown through Slack's streaming methods; text only ever grows."""

    edit_turn, finish_turn, finish_at_once = "chat.appendStream", STOP, True

    def __init__(self, client: AsyncWebClient, target: StreamTarget) -> None:
        self._client = client
        self._target = target
        self.ts: str | None = None
        self.sent = 0

    async def show(self, raw: str, *, final: bool) -> None:
        upto = len(raw) if final else stable_length(raw)
        piece = defuse_markdown(raw[self.sent : upto]) or None
        channel, ts = self._target.channel, self.ts
        if ts is None:
            started = await self._client.chat_startStream(
                channel=channel,
                thread_ts=self._target.thread_ts,
                recipient_team_id=self._target.team,
                recipient_user_id=self._target.user,
                markdown_text=piece,
            )
            ts = self.ts = str(started["ts"])
            self.sent, piece = upto, None
        if final:
            await self._stop(ts, piece)
        elif piece:
            await self._client.chat_appendStream(channel=channel, ts=ts, markdown_text=piece)
        self.sent = upto

    async def _stop(self, ts: str, piece: str | None) -> None:
        """End the stream with its last piece; if Slack will not, post that piece as a message of its own.

        A stream left unstopped still shows all its text, and Slack ends it by itself later.
        """
        try:
            await self._client.chat_stopStream(channel=self._target.channel, ts=ts, markdown_text=piece)
        except (SlackApiError, RateLimited) as exc:
            error = str(exc.response.get("error")) if isinstance(exc, SlackApiError) else "ratelimited"
            if error in REFUSALS:
                raise
            _log.warning("chat.stopStream failed (%s); posting the rest of the answer instead", error)
            if piece:
                await self._client.chat_postMessage(
                    channel=self._target.channel, thread_ts=self._target.thread_ts, markdown_text=piece
                )


class EditedMessage:
    """One message posted with ``chat.postMessage`` and rewritten with ``chat.update``."""

    edit_turn = finish_turn = "chat.update"
    finish_at_once = False

    def __init__(self, client: AsyncWebClient, target: StreamTarget) -> None:
        self._client = client
        self._target = target
        self.ts: str | None = None
        self.sent = 0
        self._shown = ""

    async def show(self, raw: str, *, final: bool) -> None:
        body = defuse_markdown(raw)
        if self.ts is None:
            posted = await self._client.chat_postMessage(
                channel=self._target.channel, thread_ts=self._target.thread_ts, markdown_text=body
            )
            self.ts = str(posted["ts"])
        elif body != self._shown:
            await self._client.chat_update(channel=self._target.channel, ts=self.ts, markdown_text=body)
        self._shown = body


SlackMessage = NativeMessage | EditedMessage
