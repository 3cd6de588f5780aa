"""Checks every command text passes before a handler reads it."""

from __future__ import annotations

from core.errors import UserInputError
from core.messages import text

MAX_INPUT_CHARS = 4000


def checked(raw: str, usage_key: str, locale: str = "en") -> str:
    """The stripped text, or a :class:`UserInputError` when it is empty or oversized."""
    stripped = raw.strip()
    if not stripped:
        raise UserInputError(text(usage_key, locale))
    if len(stripped) > MAX_INPUT_CHARS:
        raise UserInputError(text("too_long", locale, length=len(stripped), limit=MAX_INPUT_CHARS))
    return stripped
