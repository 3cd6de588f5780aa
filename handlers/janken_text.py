"""Plain-text rendering of a game view, for every adapter to use or build on."""

from __future__ import annotations

from core.janken import Move, Outcome
from core.messages import text
from handlers.port import GameView


def hp_bar(hp: int, max_hp: int) -> str:
    """``❤️❤️🖤`` for 2 of 3."""
    return "❤️" * max(hp, 0) + "🖤" * (max_hp - max(hp, 0))


def move_label(move: Move, locale: str = "en") -> str:
    return text(f"move_{move.value}", locale)


def describe(view: GameView, locale: str = "en") -> str:
    """The board, the last round's result and what to do next, as lines of text."""
    game, opponent = view.game, view.game.opponent.name
    lines = []
    if view.played is not None:
        round_ = view.played
        names = {
            "opponent": opponent,
            "player_move": move_label(round_.player_move, locale),
            "opponent_move": move_label(round_.opponent_move, locale),
        }
        lines.append(text(f"round_{round_.outcome.value}", locale, **names))
    lines.append(
        text(
            "game_board",
            locale,
            player=view.player,
            player_hp_bar=hp_bar(game.player_hp, game.max_hp),
            opponent=opponent,
            opponent_hp_bar=hp_bar(game.opponent_hp, game.max_hp),
        )
    )
    lines.append(
        text(
            "hp_line",
            locale,
            player_hp=game.player_hp,
            opponent_hp=game.opponent_hp,
            opponent=opponent,
            max_hp=game.max_hp,
        )
    )
    if view.finished and view.played is not None:
        won = view.played.winner_of_game is Outcome.WIN
        lines.append(text("game_won" if won else "game_lost", locale, opponent=opponent))
    else:
        lines.append(text("game_prompt", locale, round=game.rounds_played + 1))
    return "\n".join(lines)
