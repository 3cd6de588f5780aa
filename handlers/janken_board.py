"""What a janken board's button carries: one short string, the same on every platform.

Slack keeps it in a button's ``value``; Discord in its ``custom_id``, which holds at
most 100 characters. So it names ids only, never the opponent ("play again" reads
the opponent from the store's link for the board)::

    jk:<action>:<game>:<round>:<owner>
    jk:rock:0f3c…e9:2:U012ABCDEF
    jk:again:0f3c…e9:0:123456789012345678

``action`` is ``rock``, ``paper``, ``scissors`` or ``again``; ``game`` is the game the
board shows and ``round`` the round it offers (``0`` on a finished board); ``owner`` is
the platform's user id. Ids are at most :data:`ID_CHARS` of ``[A-Za-z0-9_-]`` (game ids
are 32 hex digits, Slack user ids about 11 characters, Discord snowflakes up to 20
digits), so a code is at most :data:`LONGEST` characters.

It is client-side data: a click is checked against the store, never trusted. Decoding
any text either returns a :class:`BoardButton` or raises :class:`UnreadableButton`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import UserInputError
from core.janken import Move
from handlers.port import Board, JankenRequest

PREFIX = "jk"
AGAIN = "again"
ID_CHARS = 32
ROUND_DIGITS = 9
MAX_CHARS = 100
"""Discord's limit for a ``custom_id``."""
_ACTIONS = (*(move.value for move in Move), AGAIN)
LONGEST = len(PREFIX) + max(map(len, _ACTIONS)) + 2 * ID_CHARS + ROUND_DIGITS + 4
"""The longest code :func:`encode` can make (87): four colons join the five fields."""

_ID_PATTERN = rf"[A-Za-z0-9_-]{{1,{ID_CHARS}}}"
_ID = re.compile(_ID_PATTERN)
_ROUND = re.compile(rf"0|[1-9][0-9]{{0,{ROUND_DIGITS - 1}}}")
PATTERN = rf"{PREFIX}:(?:{'|'.join(_ACTIONS)}):{_ID_PATTERN}:[0-9]{{1,{ROUND_DIGITS}}}:{_ID_PATTERN}"
"""A regular expression matching every code :func:`encode` makes (for a platform's button router)."""


class UnreadableButton(ValueError):
    """A button's code this build cannot read. The message says why and never quotes the code."""


@dataclass(frozen=True)
class BoardButton:
    """One button on a board: a move (``None`` for "play again") on ``owner``'s game ``game_id``."""

    move: Move | None
    game_id: str
    round: int
    owner: str

    def request(self, ref: str) -> JankenRequest:
        """What a click on this button asks for, on the board message ``ref``."""
        board = Board(owner=self.owner, game_id=self.game_id, round=self.round, ref=ref)
        if self.move is None:
            return JankenRequest("again", board=board)
        return JankenRequest("play", move=self.move, board=board)


def clicked(code: object, ref: str) -> JankenRequest:
    """What a click on a button carrying ``code`` asks for; a code we cannot read gets a short answer."""
    try:
        return decode(code).request(ref)
    except UnreadableButton as exc:
        raise UserInputError("old_board") from exc


def encode(button: BoardButton) -> str:
    """The code for ``button``; :class:`ValueError` for an id or round no code can hold."""
    if not (_ID.fullmatch(button.game_id) and _ID.fullmatch(button.owner)):
        raise ValueError(f"ids must be 1-{ID_CHARS} characters of [A-Za-z0-9_-]")
    if not 0 <= button.round < 10**ROUND_DIGITS:
        raise ValueError(f"round {button.round} is out of range")
    action = AGAIN if button.move is None else button.move.value
    return f"{PREFIX}:{action}:{button.game_id}:{button.round}:{button.owner}"


def decode(code: object) -> BoardButton:
    """The button ``code`` (untrusted: anything a client sent) describes."""
    if not isinstance(code, str):
        raise UnreadableButton("not text")
    if len(code) > MAX_CHARS:
        raise UnreadableButton(f"longer than {MAX_CHARS} characters")
    fields = code.split(":")
    if fields[0] != PREFIX:
        raise UnreadableButton(f"does not start with {PREFIX}:")
    if len(fields) != 5:
        raise UnreadableButton(f"{len(fields)} fields, not 5")
    _, action, game_id, round_, owner = fields
    if action not in _ACTIONS:
        raise UnreadableButton("unknown action")
    if not _ROUND.fullmatch(round_):
        raise UnreadableButton("the round is not a number")
    if not _ID.fullmatch(game_id):
        raise UnreadableButton("malformed game id")
    if not _ID.fullmatch(owner):
        raise UnreadableButton("malformed owner id")
    move = None if action == AGAIN else Move(action)
    return BoardButton(move, game_id, int(round_), owner)
