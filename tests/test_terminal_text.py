"""Stripping terminal control sequences: pure logic, split anywhere, linear on hostile input."""

from __future__ import annotations

import re

import pytest

from bot.terminal_text import ControlStripper, strip_controls

CASES = [
    ("Hi \x1b[2J there", "Hi  there"),
    ("\x1b[38;5;196mred\x1b[0m", "red"),
    ("\x1b[?25lhidden cursor", "hidden cursor"),
    ("\x1b]0;title\x07after", "after"),
    ("\x1b]2;title\x1b\\after", "after"),
    ("\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\", "click"),
    ("\x1b]52;c;c2VjcmV0\x07x", "x"),
    ("\x1bP1$r\x1b\\dcs", "dcs"),
    ("\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\end", "end"),
    ("\x9b31mc1 csi", "c1 csi"),
    ("\x9d0;title\x9cc1 osc", "c1 osc"),
    ("\x1bcreset \x1b7saved \x1b(Bcharset", "reset saved charset"),
    ("a\x00b\x08c\rd\x7fe\x85f\x9cg", "abcdefg"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
    ("\x1b]never ended\nnext line", "\nnext line"),
    ("\x1b[12\nbroken csi", "\nbroken csi"),
    ("\x1b\x1b[1mbold", "bold"),
    ("\x1b]0;a\x1b]0;b\x07c", "c"),
    ("ESC at the end\x1b", "ESC at the end"),
    ("日本語 ✊ émoji 🎉", "日本語 ✊ émoji 🎉"),
]
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_sequences_and_control_characters_are_dropped(raw: str, shown: str) -> None:
    assert strip_controls(raw) == shown


@pytest.mark.parametrize(("raw", "shown"), CASES)
def test_a_sequence_split_between_deltas_is_still_dropped(raw: str, shown: str) -> None:
    for cut in range(len(raw) + 1):
        stripper = ControlStripper()
        assert stripper.feed(raw[:cut]) + stripper.feed(raw[cut:]) == shown, cut
    stripper = ControlStripper()
    assert "".join(stripper.feed(char) for char in raw) == shown


def test_plain_text_is_passed_on_at_once() -> None:
    stripper = ControlStripper()
    assert stripper.feed("one \x1b]8;;https://x/") == "one "
    assert stripper.feed("\x1b\\two") == "two"


@pytest.mark.parametrize(
    "unit",
    ["\x1b[" + "1;" * 8, "\x1b]", "\x1b", "a\x00", "\x1b]x\x1b", "\x9b", "\x1b(", " " * 8, "\x1b[1\n"],
)
def test_hostile_input_is_stripped(unit: str) -> None:
    out = strip_controls(unit * 40_000)  # linear work; bench/text_adversarial.py times it
    assert not CONTROLS.search(out)
