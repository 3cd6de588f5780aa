"""JSON encoding of game values, shared by every backend, with a format version.

Each record carries ``"v"``. One this build cannot read (another version, a
missing or mistyped field, not JSON at all) raises :class:`UndecodableRecord`
rather than a ``KeyError`` deep in a command, so a backend can count it as
absent and replace it instead of failing every command of its player. Records
written before the version existed have the version 1 shape and no ``"v"``,
and read as version 1, so an upgrade keeps everyone's games and records.
"""

from __future__ import annotations

import json
import logging
import reprlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, fields
from enum import Enum
from typing import Any, TypeVar, get_args

from core.janken import Game, Move, Opponent, Outcome, Round, Stats
from core.store.activity import HistoryEntry, LoggedCommand, Usage, capped
from core.store.base import Played

_log = logging.getLogger(__name__)
_E = TypeVar("_E", bound=Enum)
_H = TypeVar("_H")

VERSION = 1
"""The format this build writes; it reads only this one (and records without ``"v"``)."""

FORGOTTEN = ""
"""A move record whose unreadable result was dropped: the move stays applied, with no result to repeat."""


class UndecodableRecord(ValueError):
    """A stored record this build cannot read. The message says why and never quotes the record."""


def log_discarded(owner: str, what: str, error: UndecodableRecord) -> None:
    """Say (once: the caller drops or replaces the record) that ``owner``'s ``what`` was unreadable."""
    _log.warning("discarded %s's stored %s, which this version cannot read: %s", owner, what, error)


def dump_game(game: Game) -> str:
    return _dump(_game_dict(game))


def load_game(text: str) -> Game:
    """A running game; one already over is refused too, as no running game can be."""
    game = _game(_record(text))
    if game.over:
        raise UndecodableRecord("a running game that is already over")
    return game


def dump_stats(stats: Stats) -> str:
    return _dump(asdict(stats))


def load_stats(text: str | None) -> Stats:
    return _stats(_record(text)) if text else Stats()


def dump_opponent(opponent: Opponent) -> str:
    return _dump(asdict(opponent))


def load_opponent(text: str) -> Opponent:
    return _opponent(_record(text))


def dump_played(played: Played) -> str:
    return _dump(
        {"round": _round_dict(played.round), "game": _game_dict(played.game), "stats": asdict(played.stats)}
    )


def load_played(text: str) -> Played:
    """A remembered move's result, marked as a repeat."""
    data = _record(text)
    return Played(
        round=_round(_object(data, "round")),
        game=_game(_object(data, "game")),
        stats=_stats(_object(data, "stats")),
        repeated=True,
    )


def dump_entry(entry: HistoryEntry) -> str:
    """A history entry, its texts cut to :data:`core.store.activity.ENTRY_CHARS` first."""
    return _dump(asdict(capped(entry)))


def load_entry(text: str) -> HistoryEntry:
    data = _record(text)
    command = _field(data, "command", str)
    if command not in get_args(LoggedCommand):
        raise UndecodableRecord("field 'command' is missing or malformed")
    usage = _object(data, "usage")
    return HistoryEntry(
        time=float(_field(data, "time", int, float)),
        command=command,
        prompt=_field(data, "prompt", str),
        answer=_field(data, "answer", str),
        model=_field(data, "model", str),
        usage=Usage(**{f.name: _field(usage, f.name, int) for f in fields(Usage)}),
    )


async def readable_entries(
    owner: str,
    fetch: Callable[[], Awaitable[Sequence[tuple[_H, str]]]],
    drop: Callable[[_H, str], Awaitable[bool]],
) -> list[HistoryEntry]:
    """The entries ``fetch`` reads (each a backend's handle on it and its text), decoded.

    An unreadable one is dropped (``drop`` deletes it if it still holds that text and says whether
    it did), logged by the call that dropped it, and the page read again: unreadable entries count
    as absent, so a page is never short because of one. Each round sees the ones it found gone (by
    this call or a concurrent one), so it ends.
    """
    while True:
        rows = await fetch()
        entries: list[HistoryEntry] = []
        unreadable: list[tuple[_H, str, UndecodableRecord]] = []
        for handle, text in rows:
            try:
                entries.append(load_entry(text))
            except UndecodableRecord as exc:
                unreadable.append((handle, text, exc))
        if not unreadable:
            return entries
        for handle, text, error in unreadable:
            if await drop(handle, text):
                log_discarded(owner, "history entry", error)


def _dump(data: dict[str, Any]) -> str:
    return json.dumps({"v": VERSION, **data})


def _record(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise UndecodableRecord("not JSON") from None
    if not isinstance(data, dict):
        raise UndecodableRecord("not a JSON object")
    version = data.get("v", VERSION)
    if type(version) is not int or version != VERSION:
        raise UndecodableRecord(f"format version {reprlib.repr(version)} is not {VERSION}")
    return data


def _field(data: dict[str, Any], name: str, *kinds: type) -> Any:
    value = data.get(name)
    if type(value) not in kinds:  # exact types: a bool is no int here
        raise UndecodableRecord(f"field {name!r} is missing or malformed")
    return value


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value: dict[str, Any] = _field(data, name, dict)
    return value


def _enum(kind: type[_E], data: dict[str, Any], name: str) -> _E:
    try:
        return kind(_field(data, name, str))
    except ValueError:
        raise UndecodableRecord(f"field {name!r} is missing or malformed") from None


def _stats(data: dict[str, Any]) -> Stats:
    return Stats(**{f.name: _field(data, f.name, int) for f in fields(Stats)})


def _round_dict(round_: Round) -> dict[str, Any]:
    data = asdict(round_)
    data.update(
        player_move=round_.player_move.value,
        opponent_move=round_.opponent_move.value,
        outcome=round_.outcome.value,
    )
    return data


def _round(data: dict[str, Any]) -> Round:
    return Round(
        number=_field(data, "number", int),
        player_move=_enum(Move, data, "player_move"),
        opponent_move=_enum(Move, data, "opponent_move"),
        outcome=_enum(Outcome, data, "outcome"),
        player_hp=_field(data, "player_hp", int),
        opponent_hp=_field(data, "opponent_hp", int),
    )


def _game_dict(game: Game) -> dict[str, Any]:
    data = asdict(game)
    data["last_round"] = _round_dict(game.last_round) if game.last_round else None
    return data


def _opponent(data: dict[str, Any]) -> Opponent:
    return Opponent(
        name=_field(data, "name", str),
        description=_field(data, "description", str),
        image_ref=_field(data, "image_ref", str, type(None)),
    )


def _game(data: dict[str, Any]) -> Game:
    last = data.get("last_round")
    return Game(
        game_id=_field(data, "game_id", str),
        opponent=_opponent(_object(data, "opponent")),
        player_hp=_field(data, "player_hp", int),
        opponent_hp=_field(data, "opponent_hp", int),
        max_hp=_field(data, "max_hp", int),
        rounds_played=_field(data, "rounds_played", int),
        last_round=None if last is None else _round(_object(data, "last_round")),
    )
