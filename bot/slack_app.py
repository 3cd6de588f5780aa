"""The Slack platform: one Bolt ``AsyncApp`` with every listener registered in one place.

Listeners translate Slack payloads into a neutral :class:`~handlers.port.Command`,
acknowledge within Slack's 3 seconds, then run the shared handler with a
:class:`~bot.slack_reply.SlackReply`. One error handler turns our errors into
a private message to the person who asked; no traceback reaches Slack.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import slack_render
from bot.slack_reply import Respond, SlackPlace, SlackReply, send_ephemeral
from bot.slack_stream import SlackStreamer
from core.errors import BotError
from core.janken import Move, Opponent
from core.messages import text
from handlers import janken
from handlers.port import Board, Command, JankenRequest, Services
from handlers.registry import HANDLERS

_log = logging.getLogger(__name__)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
COMMANDS = ("ask", "draw", "janken", "help")
DM_CONVERSATION = "dm"
"""In a DM every message continues one conversation, threaded or not."""


def build_app(
    client: AsyncWebClient, signing_secret: str, services: Services, streamer: SlackStreamer
) -> AsyncApp:
    """The Bolt app for one workspace token, with every listener registered."""
    app = AsyncApp(client=client, signing_secret=signing_secret, logger=logging.getLogger("bot.slack.bolt"))
    register(app, services, streamer)
    return app


def register(app: AsyncApp, services: Services, streamer: SlackStreamer) -> None:
    """Every Slack listener, in one place."""

    async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Respond) -> None:
        name = body["command"].lstrip("/")
        if name == "ask":  # the question appears only with the first words of the answer
            await ack(response_type="ephemeral", text=text("thinking"))
        else:
            await ack()
        place = SlackPlace(body["team_id"], body["channel_id"], body["user_id"])
        command = Command(
            "slack",
            place.team,
            place.channel,
            place.user,
            body.get("text", ""),
            user_name=body.get("user_name", ""),
            request_id=body.get("trigger_id", ""),
        )
        await HANDLERS[name](command, SlackReply(client, place, streamer, respond), services)

    for name in COMMANDS:
        app.command(f"/{name}")(on_command)

    async def on_move(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        await ack()
        state = json.loads(action["value"])
        move = Move(slack_render.MOVE_ACTION.match(action["action_id"]).group(1))  # type: ignore[union-attr]
        board = Board(owner=state["u"], game_id=state["g"], round=int(state["r"]))
        await _run_janken(JankenRequest("play", move=move, board=board), body, client, respond)

    async def on_again(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        await ack()
        state = json.loads(action["value"])
        opponent = Opponent(state["o"], image_ref=state.get("i")) if state.get("o") else None
        request = JankenRequest("again", board=Board(owner=state["u"]), opponent=opponent)
        await _run_janken(request, body, client, respond)

    async def _run_janken(
        request: JankenRequest, body: dict[str, Any], client: AsyncWebClient, respond: Respond
    ) -> None:
        user = body["user"]
        place = SlackPlace(
            body["team"]["id"],
            body["channel"]["id"],
            user["id"],
            thread_ts=body["message"].get("thread_ts"),
            board_ts=body["message"]["ts"],
        )
        command = Command(
            "slack",
            place.team,
            place.channel,
            place.user,
            "",
            user_name=user.get("name") or user.get("username", ""),
            request_id=body["actions"][0].get("action_ts", ""),
        )
        await janken.run(request, command, SlackReply(client, place, streamer, respond), services)

    app.action(slack_render.MOVE_ACTION)(on_move)
    app.action(slack_render.AGAIN_ACTION)(on_again)

    async def on_mention(event: dict[str, Any], client: AsyncWebClient) -> None:
        await _ask_from_message(event, client)

    async def on_message(event: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("channel_type") == "im" and not event.get("subtype") and not event.get("bot_id"):
            await _ask_from_message(event, client, conversation=DM_CONVERSATION)

    async def _ask_from_message(
        event: dict[str, Any], client: AsyncWebClient, conversation: str | None = None
    ) -> None:
        """A mention (the thread is the conversation) or a DM (the whole DM is); answers go in the thread."""
        thread = event.get("thread_ts") or event["ts"]
        place = SlackPlace(event.get("team", ""), event["channel"], event["user"], thread_ts=thread)
        question = _MENTION.sub("", event.get("text", "")).strip()
        command = Command(
            "slack",
            place.team,
            place.channel,
            place.user,
            question,
            thread=thread,
            conversation=conversation,
            request_id=event.get("client_msg_id") or event["ts"],
        )
        await HANDLERS["ask"](command, SlackReply(client, place, streamer), services)

    app.event("app_mention")(on_mention)
    app.event("message")(on_message)

    async def on_error(
        error: Exception, body: dict[str, Any], client: AsyncWebClient, respond: Respond | None = None
    ) -> None:
        if isinstance(error, BotError):
            message = error.user_message
            _log.info("answered with %s: %s", type(error).__name__, message)
        else:
            message = text("internal_error")
            _log.error("listener failed", exc_info=error)
        place = _place_of(body)
        if place is None:
            return
        await send_ephemeral(client, place, message, respond)

    app.error(on_error)


def _place_of(body: dict[str, Any]) -> SlackPlace | None:
    """Where to tell the user about a failure, from any payload we listen to."""
    if "command" in body:
        return SlackPlace(body["team_id"], body["channel_id"], body["user_id"])
    if body.get("type") == "block_actions":
        return SlackPlace(body["team"]["id"], body["channel"]["id"], body["user"]["id"])
    event = body.get("event") or {}
    if event.get("channel") and event.get("user"):
        return SlackPlace(
            body.get("team_id", ""),
            event["channel"],
            event["user"],
            thread_ts=event.get("thread_ts") or event.get("ts"),
        )
    return None
