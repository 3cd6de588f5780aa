"""The shared live-stream engine on a recording target: no platform, no fakes of servers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.live_stream import LiveMessage, LiveStream
from core.errors import Unavailable
from core.messages import text
from core.text import open_fence


class Message:
    """A message that remembers every text it was shown."""

    edit_turn, finish_turn, finish_at_once = "edit", "finish", False

    def __init__(self) -> None:
        self.sent = 0
        self.shown: list[str] = []
        self.finished = False

    async def show(self, raw: str, *, final: bool) -> None:
        assert not self.finished, "a finished message was written to"
        self.shown.append(raw)
        self.finished = final


class Target:
    cut_reason = "slack_cut"

    def __init__(self, limit: int = 1000) -> None:
        self.messages: list[Message] = []
        self._limit = limit

    async def opening_turn(self, *, finished: bool) -> str:
        return "open"

    def limit(self, raw: str, opening: str, message: LiveMessage | None) -> int:
        return self._limit

    async def open(self, raw: str, *, final: bool, opening: str) -> LiveMessage:
        message = Message()
        self.messages.append(message)
        await message.show(raw, final=final)
        return message


class Pacer:
    min_interval = 0.05

    def __init__(self) -> None:
        self.turns: list[str] = []

    async def turn(self, kind: str) -> None:
        self.turns.append(kind)

    @contextlib.contextmanager
    def prepaid(self, kind: str) -> Iterator[None]:
        yield


async def deltas(parts: list[str], delay: float = 0.01, fail: Exception | None = None) -> AsyncIterator[str]:
    for part in parts:
        await asyncio.sleep(delay)
        yield part
    if fail is not None:
        raise fail


async def test_an_answer_streams_in_coalesced_edits_and_ends_complete() -> None:
    target, pacer = Target(), Pacer()
    parts = [f"w{i} " for i in range(40)]
    await LiveStream(target, pacer).run(deltas(parts))
    [message] = target.messages
    assert message.shown[-1] == "".join(parts) and message.finished
    assert 2 <= len(message.shown) < len(parts)  # shown in part first, and fewer writes than deltas
    assert all(b.startswith(a) for a, b in zip(message.shown, message.shown[1:], strict=False))


async def test_an_overlong_answer_continues_in_further_messages_with_valid_fences() -> None:
    target = Target(limit=120)
    body = "```python\n" + "".join(f"x = {i}  # a line of code\n" for i in range(30)) + "```\nDone."
    await LiveStream(target, Pacer()).run(deltas([body[i : i + 40] for i in range(0, len(body), 40)], 0))
    finals = [m.shown[-1] for m in target.messages]
    assert len(finals) >= 3 and all(len(text) <= 120 for text in finals)
    assert all(open_fence(text) is None for text in finals)  # each part closes what it opens
    assert all(m.finished for m in target.messages)
    code_lines = [line for text in finals for line in text.splitlines() if line.startswith("x = ")]
    assert len(code_lines) == 30 and finals[-1].endswith("Done.")


async def test_a_model_failure_midway_is_marked_in_the_message_and_raised() -> None:
    target = Target()
    with pytest.raises(Unavailable):
        await LiveStream(target, Pacer()).run(deltas(["part one. "], fail=Unavailable("ai_unavailable")))
    [message] = target.messages
    assert message.finished and message.shown[-1].startswith("part one.")
    assert "cut off" in message.shown[-1]


async def test_the_note_is_in_the_readers_language() -> None:
    target = Target()
    failing = deltas(["一つ目。"], fail=Unavailable("ai_unavailable"))
    with pytest.raises(Unavailable):
        await LiveStream(target, Pacer(), locale="ja").run(failing)
    [message] = target.messages
    reason = Unavailable("ai_unavailable").message("ja")
    assert message.shown[-1].endswith(text("answer_interrupted", "ja", reason=reason) + "_")


async def test_a_cancelled_stream_is_closed_with_a_note() -> None:
    target = Target()
    running = asyncio.create_task(LiveStream(target, Pacer()).run(deltas(["a. "] * 100, delay=0.02)))
    await asyncio.sleep(0.2)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    [message] = target.messages
    assert message.finished and "restarting" in message.shown[-1]


async def test_an_answer_whose_overflow_is_only_whitespace_opens_no_empty_message() -> None:
    target = Target(limit=100)
    answer = "word " * 20 + "\n\n\n"  # 103 characters: past the cut at 100 there are only blanks
    await LiveStream(target, Pacer()).run(deltas([answer], 0))
    shown = [m.shown[-1] for m in target.messages]
    assert all(text.strip() for text in shown) and all(m.finished for m in target.messages)
    assert " ".join(" ".join(shown).split()) == " ".join(answer.split())
