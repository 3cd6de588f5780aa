"""Split long Markdown into chat-sized messages without losing any of it.

A model's answer can outgrow one chat message (Slack ~3,900 characters in our use, Discord 2,000), so
it continues in further messages. Cuts go at the most natural boundary that still keeps parts
reasonably full, and a fenced code block that is cut is closed and reopened so each message renders.

Round-trip rule: a part is the text it consumed minus the whitespace at its cut (the break itself).
Remove the fence lines the splitter added (a closing "\\n```" at the end of a part, the reopened fence
line and its "\\n" at the start of the next) and the original text is the parts joined by
whitespace-only gaps: each gap is the break dropped at that cut, empty for a hard cut. Whitespace left
over after the last cut counts as part of that cut's break.

Streaming: with ``i = cut_point(buffer, limit)``, send ``buffer[:i].rstrip()`` and keep ``buffer[i:]``;
if ``open_fence(buffer[:i])`` is not None, close the sent part and prefix the kept text with that line
and "\\n", as split_message does.
"""

from __future__ import annotations

import re

MIN_LIMIT = 21

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
# Break kinds in order of preference; "brk" is the whitespace dropped at the cut.
_BREAKS = (
    re.compile(r"(?P<brk>[ \t]*\r?\n(?:[ \t]*\r?\n)+)"),
    re.compile(r"(?P<brk>[ \t]*\r?\n)"),
    re.compile(r"(?:[.!?…][\"')\]”’»]*(?=[ \t])|[。！？][」』）”’]*)(?P<brk>[ \t]*)"),
    re.compile(r"(?P<brk>[ \t]+)"),
)
_FIRST_MIDLINE_KIND = 2
_SPACE_RUN = re.compile(r"\s*")


def split_message(text: str, limit: int) -> list[str]:
    """Cut text into messages of at most ``limit`` characters, losing nothing but the breaks.

    Empty text gives ``[]``, since there is nothing to send. Parts other than the last hold at least
    ``limit // 2`` characters, except where that would mean cutting through a fence's opening line. A
    fence line too long to repeat in every part (over ``limit // 4``) is reopened as its bare marker.
    """
    _check(limit)
    parts: list[str] = []
    rest = text
    while rest:
        if len(rest) <= limit:
            parts.append(rest)
            break
        head, rest = split_head(rest, limit)
        if head:
            parts.append(head)
        if not rest.strip():
            break
    return parts


def split_head(text: str, limit: int, floor: int = 0) -> tuple[str, str]:
    """The first message of an overlong ``text`` and the text that continues in the next one.

    For streams: ``floor`` is how much a live message already shows, so the cut cannot fall
    before it. An open fence is closed in the head and reopened at the start of the rest.
    """
    _check(limit)
    cut = max(cut_point(text, limit), floor)
    head, tail = text[:cut], text[cut:]
    reopen = _reopen_line(head, limit)
    body = head.rstrip()
    if reopen:
        return body + _closer(reopen), f"{reopen}\n{tail}"
    return body, tail


def cut_point(text: str, limit: int) -> int:
    """Where the first message should end, so a streamer can send it before the rest exists.

    Returns how much of ``text`` the first part consumes, break included: ``text[:i].rstrip()`` plus
    any closing fence fits in ``limit``. ``len(text)`` when the whole text already fits.
    """
    _check(limit)
    if len(text) <= limit:
        return len(text)
    budget = limit
    while True:
        cut = _best_cut(text, budget, limit // 2)
        reopen = _reopen_line(text[:cut], limit)
        room = limit - (len(_closer(reopen)) if reopen else 0)
        if len(text[:cut].rstrip()) <= room:
            return cut
        budget = room


def open_fence(text: str) -> str | None:
    """The opening line of the fenced block ``text`` ends inside, so a continuation can reopen it.

    Follows CommonMark: up to 3 spaces of indent, ``` or ~~~ (3 or more), and a closing fence of the
    same character at least as long with nothing after it. Trailing whitespace is not returned.
    """
    opening: tuple[str, str] | None = None
    for line in text.split("\n"):
        match = _FENCE.fullmatch(line.rstrip())
        if match is None:
            continue
        marker, info = match.groups()
        if opening is None:
            if not (marker[0] == "`" and "`" in info):
                opening = (line.rstrip(), marker)
        elif marker[0] == opening[1][0] and len(marker) >= len(opening[1]) and not info.strip():
            opening = None
    return opening[0] if opening else None


def _check(limit: int) -> None:
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be > {MIN_LIMIT - 1}, got {limit}")


def _best_cut(text: str, budget: int, floor: int) -> int:
    """The latest cut of the most preferred kind whose kept text ends in [floor, budget]."""
    seen = _SPACE_RUN.match(text, budget).end() + 1  # enough to see every break starting by the budget
    for kind, pattern in enumerate(_BREAKS):
        best: int | None = None
        for match in pattern.finditer(text, 0, seen):
            end, cut = match.span("brk")
            if end > budget:
                break
            if end >= floor and not text[end - 1].isspace() and _keeps_fences_tidy(text, kind, end, cut):
                best = cut
        if best is not None:
            return best
    return _hard_cut(text, budget)


def _hard_cut(text: str, budget: int) -> int:
    """Mid-word at the budget, except through a fence's opening line, which moves whole to the next part."""
    line_start = text.rfind("\n", 0, budget) + 1
    if line_start and open_fence(text[:budget]) == text[line_start:budget].rstrip():
        return line_start
    return budget


def _keeps_fences_tidy(text: str, kind: int, end: int, cut: int) -> bool:
    """False for cuts inside a fence line, or that would leave an empty code block in a part."""
    on_fence_line = _FENCE.match(text, text.rfind("\n", 0, end) + 1) is not None
    if kind >= _FIRST_MIDLINE_KIND:
        return not on_fence_line
    if on_fence_line or _FENCE.match(text, cut):
        return open_fence(text[:end]) is None
    return True


def _reopen_line(head: str, limit: int) -> str | None:
    """The line to reopen the block ``head`` ends inside; None when outside or unrepeatable."""
    fence = open_fence(head)
    if fence is None:
        return None
    bare = fence[: fence.index(_marker(fence)) + len(_marker(fence))]
    return next((line for line in (fence, bare) if len(line) <= limit // 4), None)


def _closer(reopen: str) -> str:
    return "\n" + _marker(reopen)


def _marker(fence: str) -> str:
    unindented = fence.lstrip(" ")
    return unindented[: len(unindented) - len(unindented.lstrip(unindented[0]))]
