"""A user's activity, as the store keeps it besides games and conversations: each user's command
log (what ``/history`` shows), their usage per month, and the measures the janken leaderboard ranks
by. Values and pure rules only; each backend's ``*_activity`` module persists them. (A
conversation's turns, the other "history", are :class:`core.conversation.Turn` s.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal, get_args

from core.conversation import ELLIPSIS
from core.janken import Stats

LoggedCommand = Literal["ask", "draw", "janken"]
"""The commands whose uses are logged."""

Measure = Literal["games_won", "best_streak"]
"""What the leaderboard ranks by: a :class:`core.janken.Stats` field."""

MEASURES: tuple[Measure, ...] = get_args(Measure)

ENTRY_CHARS = 4_000
"""Characters kept of an entry's prompt, answer and model each: a 1 MB answer is not stored whole."""

ENTRIES_REMEMBERED = 1_000
"""How many entries a backend keeps per user at most (the newest), whatever their age; a backend
may take the bound from its constructor."""

USAGE_TTL = 62 * 24 * 3600.0
"""Seconds a month's usage is kept after its last addition: through the month after it, no longer."""

UNRECORDED_MODEL = ""
"""The model usage added before usage was kept per model reads as: priced as it was then, its
tokens at the chat model's price and its images at the image model's (:func:`core.pricing.cost`)."""

PLAYER_NAME_CHARS = 80
"""Characters kept of the name a player last played under (the leaderboard shows it): a name is
user input, so the store bounds it whoever passes it."""


@dataclass(frozen=True)
class Usage:
    """Tokens in and out, and images made: by one command, or one user's month."""

    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0

    def plus(self, other: Usage) -> Usage:
        return Usage(
            self.tokens_in + other.tokens_in, self.tokens_out + other.tokens_out, self.images + other.images
        )

    @staticmethod
    def total(usages: Iterable[Usage]) -> Usage:
        """All of ``usages`` added up: a month's totals over its models, for the report."""
        total = Usage()
        for usage in usages:
            total = total.plus(usage)
        return total


UsageByModel = Mapping[str, Usage]
"""One user's month: each model used (:data:`UNRECORDED_MODEL` for usage from before models were
kept) and what was used of it. A model whose totals are all zero is left out."""


def by_model(rows: Iterable[tuple[str, Usage]]) -> dict[str, Usage]:
    """(model, usage) rows as a backend reads them, added up per model, models with none left out."""
    totals: dict[str, Usage] = {}
    for model, usage in rows:
        totals[model] = totals.get(model, Usage()).plus(usage)
    return {model: usage for model, usage in totals.items() if usage != Usage()}


@dataclass(frozen=True)
class HistoryEntry:
    """One logged use of a command. ``time`` is epoch seconds; ``answer`` is the answer's text,
    or for an image the platform's reference to it; ``model`` is the model that answered."""

    time: float
    command: LoggedCommand
    prompt: str
    answer: str
    model: str
    usage: Usage = Usage()


def capped(entry: HistoryEntry, limit: int = ENTRY_CHARS) -> HistoryEntry:
    """``entry`` as the store keeps it: its prompt, answer and model cut to ``limit`` characters."""
    return replace(
        entry,
        prompt=_cut(entry.prompt, limit),
        answer=_cut(entry.answer, limit),
        model=_cut(entry.model, limit),
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def player_name(name: str) -> str:
    """``name`` as the store keeps it for the leaderboard: at most :data:`PLAYER_NAME_CHARS` characters."""
    return _cut(name, PLAYER_NAME_CHARS)


def month_of(when: float) -> str:
    """The UTC month (``YYYY-MM``) of epoch seconds ``when``: the key monthly usage is kept by."""
    return f"{dt.datetime.fromtimestamp(when, dt.UTC):%Y-%m}"


def tie_breaker(by: Measure) -> Measure:
    """The measure that orders players equal in ``by``; ``ValueError`` for an unknown measure
    (it names a column or key, so it is checked before it reaches a query)."""
    if by not in MEASURES:
        raise ValueError(f"no leaderboard by {by!r}")
    return "best_streak" if by == "games_won" else "games_won"


def ranking(by: Measure) -> Callable[[tuple[str, Stats]], tuple[int, int, str]]:
    """A sort key for (user id, stats): highest ``by`` first, then the other measure, then user id."""
    other = tie_breaker(by)
    return lambda row: (-getattr(row[1], by), -getattr(row[1], other), row[0])
