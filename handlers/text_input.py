"""Checks every command text passes before a handler reads it, and how long a text is shown."""

from __future__ import annotations

from core.errors import UserInputError

MAX_INPUT_CHARS = 4000
SHOWN_CHARS = 1000
"""The most of a prompt a progress line or caption repeats (Discord's messages hold 2,000)."""


def checked(raw: str, usage_key: str) -> str:
    """The stripped text, or a :class:`UserInputError` when it is empty or oversized."""
    stripped = raw.strip()
    if not stripped:
        raise UserInputError(usage_key)
    if len(stripped) > MAX_INPUT_CHARS:
        raise UserInputError("too_long", length=len(stripped), limit=MAX_INPUT_CHARS)
    return stripped


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` as a progress line or caption repeats it: at most ``limit`` characters, cut with "…"."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
