"""Slack payloads as neutral commands: pure translators, tested without Slack.

A slash command, a click on a board and a mention or DM each become the place
to answer (:class:`~bot.slack_app.reply.SlackPlace`) and a
:class:`~handlers.port.Command`; :func:`place_of` finds where to tell a user
about a failure from any payload we listen to.
"""

from __future__ import annotations

import re
from typing import Any

from bot.slack_app.reply import SlackPlace, board_ref
from handlers import janken_board
from handlers.port import Command, JankenRequest

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def from_slash_command(body: dict[str, Any]) -> tuple[SlackPlace, Command]:
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
    return place, command


def from_click(body: dict[str, Any], action: dict[str, Any]) -> tuple[SlackPlace, Command, JankenRequest]:
    """A button on a board message: the request names that message, which the reply may edit."""
    user, message = body["user"], body["message"]
    team, channel = body["team"]["id"], body["channel"]["id"]
    place = SlackPlace(team, channel, user["id"], message.get("thread_ts"), board_ts=message["ts"])
    command = Command(
        "slack",
        place.team,
        place.channel,
        place.user,
        "",
        user_name=user.get("name") or user.get("username", ""),
        request_id=action.get("action_ts", ""),
    )
    # The code in the button's value says what it does (the action id only routes the click to us).
    return place, command, janken_board.clicked(action.get("value"), board_ref(channel, message["ts"]))


def from_message(
    event: dict[str, Any], *, team: str, conversation: str | None = None
) -> tuple[SlackPlace, Command]:
    """A mention (its thread is the conversation) or a DM (the whole DM is); answers go in the thread."""
    thread = event.get("thread_ts") or event["ts"]
    place = SlackPlace(team, event["channel"], event["user"], thread_ts=thread)
    command = Command(
        "slack",
        place.team,
        place.channel,
        place.user,
        _MENTION.sub("", event.get("text", "")).strip(),
        thread=thread,
        conversation=conversation,
        request_id=event.get("client_msg_id") or event["ts"],
    )
    return place, command


def place_of(body: dict[str, Any]) -> SlackPlace | None:
    """Where to tell the user about a failure, from any payload we listen to; None if it names none."""
    try:
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
    except (KeyError, TypeError, AttributeError):  # signed, but not shaped as Slack documents it
        return None
    return None
