"""Slack text and Block Kit: Markdown to mrkdwn, ping-proofing, and the game board.

Model output never pings: in mrkdwn ``&``, ``<`` and ``>`` are escaped as Slack
asks, so ``<!channel>`` or ``<@U…>`` cannot form; in Markdown (the native
stream) a word joiner goes between ``<`` and ``!@#``; and in both a word
joiner follows the ``@`` of ``@channel``, ``@here`` and ``@everyone``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.janken import Move
from core.messages import text
from handlers.janken_text import describe, move_label
from handlers.port import GameView

JOINER = "\u2060"
_FENCE = re.compile(r"(```.*?(?:```|$))", re.S)
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.I)
_ANGLE_PING = re.compile(r"<(?=[!@#])")
_UNSTABLE_TAIL = re.compile(r"(?:<|<?@\w*)$")
_MARKDOWN_RULES = [
    (re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M), r"*\1*"),
    (re.compile(r"\*\*(.+?)\*\*"), r"*\1*"),
    (re.compile(r"__(.+?)__"), r"*\1*"),
    (re.compile(r"~~(.+?)~~"), r"~\1~"),
    (re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s|]+)\)"), r"<\2|\1>"),
]
MOVE_ACTION = re.compile(r"^janken_(rock|paper|scissors)$")
AGAIN_ACTION = "janken_again"


def escape_mrkdwn(raw: str) -> str:
    """Escape the three characters Slack reserves, and defuse broadcast words."""
    escaped = raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + JOINER, escaped)


def to_mrkdwn(markdown: str) -> str:
    """Model Markdown as Slack mrkdwn: escaped everywhere, restyled outside code."""
    pieces = []
    for fenced in _FENCE.split(markdown):
        if fenced.startswith("```"):
            pieces.append(escape_mrkdwn(fenced))
            continue
        for part in _INLINE_CODE.split(fenced):
            pieces.append(escape_mrkdwn(part) if part.startswith("`") else _restyle(escape_mrkdwn(part)))
    return "".join(pieces)


def _restyle(escaped: str) -> str:
    for pattern, replacement in _MARKDOWN_RULES:
        escaped = pattern.sub(replacement, escaped)
    return escaped


def defuse_markdown(markdown: str) -> str:
    """Markdown (for ``chat.*Stream``) that cannot form a Slack mention or broadcast."""
    return _BROADCAST.sub("@" + JOINER, _ANGLE_PING.sub("<" + JOINER, markdown))


def stable_length(raw: str) -> int:
    """How much of ``raw`` defuses the same whatever text follows it.

    A trailing ``<`` or ``@word`` may still become a ping with the next delta,
    so streams hold it back until more text (or the end) arrives.
    """
    tail = _UNSTABLE_TAIL.search(raw)
    return tail.start() if tail else len(raw)


def game_blocks(view: GameView, owner: str, locale: str = "en") -> list[dict[str, Any]]:
    """The board: opponent picture, the round's result and HP, then moves or a replay button."""
    blocks: list[dict[str, Any]] = []
    opponent = view.game.opponent
    if opponent.image_ref:
        blocks.append(
            {"type": "image", "slack_file": {"id": opponent.image_ref}, "alt_text": opponent.name[:2000]}
        )
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(describe(view, locale))}}
    )
    if view.finished:
        state = {"u": owner, "o": opponent.name, "i": opponent.image_ref}
        buttons = [_button(text("play_again", locale), AGAIN_ACTION, state, style="primary")]
    else:
        state = {"g": view.game.game_id, "r": view.game.rounds_played + 1, "u": owner}
        buttons = [_button(move_label(move, locale), f"janken_{move.value}", state) for move in Move]
    blocks.append({"type": "actions", "block_id": "janken", "elements": buttons})
    return blocks


def _button(label: str, action_id: str, state: dict[str, Any], style: str | None = None) -> dict[str, Any]:
    button = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": json.dumps(state, separators=(",", ":")),
    }
    if style:
        button["style"] = style
    return button
