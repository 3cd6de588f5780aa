"""Rock-paper-scissors rules with hit points, as pure functions.

Nothing here does I/O: the opponent's move is drawn by the caller from an
injectable RNG, and stores persist what these functions return.
"""

from __future__ import annotations

import enum
import secrets
import unicodedata
from dataclasses import dataclass, replace
from typing import Protocol


class Move(enum.Enum):
    ROCK = "rock"
    PAPER = "paper"
    SCISSORS = "scissors"

    @property
    def beats(self) -> Move:
        """The move this one defeats."""
        return _BEATS[self]

    @property
    def loses_to(self) -> Move:
        """The move that defeats this one."""
        return _LOSES_TO[self]


_BEATS = {Move.ROCK: Move.SCISSORS, Move.SCISSORS: Move.PAPER, Move.PAPER: Move.ROCK}
_LOSES_TO = {beaten: winner for winner, beaten in _BEATS.items()}

_SPELLINGS = {
    Move.ROCK: ("rock", "r", "グー", "ぐー", "✊", "👊", "🪨"),
    Move.PAPER: ("paper", "p", "パー", "ぱー", "✋", "🖐", "🖐️", "🤚"),
    Move.SCISSORS: ("scissors", "s", "チョキ", "ちょき", "✌", "✌️", "✂", "✂️"),
}
_BY_SPELLING = {spelling: move for move, words in _SPELLINGS.items() for spelling in words}


def parse_move(text: str) -> Move | None:
    """Read a move from English, r/p/s, Japanese or emoji; ``None`` if it is none."""
    word = unicodedata.normalize("NFKC", text.strip()).casefold()
    return _BY_SPELLING.get(word.replace("\ufe0f", ""))


class StaleMove(Exception):
    """A move was made on a board that no longer shows the running game's next round."""


class Outcome(enum.Enum):
    """A round or game result, from the player's side."""

    WIN = "win"
    LOSE = "lose"
    DRAW = "draw"


def judge(player: Move, opponent: Move) -> Outcome:
    """Who wins one throw."""
    if player is opponent:
        return Outcome.DRAW
    return Outcome.WIN if player.beats is opponent else Outcome.LOSE


@dataclass(frozen=True)
class Opponent:
    """Who the player faces; ``image_ref`` is whatever the platform returned for its picture."""

    name: str
    description: str = ""
    image_ref: str | None = None


@dataclass(frozen=True)
class Round:
    """One resolved throw and the hit points after it."""

    number: int
    player_move: Move
    opponent_move: Move
    outcome: Outcome
    player_hp: int
    opponent_hp: int

    @property
    def winner_of_game(self) -> Outcome | None:
        """WIN or LOSE once someone is out of hit points, else ``None``."""
        if self.opponent_hp <= 0:
            return Outcome.WIN
        if self.player_hp <= 0:
            return Outcome.LOSE
        return None


@dataclass(frozen=True)
class Game:
    """A running game; ``rounds_played`` counts every throw, draws included."""

    game_id: str
    opponent: Opponent
    player_hp: int
    opponent_hp: int
    max_hp: int
    rounds_played: int = 0
    last_round: Round | None = None

    @property
    def over(self) -> bool:
        return self.player_hp <= 0 or self.opponent_hp <= 0


@dataclass(frozen=True)
class Stats:
    """A player's record: rounds won/lost/drawn, games won/lost, round win streaks."""

    wins: int = 0
    losses: int = 0
    draws: int = 0
    games_won: int = 0
    games_lost: int = 0
    streak: int = 0
    best_streak: int = 0


def new_game(game_id: str, opponent: Opponent, hp: int) -> Game:
    """A fresh game with both sides on ``hp``."""
    return Game(game_id=game_id, opponent=opponent, player_hp=hp, opponent_hp=hp, max_hp=hp)


def play(game: Game, player_move: Move, opponent_move: Move, *, mercy: bool = False) -> Round:
    """Resolve one throw; with ``mercy`` a player on 1 HP always wins it."""
    if game.over:
        raise ValueError("the game is already over")
    if mercy and game.player_hp == 1:
        opponent_move = player_move.beats
    outcome = judge(player_move, opponent_move)
    return Round(
        number=game.rounds_played + 1,
        player_move=player_move,
        opponent_move=opponent_move,
        outcome=outcome,
        player_hp=game.player_hp - (outcome is Outcome.LOSE),
        opponent_hp=game.opponent_hp - (outcome is Outcome.WIN),
    )


def advance(game: Game, round_: Round) -> Game:
    """The game after ``round_``."""
    return replace(
        game,
        player_hp=round_.player_hp,
        opponent_hp=round_.opponent_hp,
        rounds_played=round_.number,
        last_round=round_,
    )


def record(stats: Stats, round_: Round) -> Stats:
    """The player's record after ``round_``."""
    won = round_.outcome is Outcome.WIN
    streak = stats.streak + 1 if won else (stats.streak if round_.outcome is Outcome.DRAW else 0)
    game_result = round_.winner_of_game
    return replace(
        stats,
        wins=stats.wins + won,
        losses=stats.losses + (round_.outcome is Outcome.LOSE),
        draws=stats.draws + (round_.outcome is Outcome.DRAW),
        games_won=stats.games_won + (game_result is Outcome.WIN),
        games_lost=stats.games_lost + (game_result is Outcome.LOSE),
        streak=streak,
        best_streak=max(stats.best_streak, streak),
    )


class RandomSource(Protocol):
    """What the opponent needs from an RNG (``random.Random`` and ``secrets`` both fit)."""

    def choice(self, seq: list[Move], /) -> Move: ...


def opponent_move(rng: RandomSource | None = None) -> Move:
    """Draw the opponent's throw; ``secrets`` unless a (seeded) RNG is given."""
    moves = list(Move)
    return rng.choice(moves) if rng is not None else secrets.choice(moves)
