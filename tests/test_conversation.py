"""Conversation history sent to the model and stored: capped by size, not only by turns."""

from __future__ import annotations

from core.conversation import Turn, recent, stored


def test_recent_keeps_the_newest_turns_that_fit() -> None:
    history = [Turn("user", "a" * 10), Turn("assistant", "b" * 10), Turn("user", "c" * 10)]
    assert recent(history, limit=25) == history[1:]
    assert recent(history, limit=30) == history
    assert recent(history, limit=5) == []


def test_a_huge_answer_is_stored_cut_and_never_resent_whole() -> None:
    huge = Turn("assistant", "x" * 1_000_000)
    kept = stored(huge, limit=24_000)
    assert len(kept.content) == 24_000 and kept.content.endswith("…") and kept.role == "assistant"
    assert stored(Turn("user", "short")) == Turn("user", "short")
    history = [Turn("user", "q1"), kept, Turn("user", "q2"), Turn("assistant", "a2")]
    assert sum(len(t.content) for t in recent(history, limit=24_000)) <= 24_000
