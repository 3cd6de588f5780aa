"""Slack text and Block Kit: ping-proof Markdown and mrkdwn, and the game board.

Old mrkdwn only sees ``*bold*`` or ``~strike~`` whose marks sit next to a space or
punctuation, so emphasis next to Japanese (CJK has no spaces) shows its asterisks.
So wherever formatting matters it is standard Markdown, which Slack renders
whatever the script: answers go as ``markdown_text`` (streamed, or posted and
edited), and a thread's question and the game board as ``markdown`` blocks.
Captions, progress lines and private notes carry no emphasis, so they stay escaped
mrkdwn text: a file's comment has no Markdown field, and a mention (``<@U…>``)
needs mrkdwn.

Model output never pings: in mrkdwn ``&``, ``<`` and ``>`` are escaped as Slack
asks, so ``<!channel>`` or ``<@U…>`` cannot form; in Markdown a word joiner goes
between ``<`` and ``!@#``; and in both a word joiner follows the ``@`` of
``@channel``, ``@here`` and ``@everyone``.

A link never hides its target. A web link is shown as its label followed by
the host in parentheses (that host links to the URL, so the visible text of
every link is its real host or the URL itself); a link whose label is the URL
is shown as the bare URL. Anything else that could link a label elsewhere (other
schemes, reference definitions, Slack's ``<url|label>`` typed in Markdown) is
left visible as text, broken by a word joiner.

Every function here is linear in its input, since model output is untrusted:
no pattern can rescan the text from every position, because each repeat is
bounded (a link's label, URL and title) or stops at a character it cannot hold
(a line's end, the next delimiter), and ``stable_length`` reads only the tail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from core.janken import Move
from core.messages import text
from handlers import janken_board, janken_card
from handlers.janken_board import BoardButton
from handlers.janken_text import describe, move_label
from handlers.port import GameView, PageButton

JOINER = "\u2060"
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_MARKDOWN_SYNTAX = re.compile(r"[\\`*_~\[\]<>#]")

_URL_CHAR = r"[^\s()<>\[\]{}|\\^`\"']"
_URL_BODY = rf"(?:{_URL_CHAR}|\({_URL_CHAR}{{0,256}}\))"
_LINK = (
    rf"(?P<bang>!?)\[(?P<label>[^\[\]\n]{{0,1000}})\]\([ \t]{{0,16}}"
    rf"(?P<url>(?i:https?)://{_URL_BODY}{{1,2048}})"
    r"""(?:[ \t]{1,16}(?:"[^"\n]{0,300}"|'[^'\n]{0,300}'|\([^()\n]{0,300}\)))?[ \t]{0,16}\)"""
)
_SCHEME = re.compile(r"(?i:https?)://")
_HOST = re.compile(r"(?i:https?)://([A-Za-z0-9.-]{1,253})(?::[0-9]{1,5})?(?=[/?#]|\Z)")

_LINKING_ANGLE = (
    r"<(?=[!@#]|[A-Za-z][A-Za-z0-9+.-]{0,31}://|(?i:www)\."
    r"|(?i:mailto|javascript|vbscript|data|file|tel|sms|callto|slack):)"
)
_MARKDOWN_HAZARD = re.compile(
    rf"{_LINK}|(?P<definition>^ {{0,3}}\[[^\[\]\n]{{0,999}}\])(?=:)|\](?=\()"
    rf"|{_LINKING_ANGLE}|@(?=(?i:channel|here|everyone)\b)",
    re.MULTILINE,
)
_BROADCAST_PREFIXES = "|".join(
    sorted({w[:i] for w in ("channel", "here", "everyone") for i in range(len(w) + 1)}, key=len, reverse=True)
)
_URL_PREFIX = r"(?i:h(?:t(?:t(?:p(?:s?(?::/?)?)?)?)?)?)"
_URL_SO_FAR = rf"(?i:https?)://{_URL_BODY}{{0,2048}}(?:\({_URL_CHAR}{{0,256}})?"
_AFTER_URL = r"""(?:[ \t]{1,16}(?:"[^"\n]{0,300}"?|'[^'\n]{0,300}'?|\([^()\n]{0,300}\)?)?)?[ \t]{0,16}"""
# What the next delta could still turn into a ping, a link or a link's neutralisation.
_PENDING = re.compile(
    r"<(?:[A-Za-z][A-Za-z0-9+.-]{0,31}(?::/?)?)?\Z"
    rf"|<?@(?i:{_BROADCAST_PREFIXES})\Z"
    r"|[\]!]\Z"
    rf"|!?\[[^\[\]\n]{{0,1000}}(?:\](?:\([ \t]{{0,16}}(?:{_URL_PREFIX}|{_URL_SO_FAR}{_AFTER_URL})?)?)?\Z"
)
_PENDING_REACH = 4_096  # longer than anything _PENDING can match
MOVE_ACTION = re.compile(r"^janken_(rock|paper|scissors)$")
AGAIN_ACTION = "janken_again"
CARD_BLOCK = "card"
"""The ``block_id`` of a board's battle card, so a click can tell which file the board showed."""
HISTORY_ACTION = "history_page"
"""Action ids of a /history page's buttons start with this (one id per button in a block)."""
HISTORY_ACTIONS = re.compile(rf"^{HISTORY_ACTION}_[0-9]$")
SECTION_CHARS = 3000
"""Slack's limit for a section block's text."""


def escape_mrkdwn(raw: str) -> str:
    """Escape the three characters Slack reserves, and defuse broadcast words."""
    escaped = raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@" + JOINER, escaped)


