"""What a /history button carries: one short string, the same on every platform.

Slack keeps it in a button's ``value``, Discord in its ``custom_id``::

    hs:<action>:<number>:<owner>
    hs:page:2:U012ABCDEF      show page 2
    hs:clear:0:U012ABCDEF     delete the log (the button is the confirmation)

It is client-side data: the clicker must be the owner, and a page past the end shows the last.
"""

from __future__ import annotations

import re
from typing import Literal, cast

from core.errors import UserInputError

PREFIX = "hs"
ButtonAction = Literal["page", "clear"]
ID_CHARS = 32
PATTERN = rf"{PREFIX}:(?:page|clear):[0-9]{{1,7}}:[A-Za-z0-9_-]{{1,{ID_CHARS}}}"
"""A regular expression matching every code :func:`encode` makes (for a platform's button router)."""
_CODE = re.compile(rf"{PREFIX}:(page|clear):([0-9]{{1,7}}):([A-Za-z0-9_-]{{1,{ID_CHARS}}})")


def encode(action: ButtonAction, number: int, owner: str) -> str:
    return f"{PREFIX}:{action}:{number}:{owner}"


def decode(code: object) -> tuple[ButtonAction, int, str]:
    """The action, page number and owner a button carries; for any other text, a usage error
    saying the buttons come from an older version of the bot."""
    match = _CODE.fullmatch(code) if isinstance(code, str) else None
    if match is None:
        raise UserInputError("old_history_buttons")
    return cast(ButtonAction, match[1]), int(match[2]), match[3]
