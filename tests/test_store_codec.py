"""The record codec on its own: every record carries its version, and anything else is refused cleanly."""

from __future__ import annotations

import json

import pytest

from core import janken
from core.janken import Move, Opponent, Stats
from core.store import codec
from core.store.base import Played, resolve


def a_game() -> janken.Game:
    return janken.new_game("g1", Opponent("Bot", "a robot", None), 3)


def a_played() -> Played:
    return resolve(a_game(), Stats(), lambda g: janken.play(g, Move.ROCK, Move.SCISSORS))


def test_records_carry_the_version_and_round_trip() -> None:
    played = a_played()
    for text in (codec.dump_game(played.game), codec.dump_stats(played.stats), codec.dump_played(played)):
        assert json.loads(text)["v"] == codec.VERSION
    assert codec.load_game(codec.dump_game(played.game)) == played.game
    assert codec.load_stats(codec.dump_stats(played.stats)) == played.stats
    again = codec.load_played(codec.dump_played(played))
    assert (again.round, again.game, again.stats, again.repeated) == (
        played.round, played.game, played.stats, True,
    )  # fmt: skip


@pytest.mark.parametrize("version", [0, 2, "1", 1.0, True, None, [1]])
def test_a_version_it_does_not_know_is_refused(version: object) -> None:
    data = {**json.loads(codec.dump_game(a_game())), "v": version}
    with pytest.raises(codec.UndecodableRecord, match="format version"):
        codec.load_game(json.dumps(data))


@pytest.mark.parametrize(
    "field", ["game_id", "opponent", "player_hp", "opponent_hp", "max_hp", "rounds_played"]
)
def test_each_missing_game_field_is_refused_by_name(field: str) -> None:
    data = json.loads(codec.dump_game(a_game()))
    del data[field]
    with pytest.raises(codec.UndecodableRecord, match=repr(field)):
        codec.load_game(json.dumps(data))


@pytest.mark.parametrize(
    ("load", "text"),
    [
        (codec.load_game, "\x00\xff"),
        (codec.load_game, "[" * 100_000),
        (codec.load_game, '"a string"'),
        (codec.load_stats, '{"wins": true}'),
        (codec.load_stats, '{"v": 1}'),
        (codec.load_played, '{"v": 1, "round": [], "game": {}, "stats": {}}'),
    ],
)
def test_garbage_raises_only_the_codec_error(load, text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(codec.UndecodableRecord):
        load(text)


def test_the_error_never_quotes_the_record() -> None:
    data = {**json.loads(codec.dump_game(a_game())), "v": "sk-" + "x" * 500, "game_id": "sk-secret"}
    with pytest.raises(codec.UndecodableRecord) as caught:
        codec.load_game(json.dumps(data))
    assert len(str(caught.value)) < 80 and "secret" not in str(caught.value)