def defuse_markdown(markdown: str) -> str:
    """Markdown (answers' ``markdown_text``, ``markdown`` blocks) that cannot form a Slack mention, a
    broadcast or a hidden link."""
    return _MARKDOWN_HAZARD.sub(_defuse, markdown)


def _defuse(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "definition":
        return defuse_markdown(match["definition"]) + JOINER
    if kind != "url":
        return match[0] + JOINER
    label, host, url = match["label"].strip(), _host(match["url"]), defuse_markdown(match["url"])
    if not label or _same_place(label, match["url"]):
        return url
    if host is not None and label.lower() == host:
        return f"[{host}]({url})"
    shown = defuse_markdown(label)
    return f"{shown} ([{host}]({url}))" if host else f"{shown} ({url})"


def _host(url: str) -> str | None:
    """The URL's host, when the URL is plain enough that everyone reads the same host from it."""
    match = _HOST.match(url)
    if match is None:
        return None
    host = match[1].lower()
    labels = host.removesuffix(".").split(".")
    ok = all(0 < len(part) <= 63 and not part.startswith("-") and not part.endswith("-") for part in labels)
    return host if ok else None


def _same_place(label: str, url: str) -> bool:
    """Whether the label is the URL itself, with or without its scheme or a final slash."""
    return _SCHEME.sub("", label, 1).rstrip("/") == _SCHEME.sub("", url, 1).rstrip("/")


def stable_length(raw: str) -> int:
    """How much of ``raw`` defuses the same whatever text follows it.

    A trailing ``<``, ``@here`` in the making or a link not yet closed may still
    become a ping or a link with the next delta, so streams hold it back until more
    text (or the end) arrives. Only the last few thousand characters are looked at.
    """
    pending = _PENDING.search(raw, max(0, len(raw) - _PENDING_REACH))
    end = pending.start() if pending else len(raw)
    while 0 < end < len(raw) and _decided_by_next(raw[end - 1], raw[end]):
        end -= 1
    return end


def _decided_by_next(char: str, following: str) -> bool:
    """Whether defusing ``char`` depends on the character after it, as it does here."""
    if char == "<":
        return following in "!@#" or (following.isascii() and following.isalpha())
    return (char == "]" and following in "(:") or (char == "!" and following == "[")


def escape_markdown(raw: str) -> str:
    """``raw`` shown as it is in a ``markdown`` block: no emphasis, link, heading or ping forms."""
    return _MARKDOWN_SYNTAX.sub(lambda m: "\\" + m[0], defuse_markdown(raw))


def board_markdown(view: GameView, locale: str = "en") -> str:
    """The board's text as Markdown: the round's result in bold, each line a paragraph of its own."""
    lines = [escape_markdown(line) for line in describe(view, locale).split("\n")]
    if view.played is not None:  # describe() opens with the round's result
        lines[0] = f"**{lines[0]}**"
    return "\n\n".join(lines)


def game_blocks(
    view: GameView, owner: str, locale: str = "en", *, card_file: str | None = None
) -> list[dict[str, Any]]:
    """The board: the battle card (an uploaded file) or else the opponent's picture, the round's
    result and HP (a markdown block), then the buttons."""
    blocks: list[dict[str, Any]] = []
    opponent = view.game.opponent
    if card_file:
        alt = janken_card.alt_text(view, locale)[:2000]
        blocks.append({"type": "image", "block_id": CARD_BLOCK, "slack_file": {"id": card_file}, "alt_text": alt})
    elif opponent.image_ref:
        blocks.append(
            {"type": "image", "slack_file": {"id": opponent.image_ref}, "alt_text": opponent.name[:2000]}
        )
    blocks.append({"type": "markdown", "text": board_markdown(view, locale)})
    game_id = view.game.game_id
    if view.finished:
        again = BoardButton(None, game_id, 0, owner)
        buttons = [_button(text("play_again", locale), AGAIN_ACTION, again, style="primary")]
    else:
        buttons = [
            _button(
                move_label(move, locale),
                f"janken_{move.value}",
                BoardButton(move, game_id, view.game.rounds_played + 1, owner),
            )
            for move in Move
        ]
    blocks.append({"type": "actions", "block_id": "janken", "elements": buttons})
    return blocks


def _button(label: str, action_id: str, state: BoardButton, style: str | None = None) -> dict[str, Any]:
    """A button whose value is its :mod:`handlers.janken_board` code; the action id routes it in Bolt."""
    button = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": janken_board.encode(state),
    }
    if style:
        button["style"] = style
    return button


def question_blocks(asked: str, question: str) -> list[dict[str, Any]]:
    """A thread's opening message: who asked (a mention, so mrkdwn), then the question as Markdown."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": asked}},
        {"type": "markdown", "text": defuse_markdown(question)},
    ]


def page_blocks(message: str, buttons: Sequence[PageButton]) -> list[dict[str, Any]]:
    """A private page: its text, then its buttons, each routed by :data:`HISTORY_ACTION`."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(message)[:SECTION_CHARS]}}
    ]
    if buttons:
        elements = [
            {
                "type": "button",
                "action_id": f"{HISTORY_ACTION}_{index}",
                "text": {"type": "plain_text", "text": button.label, "emoji": True},
                "value": button.code,
            }
            for index, button in enumerate(buttons)
        ]
        blocks.append({"type": "actions", "block_id": "history", "elements": elements})
    return blocks
