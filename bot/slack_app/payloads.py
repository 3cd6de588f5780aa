"""Slack payloads as neutral commands: pure translators, tested without Slack.

A slash command, a click on a board and a mention or DM each become the place
to answer (:class:`~bot.slack_app.reply.SlackPlace`) and a
:class:`~handlers.port.Command`; :func:`place_of` finds where to tell a user
about a failure from any payload we listen to.

A payload is signed by Slack, so it is no forgery, but Bolt takes its shape on trust.
The fields that say where to answer (team, channel, user, message ts) and the text
must be what Slack documents, non-empty strings (text may be empty); a payload
without them is :class:`MalformedPayload`, and nothing is said to it: its
translator raises, and :func:`place_of` names no place.
"""

from __future__ import annotations

import re
from typing import Any

from bot.slack_app.render import CARD_BLOCK
from bot.slack_app.reply import SlackPlace, board_ref
from handlers import janken_board
from handlers.port import Command, JankenRequest

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class MalformedPayload(ValueError):
    """A signed payload whose fields are missing, or not of the types Slack documents."""


def _id(value: object, name: str) -> str:
    """A field naming a team, channel, user or message: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{name} is not a non-empty string")
    return value


def _text(value: object, name: str) -> str:
    """Text a user typed: a string (``None`` or absent: empty)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{name} is not a string")
    return value


def _extra(value: object) -> str:
    """A field we only pass along (a name, a delivery id): itself if a string, else empty."""
    return value if isinstance(value, str) else ""


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{name} is not an object")
    return value


def from_slash_command(body: dict[str, Any]) -> tuple[SlackPlace, Command]:
    place = SlackPlace(
        _id(body.get("team_id"), "team_id"),
        _id(body.get("channel_id"), "channel_id"),
        _id(body.get("user_id"), "user_id"),
    )
    command = Command(
        "slack",
        place.team,
        place.channel,
        place.user,
        _text(body.get("text"), "text"),
        user_name=_extra(body.get("user_name")),
        request_id=_extra(body.get("trigger_id")),
    )
    return place, command


def from_click(body: dict[str, Any], action: dict[str, Any]) -> tuple[SlackPlace, Command, JankenRequest]:
    """A button on a board message: the request names that message, which the reply may edit."""
    place = _click_place(body)
    command = _clicker(body, action, place)
    # The code in the button's value says what it does (the action id only routes the click to us).
    ref = board_ref(place.channel, place.board_ts or "")
    return place, command, janken_board.clicked(action.get("value"), ref)


def from_page_click(body: dict[str, Any], action: dict[str, Any]) -> tuple[SlackPlace, Command, str]:
    """A button under a private /history page: who clicked where, and the code the button carries."""
    user = _object(body.get("user"), "user")
    channel = body.get("channel") or {"id": _object(body.get("container"), "container").get("channel_id")}
    place = SlackPlace(
        _id(_object(body.get("team"), "team").get("id"), "team.id"),
        _id(_object(channel, "channel").get("id"), "channel.id"),
        _id(user.get("id"), "user.id"),
    )
    return place, _clicker(body, action, place), _extra(action.get("value"))


def _clicker(body: dict[str, Any], action: dict[str, Any], place: SlackPlace) -> Command:
    """The command a button click carries: who clicked, where, once per click (``action_ts``)."""
    user = _object(body.get("user"), "user")
    return Command(
        "slack",
        place.team,
        place.channel,
        place.user,
        "",
        user_name=_extra(user.get("name")) or _extra(user.get("username")),
        request_id=_extra(action.get("action_ts")),
    )


def from_message_action(body: dict[str, Any]) -> tuple[SlackPlace, Command]:
    """A message shortcut (Transcribe): answers go in the message's thread (or start one)."""
    message = _object(body.get("message"), "message")
    ts = _id(message.get("ts"), "message.ts")
    thread = message.get("thread_ts") or None
    thread = ts if thread is None else _id(thread, "message.thread_ts")
    user = _object(body.get("user"), "user")
    place = SlackPlace(
        _id(_object(body.get("team"), "team").get("id"), "team.id"),
        _id(_object(body.get("channel"), "channel").get("id"), "channel.id"),
        _id(user.get("id"), "user.id"),
        thread_ts=thread,
    )
    command = Command(
        "slack",
        place.team,
        place.channel,
        place.user,
        "",
        thread=thread,
        user_name=_extra(user.get("name")) or _extra(user.get("username")),
        request_id=_extra(body.get("trigger_id")),
    )
    return place, command


def _click_place(body: dict[str, Any]) -> SlackPlace:
    """Where a click came from: the board message (which the reply may edit) and its thread."""
    message = _object(body.get("message"), "message")
    thread = message.get("thread_ts") or None  # "" or absent: not in a thread
    return SlackPlace(
        _id(_object(body.get("team"), "team").get("id"), "team.id"),
        _id(_object(body.get("channel"), "channel").get("id"), "channel.id"),
        _id(_object(body.get("user"), "user").get("id"), "user.id"),
        None if thread is None else _id(thread, "message.thread_ts"),
        board_ts=_id(message.get("ts"), "message.ts"),
        board_card=_card_file(message.get("blocks")),
    )


def _card_file(blocks: object) -> str | None:
    """The file id of the battle card a clicked board shows, if it shows one we put there."""
    for block in blocks if isinstance(blocks, list) else ():
        if isinstance(block, dict) and block.get("block_id") == CARD_BLOCK and block.get("type") == "image":
            shown = block.get("slack_file")
            file_id = shown.get("id") if isinstance(shown, dict) else None
            return file_id if isinstance(file_id, str) and file_id else None
    return None


def from_message(
    event: dict[str, Any], *, team: str, conversation: str | None = None
) -> tuple[SlackPlace, Command]:
    """A mention (its thread is the conversation) or a DM (the whole DM is); answers go in the thread."""
    ts = _id(event.get("ts"), "event.ts")
    thread = event.get("thread_ts") or None  # "" or absent: not in a thread
    thread = ts if thread is None else _id(thread, "event.thread_ts")
    place = SlackPlace(
        _id(team, "team_id"), _id(event.get("channel"), "event.channel"), _id(event.get("user"), "event.user"),
        thread_ts=thread,
    )  # fmt: skip
    command = Command(
        "slack",
        place.team,
        place.channel,
        place.user,
        _MENTION.sub("", _text(event.get("text"), "event.text")).strip(),
        thread=thread,
        conversation=conversation,
        request_id=_extra(event.get("client_msg_id")) or ts,
    )
    return place, command


def place_of(body: dict[str, Any]) -> SlackPlace | None:
    """Where to tell the user about a failure, from any payload we listen to; None if it names none.

    The place is the one the payload's translator finds, so a malformed payload, which no
    translator takes, is told nothing.
    """
    try:
        if "command" in body:
            return from_slash_command(body)[0]
        if body.get("type") == "block_actions":
            return _click_place(body)
        if body.get("type") == "message_action":
            return from_message_action(body)[0]
        event = body.get("event")
        if isinstance(event, dict) and event.get("channel") and event.get("user"):
            return from_message(event, team=_extra(body.get("team_id")))[0]
    except (MalformedPayload, KeyError, TypeError, AttributeError):  # signed, but not shaped as documented
        return None
    return None
