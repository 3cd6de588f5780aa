"""Message splitting: limits hold, nothing is lost, cuts land on natural breaks, code stays fenced."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from core.text import cut_point, open_fence, split_head, split_message

FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,}).*")
WORDS = [
    "a",
    "be",
    "cat",
    "dog.",
    "egg,",
    "fig!",
    "why?",
    "lorem",
    "ipsum",
    "dolor",
    "x = 1",
    "def f():",
    "(yes).",
    "Supercalifragilisticexpialidocious",
    "https://example.com/a/very/long/path/segment",
]
SEEDS = range(400)


def random_markdown(rng: random.Random) -> str:
    blocks = []
    for _ in range(rng.randint(1, 14)):
        roll = rng.random()
        if roll < 0.3:
            tag = rng.choice(["python", "js", "", "bash"])
            lines = [" ".join(rng.choices(WORDS, k=rng.randint(0, 9))) for _ in range(rng.randint(0, 9))]
            blocks.append("\n".join([f"```{tag}", *lines, "```"]))
        elif roll < 0.4:
            blocks.append("x" * rng.randint(1, 400))
        elif roll < 0.5:
            blocks.append("これは日本語の文です。" * rng.randint(1, 12))
        else:
            lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for _ in range(rng.randint(1, 4))]
            blocks.append("\n".join(lines))
    return "".join(block + rng.choice(["\n\n", "\n\n", "\n", "\n\n\n"]) for block in blocks).rstrip()


def cases(count: int = len(SEEDS)) -> list[tuple[int, str, int]]:
    out = []
    for seed in range(count):
        rng = random.Random(seed)
        out.append((seed, random_markdown(rng), rng.choice([21, 25, 40, 64, 100, 300, 2000])))
    return out


def rebuilds(text: str, parts: list[str]) -> bool:
    """Whether the documented round-trip rule holds: without the fence lines the splitter added, the
    parts joined by whitespace-only gaps are exactly ``text``. Tries both readings of a part ending in
    a bare fence (added, or the text's own), since only the rest of the parts tells them apart."""

    def after_gap(pos: int, body: str) -> int | None:
        while not text.startswith(body, pos):
            if pos >= len(text) or not text[pos].isspace():
                return None
            pos += 1
        return pos + len(body)

    def walk(k: int, pos: int, reopen: str | None) -> bool:
        part = parts[k]
        if reopen is not None:
            if not part.startswith(reopen + "\n"):
                return False
            part = part[len(reopen) + 1 :]
        end = after_gap(pos, part)
        if k == len(parts) - 1 and end is not None and not text[end:].strip():
            return True
        if (
            k < len(parts) - 1
            and end is not None
            and open_fence(text[:end]) is None
            and walk(k + 1, end, None)
        ):
            return True
        body, _, closer = part.rpartition("\n")
        end = after_gap(pos, body)
        fence = open_fence(text[:end]) if end is not None and FENCE_LINE.fullmatch(closer) else None
        if end is None or fence is None:
            return False
        marker = FENCE_LINE.match(fence).group(1)  # type: ignore[union-attr]
        if k == len(parts) - 1:  # cut in a fence with only whitespace after: nothing to reopen
            return closer == marker and not text[end:].strip()
        bare = fence[: fence.index(marker) + len(marker)]
        return closer == marker and any(walk(k + 1, end, line) for line in {fence, bare})

    return not parts if not text else bool(parts) and walk(0, 0, None)


def fence_lines(part: str) -> int:
    return sum(1 for line in part.split("\n") if FENCE_LINE.fullmatch(line.rstrip()))


def test_short_text_is_one_unchanged_part() -> None:
    assert split_message("Hello, world!\n\nSecond paragraph.", 2000) == ["Hello, world!\n\nSecond paragraph."]
    assert split_message("x" * 50, 50) == ["x" * 50]


def test_empty_text_gives_no_parts() -> None:
    assert split_message("", 100) == []


@pytest.mark.parametrize("limit", [-1, 0, 20])
def test_limit_of_20_or_less_is_rejected(limit: int) -> None:
    with pytest.raises(ValueError):
        split_message("text", limit)
    with pytest.raises(ValueError):
        cut_point("text", limit)


def test_every_part_fits_the_limit() -> None:
    for seed, text, limit in cases():
        parts = split_message(text, limit)
        assert parts, seed
        assert all(0 < len(part) <= limit for part in parts), (seed, limit, [len(p) for p in parts])


def test_nothing_is_lost_or_duplicated() -> None:
    for seed, text, limit in cases():
        assert rebuilds(text, split_message(text, limit)), (seed, limit)


def test_round_trip_check_catches_a_lost_or_extra_character() -> None:
    text = "First paragraph here.\n\nSecond paragraph follows it, quite long."
    parts = split_message(text, 40)
    assert rebuilds(text, parts)
    assert not rebuilds(text, [parts[0][:-1], *parts[1:]])
    assert not rebuilds(text, [parts[0] + "x", *parts[1:]])
    assert not rebuilds(text, parts[:-1])


def test_parts_are_not_tiny() -> None:
    for seed, text, limit in cases():
        parts = split_message(text, limit)
        for part, following in itertools.pairwise(parts):
            fence_moved_whole = FENCE_LINE.match(following) is not None
            assert len(part) >= limit // 2 or fence_moved_whole, (seed, limit, part)


def test_paragraph_break_preferred_over_later_line_break() -> None:
    text = "a" * 30 + "\n\n" + "b" * 10 + "\n" + "c" * 10 + "\n" + "d" * 30
    assert split_message(text, 60) == ["a" * 30, "b" * 10 + "\n" + "c" * 10 + "\n" + "d" * 30]


def test_line_break_preferred_over_later_sentence_end() -> None:
    text = "a" * 30 + "\n" + "One. Two. Three. " + "z" * 30
    assert split_message(text, 60)[0] == "a" * 30


def test_sentence_end_preferred_over_later_space() -> None:
    text = "word " * 7 + "end. " + "more words to follow here and then some more"
    assert split_message(text, 60)[0] == "word " * 7 + "end."


def test_space_preferred_over_hard_cut() -> None:
    text = "word " * 10 + "y" * 80
    assert split_message(text, 60)[0] == ("word " * 10).rstrip()


def test_latest_break_of_a_kind_wins() -> None:
    text = "\n".join(["l" * 9] * 10)
    parts = split_message(text, 60)
    assert parts[0] == "\n".join(["l" * 9] * 6)


def test_early_break_below_half_the_limit_is_skipped() -> None:
    text = "short\n\n" + "word " * 30
    first = split_message(text, 60)[0]
    assert first.startswith("short\n\nword") and len(first) > 30


def test_very_long_word_is_hard_cut() -> None:
    word = "".join(chr(ord("a") + i % 26) for i in range(130))
    assert split_message(word, 50) == [word[:50], word[50:100], word[100:]]


def test_japanese_without_spaces_splits_after_full_stop() -> None:
    sentence = "これは日本語の文です。"
    parts = split_message(sentence * 10, 40)
    assert parts[0] == sentence * 3
    assert all(part.endswith("。") for part in parts)
    assert "".join(parts) == sentence * 10


def test_cut_fence_is_closed_and_reopened_with_its_tag() -> None:
    code = "\n".join(f"print({i})" for i in range(40))
    parts = split_message(f"Intro.\n\n```python\n{code}\n```\n\nOutro.", 100)
    assert len(parts) > 3 and parts[-1] == "Outro."
    assert all(part.endswith("\n```") and len(part) <= 100 for part in parts[:-1])
    assert all(part.startswith("```python\n") for part in parts[1:-1])
    assert not parts[0].startswith("```")


def test_long_fence_marker_is_reused_for_closing() -> None:
    text = "````md\n" + "\n".join(["```", "inner", "```"] * 10) + "\n````"
    parts = split_message(text, 40)
    assert len(parts) > 1
    assert all(part.endswith("\n````") for part in parts[:-1])
    assert all(part.startswith("````md\n") for part in parts[1:])
    assert rebuilds(text, parts)


def test_overlong_fence_line_is_reopened_as_bare_marker() -> None:
    text = "```python title=" + "n" * 30 + "\n" + "\n".join(["pass"] * 30) + "\n```"
    parts = split_message(text, 40)
    assert all(part.startswith("```\n") and len(part) <= 40 for part in parts[1:])
    assert rebuilds(text, parts)


def test_cut_right_after_an_opening_fence_is_avoided() -> None:
    text = "a" * 35 + "\n```python\n" + "y" * 60 + "\n```"
    parts = split_message(text, 60)
    assert parts[0] == "a" * 35
    assert parts[1].startswith("```python\nyyy")


def test_fence_line_is_not_cut_at_its_spaces() -> None:
    text = "a" * 5 + "\n```python title=ex.py and more words\nprint(1)\n```"
    parts = split_message(text, 40)
    assert parts[0] == "a" * 5
    assert parts[1].startswith("```python title=ex.py and more words\n")
    assert rebuilds(text, parts)


def test_a_content_line_like_the_open_fence_does_not_stall_the_split() -> None:
    """Inside a fence, a line that reads like its opening line is content: a cut through it moves on.
    (It used to be taken for the opening line and moved whole to the next part, again and again.)"""
    text = "```py\naaaaa\n```py" + " " * 100 + "x\n```"
    parts = split_message(text, 40)
    assert parts == ["```py\naaaaa\n```py\n```", "```py\nx\n```"]
    assert rebuilds(text, parts)


def test_whitespace_after_a_cut_fence_leaves_no_part_of_its_own() -> None:
    """Only whitespace left after a cut inside a fence: the split ends there, every part closed."""
    text = "```python\n" + "x" * 80 + "\n" + " " * 30
    parts = split_message(text, 100)
    assert parts == ["```python\n" + "x" * 80 + "\n```"]
    assert rebuilds(text, parts)


def test_a_hard_cut_in_whitespace_drops_the_whole_run() -> None:
    """No break fits (ideographic spaces are not breaks), the limit falls in whitespace: the run is the
    break, so the next part starts with text rather than what is left of the run."""
    text = "a" * 50 + "\u3000" * 100 + "b"
    assert split_message(text, 60) == ["a" * 50, "b"]
    assert cut_point(text, 60) == 150


def test_every_part_has_balanced_fences() -> None:
    for seed, text, limit in cases():
        for part in split_message(text, limit):
            assert fence_lines(part) % 2 == 0, (seed, limit, part)
            assert open_fence(part) is None, (seed, limit, part)


def test_cut_point_is_whole_text_when_it_fits() -> None:
    assert cut_point("short", 30) == 5
    assert cut_point("x" * 30, 30) == 30


def test_cut_point_agrees_with_split_message() -> None:
    for seed, text, limit in cases():
        parts = split_message(text, limit)
        cut = cut_point(text, limit)
        if len(text) <= limit:
            assert (cut, parts) == (len(text), [text]), seed
            continue
        fence = open_fence(text[:cut])
        assert parts[0] == text[:cut].rstrip() + ("\n```" if fence else ""), (seed, limit)
        rest = text[cut:]
        if fence and len(fence) > limit // 4:
            fence = "```"
        expected_rest = split_message(f"{fence}\n{rest}" if fence else rest, limit) if rest.strip() else []
        assert parts[1:] == expected_rest, (seed, limit)


def test_cut_point_break_whitespace_belongs_to_the_first_part() -> None:
    text = "a" * 30 + "\n\n\n" + "b" * 30
    cut = cut_point(text, 40)
    assert (text[:cut], text[cut:]) == ("a" * 30 + "\n\n\n", "b" * 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("plain text", None),
        ("```python\nprint(1)\n", "```python"),
        ("```python\nprint(1)\n```\n", None),
        ("```python\nprint(1)\n```", None),
        ("   ```js  \ncode", "   ```js"),
        ("    ```js\ncode", None),
        ("text ```js\ncode", None),
        ("```\na\n```\nb\n```sh\nc", "```sh"),
        ("````md\n```\nnested\n```\n", "````md"),
        ("````md\n```\nnested\n````\n", None),
        ("```py\n```not a close\n", "```py"),
        ("~~~\n```\n", "~~~"),
        ("``` inline ``` code\n", None),
    ],
)
def test_open_fence(text: str, expected: str | None) -> None:
    assert open_fence(text) == expected


def test_split_head_never_cuts_before_what_a_live_message_already_shows() -> None:
    text = "Intro.\n\n```python\n" + "print('x')\n" * 60
    head, rest = split_head(text, 300)
    assert len(head) <= 300 and head.endswith("\n```") and rest.startswith("```python\n")
    shown = 290  # a native stream already sent this much; it cannot be taken back
    head, rest = split_head(text, 300, floor=shown)
    body, continuation = head.removesuffix("\n```"), rest.removeprefix("```python\n")
    assert len(body) >= len(text[:shown].rstrip()) and text.startswith(body)
    assert rest.startswith("```python\n")
    gap = text[len(body) : len(text) - len(continuation)]
    assert text.endswith(continuation) and gap.strip() == ""
