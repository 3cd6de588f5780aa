"""JSON encoding of game values, shared by the backends that store text."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from core.janken import Game, Move, Opponent, Outcome, Round, Stats
from core.store.base import Played


def dump_game(game: Game) -> str:
    return json.dumps(_game_dict(game))


def load_game(text: str) -> Game:
    return _game(json.loads(text))


def dump_stats(stats: Stats) -> str:
    return json.dumps(asdict(stats))


def load_stats(text: str | None) -> Stats:
    return Stats(**json.loads(text)) if text else Stats()


def dump_played(played: Played) -> str:
    return json.dumps(
        {"round": _round_dict(played.round), "game": _game_dict(played.game), "stats": asdict(played.stats)}
    )


def load_played(text: str) -> Played:
    data = json.loads(text)
    return Played(
        round=_round(data["round"]), game=_game(data["game"]), stats=Stats(**data["stats"]), repeated=True
    )


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
        **{
            **data,
            "player_move": Move(data["player_move"]),
            "opponent_move": Move(data["opponent_move"]),
            "outcome": Outcome(data["outcome"]),
        }
    )


def _game_dict(game: Game) -> dict[str, Any]:
    data = asdict(game)
    data["last_round"] = _round_dict(game.last_round) if game.last_round else None
    return data


def _game(data: dict[str, Any]) -> Game:
    last = data.get("last_round")
    return Game(
        **{**data, "opponent": Opponent(**data["opponent"]), "last_round": _round(last) if last else None}
    )
