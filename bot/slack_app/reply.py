"""The Reply port on Slack: messages, threads, streams, uploads and game boards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_app import render
from bot.slack_app.live_message import StreamTarget
from bot.slack_app.stream import SlackStreamer
from core.ai import GeneratedImage
from core.errors import Unavailable, UpstreamError
from core.messages import text
from handlers import janken_card
from handlers.janken_text import describe
from handlers.port import GameView, PageButton

_log = logging.getLogger(__name__)
Respond = Callable[..., Awaitable[object]]


@dataclass(frozen=True)
class SlackPlace:
    """Where a command came from: workspace, channel, user, and the board message clicked, if any
    (with the file of the battle card it shows)."""

    team: str
    channel: str
    user: str
    thread_ts: str | None = None
    board_ts: str | None = None
    board_card: str | None = None
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

    async def send_private_page(self, message: str, buttons: Sequence[PageButton]) -> None:
        blocks = render.page_blocks(message, buttons)
        await send_ephemeral(self._client, self._place, message, self._respond, blocks=blocks)

    async def start_thread(self, title: str) -> str:
        line = text("question_from", self._place.locale, user=f"<@{self._place.user}>")
        with slack_errors():
            posted = await self._client.chat_postMessage(
                channel=self._place.channel,
                text=f"{line}\n{render.escape_mrkdwn(title)}",
                blocks=render.question_blocks(line, title),
            )
        return str(posted["ts"])

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        """Stream into ``thread``; no refs, as the thread itself is the conversation."""
        place = self._place
        target = StreamTarget(place.team, place.channel, thread, place.user, place.locale)
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
        """Post the board, or edit the clicked one when asked; the shown message's :func:`board_ref`.

        A card Slack will not show (``invalid_blocks``: a file it has not processed yet, or one
        it will not show in this channel) is left out rather than losing the round's board.
        A card no board shows any more (the clicked board's last one, or one left out) is deleted,
        so a game played by its buttons leaves one card file in the workspace, not one per round
        (a text move posts a new board, whose card stays with it).
        """
        card_file = await self._upload_card(view) if view.card else None
        edit = self._place.board_ts if edit_clicked else None
        try:
            shown = await self._show_board(view, card_file, edit=edit)
        except UpstreamError as exc:
            cause = exc.__cause__
            refused = isinstance(cause, SlackApiError) and cause.response.get("error") == "invalid_blocks"
            if card_file is None or not refused:
                await self._discard(card_file)
                raise
            _log.warning("Slack refused the battle card %s; the board goes without it", card_file)
            await self._discard(card_file)
            card_file = None
            shown = await self._show_board(view, None, edit=edit)
        if edit and self._place.board_card not in (None, card_file):
            await self._discard(self._place.board_card)
        return board_ref(str(shown["channel"]), str(shown["ts"]))

    async def _discard(self, card_file: str | None) -> None:
        """Delete a card file no board shows; a failure is logged, never raised (the round is played)."""
        if card_file is None:
            return
        try:
            with slack_errors():
                await self._client.files_delete(file=card_file)
        except (UpstreamError, Unavailable):
            _log.warning("the old battle card %s could not be deleted", card_file, exc_info=True)

    async def _show_board(self, view: GameView, card_file: str | None, *, edit: str | None) -> Any:
        """Post the board, or update the board message ``edit`` (its ts)."""
        blocks = render.game_blocks(
            view, owner=self._place.user, locale=self._place.locale, card_file=card_file
        )
        fallback = render.escape_mrkdwn(describe(view, self._place.locale))
        with slack_errors():
            if edit:
                return await self._client.chat_update(
                    channel=self._place.channel, ts=edit, blocks=blocks, text=fallback
                )
            return await self._client.chat_postMessage(
                channel=self._place.channel, thread_ts=self._place.thread_ts, blocks=blocks, text=fallback
            )

    async def _upload_card(self, view: GameView) -> str | None:
        """Upload the board's battle card, shared with no channel (the board's image block shows it).

        ``None`` if Slack refuses it: the round is played already, and its board matters more.
        """
        game = view.game
        try:
            with slack_errors():
                uploaded = await self._client.files_upload_v2(
                    content=view.card,
                    filename=f"janken-{game.game_id}-{game.rounds_played}.png",
                    title=janken_card.alt_text(view, self._place.locale),
                )
        except (UpstreamError, Unavailable):
            _log.warning("the battle card could not be uploaded; the board goes without it", exc_info=True)
            return None
        return str(uploaded["files"][0]["id"])

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
    client: AsyncWebClient,
    place: SlackPlace,
    message: str,
    respond: Respond | None,
    *,
    blocks: list[dict[str, Any]] | None = None,
) -> None:
    """Show ``message`` to the user alone: through ``response_url`` when there is one that works.

    Without one (Bolt's ``respond`` raises ValueError when the payload has no ``response_url``),
    or when it fails, the message is posted with ``chat.postEphemeral``.
    """
    safe = render.escape_mrkdwn(message)
    if respond is not None:
        try:
            answer = await respond(text=safe, blocks=blocks, response_type="ephemeral", replace_original=False)
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
            channel=place.channel, user=place.user, text=safe, blocks=blocks, thread_ts=place.thread_ts
        )
