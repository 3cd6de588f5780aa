"""Checks every command text passes before a handler reads it."""

from __future__ import annotations

from core.errors import UserInputError

MAX_INPUT_CHARS = 4000


def checked(raw: str, usage_key: str) -> str:
    """The stripped text, or a :class:`UserInputError` when it is empty or oversized."""
    stripped = raw.strip()
    if not stripped:
        raise UserInputError(usage_key)
    if len(stripped) > MAX_INPUT_CHARS:
        raise UserInputError("too_long", length=len(stripped), limit=MAX_INPUT_CHARS)
    return stripped
