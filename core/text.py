"""Split long Markdown into chat-sized messages without losing any of it, in linear time.

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

Cost: anyone can make a model print hostile text (a few characters and then 100,000 spaces), so
every function here is linear in its input. A cut looks only at what its part can reach: ``limit``
characters plus the run of whitespace at the limit, which that cut or the next one consumes. Break
patterns scan up to that run and are tried once at its start (no pattern restarts at every position
of a run), fence state comes from one pass over the fence lines instead of a rescan per candidate,
and split_message walks the text once instead of re-slicing what is left for every part.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from core.fences import FENCE_START, Fences, OpenFence, fence_state, open_fence

__all__ = ["MIN_LIMIT", "cut_point", "open_fence", "split_head", "split_message"]

MIN_LIMIT = 21

# Break kinds in order of preference; "brk" is the whitespace dropped at the cut.
_BREAKS = (
    re.compile(r"(?<![ \t])(?P<brk>[ \t]*\r?\n(?:[ \t]*\r?\n)+)"),
    re.compile(r"(?<![ \t])(?P<brk>[ \t]*\r?\n)"),
    re.compile(r"(?:[.!?…][\"')\]”’»]*(?=[ \t])|[。！？][」』）”’]*)(?P<brk>[ \t]*)"),
    re.compile(r"(?P<brk>[ \t]+)"),
)
_FIRST_MIDLINE_KIND = _SENTENCE = 2
_BREAK_CHARS = re.compile(r"[ \t\r\n]*")
_LONE_CR = re.compile(r"\r(?!\n)")
_SPACE_RUN = re.compile(r"\s*")
_BLANKS = re.compile(r"[ \t]*")
_LOOKAHEAD = 8  # past the whitespace at the limit: the break's end and a fence line's first 6 characters


def split_message(text: str, limit: int) -> list[str]:
    """Cut text into messages of at most ``limit`` characters, losing nothing but the breaks.

    Empty text gives ``[]``, since there is nothing to send. Parts other than the last hold at least
    ``limit // 2`` characters, except where that would mean cutting through a fence's opening line. A
    fence line too long to repeat in every part (over ``limit // 4``) is reopened as its bare marker.
    """
    _check(limit)
    parts: list[str] = []
    content_end = len(text.rstrip())
    prefix, pos = "", 0  # the rest is prefix + text[pos:]; prefix reopens a cut fence
    while pos < len(text):
        if len(prefix) + len(text) - pos <= limit:
            parts.append(prefix + text[pos:])
            break
        window = _window(prefix, text, pos, limit)
        cut, fence = _Part(window, limit).cut()
        reopen = _reopen_line(fence, limit)
        head = window[:cut].rstrip()
        if head:
            parts.append(head + _closer(reopen) if reopen else head)
        pos += cut - len(prefix)
        prefix = f"{reopen}\n" if reopen else ""
        if pos >= content_end:  # only whitespace is left, however a cut fence would reopen
            break
    return parts


def split_head(text: str, limit: int, floor: int = 0) -> tuple[str, str]:
    """The first message of an overlong ``text`` and the text that continues in the next one.

    For streams: ``floor`` is how much a live message already shows, so the cut cannot fall
    before it. An open fence is closed in the head and reopened at the start of the rest.
    """
    _check(limit)
    if len(text) > limit:
        cut, fence = _Part(_window("", text, 0, limit), limit).cut()
    else:
        cut, fence = len(text), fence_state(text)
    if floor > cut:
        cut, fence = floor, fence_state(text[:floor])
    head, tail = text[:cut], text[cut:]
    reopen = _reopen_line(fence, limit)
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
    return _Part(_window("", text, 0, limit), limit).cut()[0]


def _run_end(run: re.Pattern[str], text: str, pos: int, endpos: int | None = None) -> int:
    """Where the run of ``run`` (a pattern that always matches, maybe empty) starting at ``pos`` ends."""
    match = run.match(text, pos) if endpos is None else run.match(text, pos, endpos)
    return match.end() if match else pos


def _check(limit: int) -> None:
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be > {MIN_LIMIT - 1}, got {limit}")


def _window(prefix: str, text: str, pos: int, limit: int) -> str:
    """All of ``prefix + text[pos:]`` that its first part can reach (the caller knows it is overlong)."""
    run_end = _run_end(_SPACE_RUN, text, pos + limit - len(prefix))
    return prefix + text[pos : run_end + _LOOKAHEAD]


class _Part:
    """The cut for the first part of ``text``, which holds everything that part can reach."""

    def __init__(self, text: str, limit: int) -> None:
        self.text = text
        self.limit = limit
        self.fences = Fences(text, limit + _LOOKAHEAD)
        seen = _run_end(_SPACE_RUN, text, limit) + 1  # enough to see every break starting by the limit
        # Inside a run of whitespace only a break at its start can be kept (any later one follows
        # whitespace), so patterns scan up to the run and match once at its start.
        run = len(text[:limit].rstrip()) if seen > limit + 1 else seen
        self.kinds = [self._candidates(kind, pattern, run, seen) for kind, pattern in enumerate(_BREAKS)]

    def cut(self) -> tuple[int, OpenFence | None]:
        """How much the part consumes, and the fence it ends inside."""
        budget = self.limit
        while True:
            cut, body = self._best(budget)
            fence = self.fences.state(cut)
            reopen = _reopen_line(fence, self.limit)
            room = self.limit - (len(_closer(reopen)) if reopen else 0)
            if body <= room:
                return cut, fence
            budget = room

    def _candidates(
        self, kind: int, pattern: re.Pattern[str], run: int, seen: int
    ) -> tuple[list[int], list[int]]:
        """Acceptable breaks of one kind, by where their kept text ends; the budget only shrinks."""
        ends: list[int] = []
        cuts: list[int] = []
        floor, text = self.limit // 2, self.text
        bound = min(run + 1, seen) if kind == _SENTENCE else run
        spans = [match.span("brk") for match in pattern.finditer(text, 0, bound)]
        if spans and spans[-1][1] > run:  # a sentence end whose spaces go on into the run
            spans[-1] = (spans[-1][0], _run_end(_BLANKS, text, spans[-1][0], seen))
        if run < seen and kind != _SENTENCE:
            spans.append(self._break_at_run(kind, pattern, run, seen))
        for end, cut in spans:
            if end > self.limit:
                break
            if end >= floor and not text[end - 1].isspace() and self._keeps_fences_tidy(kind, end, cut):
                ends.append(end)
                cuts.append(cut)
        return ends, cuts

    def _break_at_run(self, kind: int, pattern: re.Pattern[str], run: int, seen: int) -> tuple[int, int]:
        """The break of this kind starting the run of whitespace, or (seen, seen), which is never kept."""
        if kind == 0:
            span = _paragraph_break(self.text, run, seen)
        else:
            match = pattern.match(self.text, run, seen)
            span = match.span("brk") if match else None
        return span or (seen, seen)

    def _best(self, budget: int) -> tuple[int, int]:
        """The latest cut of the most preferred kind whose kept text ends by ``budget``, and that length."""
        for ends, cuts in self.kinds:
            i = bisect_right(ends, budget) - 1
            if i >= 0:
                return cuts[i], ends[i]
        return self._hard_cut(budget)

    def _hard_cut(self, budget: int) -> tuple[int, int]:
        """Mid-word at the budget, except through a fence's opening line, which moves whole to the next
        part. A cut that lands in whitespace takes the whole run as its break."""
        text = self.text
        line_start = text.rfind("\n", 0, budget) + 1
        fence = self.fences.state(budget)
        if line_start and fence is not None and fence.start == line_start:
            return line_start, len(text[:line_start].rstrip())
        body = len(text[:budget].rstrip())
        if budget < len(text) and text[budget].isspace():
            return _run_end(_SPACE_RUN, text, budget), body
        return budget, body

    def _keeps_fences_tidy(self, kind: int, end: int, cut: int) -> bool:
        """False for cuts inside a fence line, or that would leave an empty code block in a part."""
        on_fence_line = self.fences.on_fence_line(end)
        if kind >= _FIRST_MIDLINE_KIND:
            return not on_fence_line
        if on_fence_line or FENCE_START.match(self.text, cut):
            return self.fences.state(end) is None
        return True


def _paragraph_break(text: str, start: int, endpos: int) -> tuple[int, int] | None:
    """``_BREAKS[0].match(text, start, endpos)``'s span, found by scanning instead of repeating a group
    (several times faster on a long run of blank lines): the break ends at the last newline before the
    first character no break can hold (not a space, tab or newline, or a lone ``\\r``), and needs two
    newlines."""
    run_end = _run_end(_BREAK_CHARS, text, start, endpos)
    lone_cr = _LONE_CR.search(text, start, run_end)
    last = text.rfind("\n", start, lone_cr.start() if lone_cr else run_end)
    return (start, last + 1) if last > text.find("\n", start, endpos) else None


def _reopen_line(fence: OpenFence | None, limit: int) -> str | None:
    """The line to reopen ``fence`` with; None when there is none or it is unrepeatable."""
    if fence is None:
        return None
    bare = fence.line[: fence.line.index(fence.marker) + len(fence.marker)]
    return next((line for line in (fence.line, bare) if len(line) <= limit // 4), None)


def _closer(reopen: str) -> str:
    return "\n" + _marker(reopen)


def _marker(fence: str) -> str:
    unindented = fence.lstrip(" ")
    return unindented[: len(unindented) - len(unindented.lstrip(unindented[0]))]
