"""Text made safe to print on a terminal: control sequences and characters removed.

Model output (and anything quoting it) is untrusted. Printed raw, an escape
sequence could clear the screen (CSI ``ESC[2J``), retitle the window or write
the clipboard (OSC), plant a link whose target is hidden (OSC 8), or move the
cursor to rewrite what the user already read. Only newline and tab survive;
every other C0/C1 character and every ECMA-48 sequence is dropped.

A stream's deltas may split a sequence anywhere, so :class:`ControlStripper`
keeps its place between pieces. Plain text is passed on at once (never held
back), and each character is examined a bounded number of times: linear in
the input, whatever it holds.
"""

from __future__ import annotations

import enum
import re

_PLAIN = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f]+")
_STRING_BODY = re.compile(r"[^\x07\x1b\x9c\n]+")
_STRING_OPENERS = "]PX^_"  # after ESC: OSC, DCS, SOS, PM, APC
_C1_STRINGS = "\x9d\x90\x98\x9e\x9f"  # the same five as single C1 characters


class _State(enum.Enum):
    TEXT = enum.auto()
    ESCAPE = enum.auto()  # after ESC
    ESCAPE_TAIL = enum.auto()  # ESC, intermediates: waiting for the final byte
    CSI = enum.auto()  # ESC [ or CSI: parameters and intermediates until a final byte
    STRING = enum.auto()  # OSC, DCS, ...: until BEL or ST
    STRING_ESCAPE = enum.auto()  # ESC inside a string: ST (ESC \\) or a new sequence


_RUNS = {
    _State.TEXT: _PLAIN,
    _State.STRING: _STRING_BODY,
    _State.CSI: re.compile(r"[\x20-\x3f]+"),  # parameters and intermediates
    _State.ESCAPE_TAIL: re.compile(r"[\x20-\x2f]+"),  # intermediates
}
"""Runs taken whole rather than a character at a time: plain text is kept, the rest skipped."""


class ControlStripper:
    """Strips terminal control sequences from text fed piece by piece."""

    def __init__(self) -> None:
        self._state = _State.TEXT

    def feed(self, text: str) -> str:
        """The printable part of ``text``, given what came before it."""
        out: list[str] = []
        i = 0
        while i < len(text):
            pattern = _RUNS.get(self._state)
            run = pattern.match(text, i) if pattern else None
            if run:
                if self._state is _State.TEXT:
                    out.append(run.group())
                i = run.end()
            elif self._step(text[i]):
                i += 1
        return "".join(out)

    def _step(self, char: str) -> bool:
        """Advance past one control or sequence character; ``False`` to look at it again as text."""
        code = ord(char)
        state = self._state
        if state is _State.TEXT:
            if char == "\x1b":
                self._state = _State.ESCAPE
            elif char == "\x9b":
                self._state = _State.CSI
            elif char in _C1_STRINGS:
                self._state = _State.STRING
            return True  # any other control character is dropped
        if state is _State.STRING:
            # A newline also ends an unterminated string, so a stray opener costs one line at most.
            self._state = _State.STRING_ESCAPE if char == "\x1b" else _State.TEXT
            return char != "\n"
        if state is _State.STRING_ESCAPE:
            self._state = _State.TEXT if char == "\\" else _State.ESCAPE
            return char == "\\"
        if state is _State.ESCAPE:
            if char == "[":
                self._state = _State.CSI
            elif char in _STRING_OPENERS:
                self._state = _State.STRING
            elif 0x20 <= code <= 0x2F:
                self._state = _State.ESCAPE_TAIL
            else:
                return self._end(0x30 <= code <= 0x7E)
            return True
        if 0x20 <= code <= 0x2F or (state is _State.CSI and 0x30 <= code <= 0x3F):
            return True
        return self._end(0x30 <= code <= 0x7E if state is _State.ESCAPE_TAIL else 0x40 <= code <= 0x7E)

    def _end(self, final: bool) -> bool:
        """Leave a sequence: a final byte is part of it; anything else is text again."""
        self._state = _State.TEXT
        return final


def strip_controls(text: str) -> str:
    """``text`` without control sequences or characters (newline and tab kept)."""
    return ControlStripper().feed(text)
