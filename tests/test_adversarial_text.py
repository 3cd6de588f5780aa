"""Hostile text through every text function: 200,000 characters of runs and mixtures.

Each shape goes through split_message at Slack's and Discord's limits, cut_point and split_head on
growing prefixes as a stream calls them, open_fence, and the Slack renderers. The assertions are the
modules' promises (parts fit, nothing is lost, no ping forms, no link hides its target). Speed is
measured in bench/text_adversarial.py, not here: a watchdog only catches a hang, since a quadratic
implementation takes minutes on these inputs and a linear one a few seconds for the whole set.
"""

from __future__ import annotations

import functools
import random
import re
import signal
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from bot.slack_app.render import JOINER, defuse_markdown, escape_mrkdwn, stable_length
from core.text import cut_point, open_fence, split_head, split_message

SIZE = 200_000
WATCHDOG_SECONDS = 10.0
LIMITS = (3_500, 2_000)  # Slack's edit limit, Discord's message limit
PROSE = "The fox jumps over the dog. It was not amused, and said so! Why? Nobody knew.\n\n"
FENCE_LINE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


def repeat(unit: str) -> Callable[[], str]:
    return lambda: (unit * (SIZE // len(unit) + 1))[:SIZE]


def after_prose(unit: str) -> Callable[[], str]:
    return lambda: (PROSE * 40)[:3_000] + repeat(unit)()[: SIZE - 3_000]


def mixture(seed: int, tokens: list[str]) -> Callable[[], str]:
    def make() -> str:
        rng = random.Random(seed)
        return "".join(rng.choice(tokens) for _ in range(SIZE))[:SIZE]

    return make


SHAPES: dict[str, Callable[[], str]] = {
    "spaces": repeat(" "),
    "prose-then-spaces": after_prose(" "),
    "prose-then-tabs-and-crs": after_prose(" \t\r"),
    "brackets": repeat("["),
    "backtick-fences": repeat("```` ``` "),
    "fence-lines": repeat("```\n"),
    "single-backticks": repeat("`"),
    "angles": repeat("<"),
    "stars": repeat("*"),
    "double-stars": repeat("** "),
    "newlines": repeat("\n"),
    "hashes": repeat("#"),
    "heading-then-spaces": lambda: "# a" + " " * (SIZE - 4) + "b",
    "tildes": repeat("~"),
    "link-openers": repeat("[a]("),
    "unclosed-links": repeat("[a](https://x"),
    "crlf": repeat("\r\n"),
    "pings": repeat("<!here> @channel <@U1> "),
    "unclosed-fence": lambda: "```python\n" + repeat(PROSE)()[: SIZE - 10],
    "fence-line-repeated-as-content": lambda: "```python\n" + "a" * 1_980 + "\n```python" + " " * (SIZE - 2_000),
    "mixture": mixture(1, ["[", "]", "(", ")", "`", "```", "<", "@here", "*", "**", "__", "~~", "#", "\n", " ",
                           "\r\n", "[a](", "https://x", "<@", "!", ".", "。", "\t", "a", "|", ">", "]:", "~~~"]),
    "mixture-of-whitespace": mixture(2, [" ", "\n", "\t", "\r\n", " \n", "a", ".", "```\n", "[", "`", "\u3000"]),
}  # fmt: skip


@pytest.fixture(scope="module")
def budget() -> dict[str, float]:
    return {"left": WATCHDOG_SECONDS}


@pytest.fixture(autouse=True)
def watchdog(budget: dict[str, float]) -> Iterator[None]:
    """Fail, rather than hang, once the whole module has used its seconds."""
    if budget["left"] <= 0:
        pytest.fail(f"watchdog: the adversarial set took more than {WATCHDOG_SECONDS:.0f} s in total")

    def expire(signum: int, frame: object) -> None:
        pytest.fail(f"watchdog: the adversarial set took more than {WATCHDOG_SECONDS:.0f} s in total")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, budget["left"])
    start = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        budget["left"] -= time.monotonic() - start


@functools.cache
def shape(name: str) -> str:
    text = SHAPES[name]()
    assert len(text) == SIZE
    return text


class FenceIndex:
    """``open_fence(text[:end])`` for any ``end`` after one pass: the CommonMark rule, line by line."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.line_starts: list[int] = []
        self.states: list[tuple[str, str] | None] = []  # the open fence before each line
        state: tuple[str, str] | None = None
        start = 0
        for line in text.split("\n"):
            self.line_starts.append(start)
            self.states.append(state)
            state = self.read(state, line)
            start += len(line) + 1

    @staticmethod
    def read(state: tuple[str, str] | None, line: str) -> tuple[str, str] | None:
        if not line.lstrip(" ")[:3] in ("```", "~~~"):
            return state
        match = FENCE_LINE.fullmatch(line.rstrip())
        if match is None:
            return state
        marker, info = match.groups()
        if state is None:
            return None if marker[0] == "`" and "`" in info else (line.rstrip(), marker)
        same_kind = marker[0] == state[1][0] and len(marker) >= len(state[1])
        return None if same_kind and not info.strip() else state

    def at(self, end: int) -> str | None:
        i = bisect_right(self.line_starts, end) - 1
        state = self.read(self.states[i], self.text[self.line_starts[i] : end])
        return state[0] if state else None


def reopens(fence: str | None, limit: int) -> bool:
    """Whether the splitter closes and reopens a cut ``fence``: unless even its marker is too long."""
    return fence is not None and len(FENCE_LINE.match(fence).group(1)) <= limit // 4  # type: ignore[union-attr]


@functools.cache
def fence_index(text: str) -> FenceIndex:
    return FenceIndex(text)


def rebuilds(text: str, parts: list[str], limit: int) -> bool:
    """The module's round-trip rule, as tests/test_text.py reads it, memoised so that it stays fast on
    200,000 characters: without the fence lines the splitter added, the parts joined by whitespace-only
    gaps are ``text``."""
    if not text.strip():
        return parts in ([], [text])
    fences = fence_index(text)

    def after_gap(pos: int, body: str) -> int | None:
        found = text.find(body, pos)
        if found < 0 or (found > pos and not text[pos:found].isspace()):
            return None
        return found + len(body)

    def closed(pos: int, part: str) -> tuple[int, str] | None:
        """Where the part's text ends and the fence it was cut in, reading its last line as an added closer."""
        body, _, closer = part.rpartition("\n")
        end = after_gap(pos, body)
        fence = fences.at(end) if end is not None and FENCE_LINE.fullmatch(closer) else None
        if end is None or fence is None or closer != FENCE_LINE.match(fence).group(1):  # type: ignore[union-attr]
            return None
        return end, fence

    @functools.cache
    def walk(k: int, pos: int, reopen: str | None) -> bool:
        part = parts[k]
        if reopen is not None:
            if not part.startswith(reopen + "\n"):
                return False
            part = part[len(reopen) + 1 :]
        end, cut = after_gap(pos, part), closed(pos, part)
        if k == len(parts) - 1:
            return any(end is not None and not text[end:].strip() for end in (end, cut and cut[0]))
        if end is not None and not reopens(fences.at(end), limit) and walk(k + 1, end, None):
            return True
        if cut is None:
            return False
        end, fence = cut
        marker = FENCE_LINE.match(fence).group(1)  # type: ignore[union-attr]
        return any(walk(k + 1, end, line) for line in {fence, fence[: fence.index(marker) + len(marker)]})

    return bool(parts) and walk(0, 0, None)


PING = re.compile(r"<[!@#]|@(?:channel|here|everyone)\b", re.IGNORECASE)
MRKDWN_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>")
MARKDOWN_LINK = re.compile(r"\[([^\[\]\n]*)\]\(\s*<?([^()\s>]*)")
DEFINITION = re.compile(r"^ {0,3}\[[^\[\]\n]*\]:", re.MULTILINE)
LINKING_ANGLE = re.compile(r"<(?:[a-z][a-z0-9+.-]*://|www\.|mailto:|javascript:)", re.IGNORECASE)


def assert_honest_mrkdwn(out: str) -> None:
    assert not PING.search(out)
    for url, label in MRKDWN_LINK.findall(out):
        assert label == urlsplit(url).hostname, (url, label)


def assert_honest_markdown(out: str) -> None:
    assert not PING.search(out)
    assert not DEFINITION.search(out) and not LINKING_ANGLE.search(out)
    for label, url in MARKDOWN_LINK.findall(out):
        assert label == urlsplit(url).hostname, (label, url)


@pytest.mark.parametrize("limit", LIMITS)
@pytest.mark.parametrize("name", SHAPES)
def test_split_message_fits_every_part_and_loses_nothing(name: str, limit: int) -> None:
    text = shape(name)
    parts = split_message(text, limit)
    assert all(0 < len(part) <= limit for part in parts), max(map(len, parts))
    assert rebuilds(text, parts, limit)


@pytest.mark.parametrize("name", SHAPES)
def test_a_stream_cuts_growing_prefixes(name: str) -> None:
    text, limit = shape(name), LIMITS[0]
    for size in range(10_000, SIZE + 1, 10_000):
        prefix = text[:size]
        cut = cut_point(prefix, limit)
        fence = open_fence(prefix[:cut])
        closer = len(FENCE_LINE.match(fence).group(1)) + 1 if reopens(fence, limit) else 0  # type: ignore[union-attr]
        assert 0 < cut <= size and len(prefix[:cut].rstrip()) + closer <= limit
        head, rest = split_head(prefix, limit)
        body, tail = head, rest
        if closer:
            body, tail = head.rpartition("\n")[0], rest.partition("\n")[2]
        assert len(head) <= limit and prefix.startswith(body) and prefix.endswith(tail)
        assert not prefix[len(body) : size - len(tail)].strip()
    assert open_fence(text) == fence_index(text).at(SIZE)


@pytest.mark.parametrize("name", SHAPES)
def test_renderers_never_ping_or_hide_a_link(name: str) -> None:
    text = shape(name)
    assert_honest_mrkdwn(escape_mrkdwn(text))
    assert_honest_markdown(defuse_markdown(text))


@pytest.mark.parametrize("name", SHAPES)
def test_a_native_stream_sends_the_same_markdown_as_the_whole(name: str) -> None:
    """Pieces cut at ``stable_length`` on growing prefixes, as the native stream sends them."""
    text, sent, pieces = shape(name), 0, []
    for size in range(10_000, SIZE + 1, 10_000):
        stable = stable_length(text[:size])
        assert sent <= stable <= size
        pieces.append(defuse_markdown(text[sent:stable]))
        sent = stable
    pieces.append(defuse_markdown(text[sent:]))
    streamed, whole = "".join(pieces), defuse_markdown(text)
    assert_honest_markdown(streamed)
    # A piece that starts at "[x]:" in mid-line reads it as a definition: an extra, harmless joiner.
    assert streamed.replace("]" + JOINER + ":", "]:") == whole.replace("]" + JOINER + ":", "]:")
