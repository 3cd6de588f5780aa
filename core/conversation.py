"""Chat history values shared by the AI service and the stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Turn:
    """One message of a conversation, as the chat model sees it."""

    role: Literal["user", "assistant"]
    content: str


def conversation_key(platform: str, workspace: str, channel: str, thread: str) -> str:
    """The store key of the conversation living in one thread of one channel."""
    return f"{platform}:{workspace}:{channel}:{thread}"
