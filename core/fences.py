"""Fenced code blocks (CommonMark): which one a text ends inside, at any point, in one pass.

The splitter (:mod:`core.text`) must close a fenced block it cuts and reopen it in the
next part; it asks this module, many times per part, which block is open at a position.
:class:`Fences` answers each question by bisection after reading the fence lines once,
so the cost stays linear however hostile the text.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import NamedTuple

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
FENCE_START = re.compile(r" {0,3}(?:```|~~~)")
"""A line that may be a fence line starts like this."""
_FENCE_LINE = re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE)


class OpenFence(NamedTuple):
    """An open fenced block: its opening line (trailing whitespace removed), marker and where it starts."""

    line: str
    marker: str
    start: int


def open_fence(text: str) -> str | None:
    """The opening line of the fenced block ``text`` ends inside, so a continuation can reopen it.

    Follows CommonMark: up to 3 spaces of indent, ``` or ~~~ (3 or more), and a closing fence of the
    same character at least as long with nothing after it. Trailing whitespace is not returned.
    """
    state = fence_state(text)
    return state.line if state else None


def fence_state(text: str) -> OpenFence | None:
    state = None
    for match in _FENCE_LINE.finditer(text):
        start = match.start()
        end = text.find("\n", start)
        state = _after_line(state, text[start : end if end >= 0 else len(text)], start)
    return state


def _after_line(state: OpenFence | None, line: str, start: int) -> OpenFence | None:
    """The fence state once ``line`` (starting at ``start``) has been read."""
    match = _FENCE.fullmatch(line.rstrip())
    if match is None:
        return state
    marker, info = match.groups()
    if state is None:
        return None if marker[0] == "`" and "`" in info else OpenFence(line.rstrip(), marker, start)
    if marker[0] == state.marker[0] and len(marker) >= len(state.marker) and not info.strip():
        return None
    return state


class Fences:
    """The fence state anywhere in a text, from one pass over its fence lines."""

    def __init__(self, text: str, reach: int) -> None:
        """Reads the fence lines that start before ``reach``: in a part's window, what lies past the limit
        is the whitespace run at the limit, which holds no fence line."""
        self._text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        self._before: list[OpenFence | None] = []
        self._after: list[OpenFence | None] = []
        state = None
        for match in _FENCE_LINE.finditer(text, 0, reach):
            start = match.start()
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            self.starts.append(start)
            self.ends.append(end)
            self._before.append(state)
            state = _after_line(state, text[start:end], start)
            self._after.append(state)

    def state(self, pos: int) -> OpenFence | None:
        """``open_fence``'s state for ``text[:pos]``."""
        i = bisect_left(self.starts, pos) - 1
        if i < 0:
            return None
        if pos > self.ends[i]:
            return self._after[i]
        return _after_line(self._before[i], self._text[self.starts[i] : pos], self.starts[i])

    def on_fence_line(self, pos: int) -> bool:
        """Whether ``pos`` lies on a line that starts like a fence (past its first character)."""
        i = bisect_left(self.starts, pos) - 1
        return i >= 0 and pos <= self.ends[i]
