"""Chat history values shared by the AI service and the stores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, as the chat model sees it."""

    role: Literal["user", "assistant"]
    content: str


HISTORY_CHARS = 24_000
"""Characters of earlier turns sent with a question: a 1 MB answer must not be resent every time."""
TURN_CHARS = HISTORY_CHARS // 2
"""Characters kept of one stored turn, so at least the last question and answer fit the history."""
ELLIPSIS = "…"


def stored(turn: Turn, limit: int = TURN_CHARS) -> Turn:
    """``turn`` as the store keeps it: its text cut to ``limit`` characters (the start kept)."""
    if len(turn.content) <= limit:
        return turn
    return Turn(turn.role, turn.content[: limit - len(ELLIPSIS)] + ELLIPSIS)


def recent(history: Sequence[Turn], limit: int = HISTORY_CHARS) -> list[Turn]:
    """The newest turns of ``history`` whose text adds up to at most ``limit`` characters."""
    kept: list[Turn] = []
    total = 0
    for turn in reversed(history):
        total += len(turn.content)
        if total > limit:
            break
        kept.append(turn)
    return kept[::-1]


def conversation_key(platform: str, workspace: str, channel: str, thread: str) -> str:
    """The store key of the conversation living in one thread of one channel."""
    return f"{platform}:{workspace}:{channel}:{thread}"
