"""The Reply port on Slack: messages, threads, streams, uploads and game boards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_app import render
from bot.slack_app.live_message import StreamTarget
from bot.slack_app.stream import SlackStreamer
from core.ai import GeneratedImage
from core.errors import Unavailable, UpstreamError
from core.messages import text
from handlers.janken_text import describe
from handlers.port import GameView

_log = logging.getLogger(__name__)
Respond = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class SlackPlace:
    """Where a command came from: workspace, channel, user, and the board message clicked, if any."""

    team: str
    channel: str
    user: str
    thread_ts: str | None = None
    board_ts: str | None = None
    locale: str = "en"


def board_ref(channel: str, ts: str) -> str:
    """How the handlers (and the store) name a Slack board message: its channel and timestamp."""
    return f"{channel}:{ts}"


UNREACHABLE = (aiohttp.ClientError, asyncio.TimeoutError)
"""What slack_sdk raises when Slack cannot be reached (after its own retries)."""


@contextlib.contextmanager
def slack_errors() -> Iterator[None]:
    """Slack Web API failures become our own errors, with the cause kept."""
    try:
        yield
    except SlackApiError as exc:
        raise UpstreamError("slack_failed", error=exc.response.get("error", "unknown")) from exc
    except UNREACHABLE as exc:
        raise Unavailable("slack_unreachable") from exc


class SlackReply:
    """Talks back into the channel (and thread) the command came from."""

    def __init__(
        self,
        client: AsyncWebClient,
        place: SlackPlace,
        streamer: SlackStreamer,
        respond: Respond | None = None,
    ) -> None:
        self._client = client
        self._place = place
        self._streamer = streamer
        self._respond = respond

    async def post_text(self, message: str) -> None:
        with slack_errors():
            await self._client.chat_postMessage(
                channel=self._place.channel,
                thread_ts=self._place.thread_ts,
                text=render.escape_mrkdwn(message),
            )

    async def send_private(self, message: str) -> None:
        await send_ephemeral(self._client, self._place, message, self._respond)

    async def start_thread(self, title: str) -> str:
        line = text("question_from", self._place.locale, user=f"<@{self._place.user}>")
        with slack_errors():
            posted = await self._client.chat_postMessage(
                channel=self._place.channel, text=f"{line}\n{render.to_mrkdwn(title)}"
            )
        return str(posted["ts"])

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        """Stream into ``thread``; no refs, as the thread itself is the conversation."""
        target = StreamTarget(self._place.team, self._place.channel, thread, self._place.user)
        with slack_errors():
            await self._streamer.stream(target, deltas)
        return []

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        comment = text(
            "image_comment",
            self._place.locale,
            caption=render.escape_mrkdwn(caption),
            user=f"<@{self._place.user}>",
        )
        with slack_errors():
            uploaded = await self._client.files_upload_v2(
                channel=self._place.channel,
                thread_ts=self._place.thread_ts,
                content=image.data,
                filename=image.filename(caption),
                title=caption,
                initial_comment=comment,
            )
        return str(uploaded["files"][0]["id"])

    async def show_game(self, view: GameView, *, edit_clicked: bool = False) -> str:
        """Post the board, or edit the clicked one when asked; the shown message's :func:`board_ref`."""
        blocks = render.game_blocks(view, owner=self._place.user, locale=self._place.locale)
        fallback = render.escape_mrkdwn(describe(view, self._place.locale))
        with slack_errors():
            if edit_clicked and self._place.board_ts:
                shown = await self._client.chat_update(
                    channel=self._place.channel, ts=self._place.board_ts, blocks=blocks, text=fallback
                )
            else:
                shown = await self._client.chat_postMessage(
                    channel=self._place.channel, thread_ts=self._place.thread_ts, blocks=blocks, text=fallback
                )
        return board_ref(str(shown["channel"]), str(shown["ts"]))

    @contextlib.asynccontextmanager
    async def progress(self, message: str) -> AsyncIterator[None]:
        """A status message in the channel, deleted when the work ends (however it ends).

        A failed delete is logged rather than raised, so it never hides the work's own error.
        """
        status = text("progress", self._place.locale, message=render.escape_mrkdwn(message))
        with slack_errors():
            posted = await self._client.chat_postMessage(
                channel=self._place.channel, thread_ts=self._place.thread_ts, text=status
            )
        try:
            yield
        finally:
            try:
                await self._client.chat_delete(channel=self._place.channel, ts=posted["ts"])
            except (SlackApiError, *UNREACHABLE):
                _log.warning("could not remove a progress message", exc_info=True)


async def send_ephemeral(
    client: AsyncWebClient, place: SlackPlace, message: str, respond: Respond | None
) -> None:
    """Show ``message`` to the user alone: through ``response_url`` when there is one that works.

    Without one (Bolt's ``respond`` raises ValueError when the payload has no ``response_url``),
    or when it fails, the message is posted with ``chat.postEphemeral``.
    """
    safe = render.escape_mrkdwn(message)
    if respond is not None:
        try:
            answer = await respond(text=safe, response_type="ephemeral", replace_original=False)
        except UNREACHABLE as exc:
            _log.warning("response_url failed (%r); posting the message ephemerally", exc)
        except ValueError as exc:  # Bolt: "respond is unsupported here as there is no response_url"
            _log.info("no response_url to answer through (%s); posting the message ephemerally", exc)
        else:
            status = getattr(answer, "status_code", 200)
            if status == 200:
                return
            _log.warning("response_url refused a message (%s); posting it ephemerally", status)
    with slack_errors():
        await client.chat_postEphemeral(
            channel=place.channel, user=place.user, text=safe, thread_ts=place.thread_ts
        )
