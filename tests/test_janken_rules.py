"""Pure janken rules: no I/O, seeded RNG."""

from __future__ import annotations

import itertools
import random

import pytest

from core import janken
from core.janken import Move, Opponent, Outcome, Stats

EXPECTED = {
    (Move.ROCK, Move.ROCK): Outcome.DRAW,
    (Move.ROCK, Move.PAPER): Outcome.LOSE,
    (Move.ROCK, Move.SCISSORS): Outcome.WIN,
    (Move.PAPER, Move.ROCK): Outcome.WIN,
    (Move.PAPER, Move.PAPER): Outcome.DRAW,
    (Move.PAPER, Move.SCISSORS): Outcome.LOSE,
    (Move.SCISSORS, Move.ROCK): Outcome.LOSE,
    (Move.SCISSORS, Move.PAPER): Outcome.WIN,
    (Move.SCISSORS, Move.SCISSORS): Outcome.DRAW,
}


def fresh(hp: int = 3) -> janken.Game:
    return janken.new_game("g1", Opponent("Bot"), hp)


@pytest.mark.parametrize(("pair", "outcome"), EXPECTED.items())
def test_every_move_pair_is_judged_and_costs_the_loser_one_hp(
    pair: tuple[Move, Move], outcome: Outcome
) -> None:
    round_ = janken.play(fresh(), *pair)
    assert round_.outcome is outcome
    assert (round_.player_hp, round_.opponent_hp) == {
        Outcome.WIN: (3, 2),
        Outcome.LOSE: (2, 3),
        Outcome.DRAW: (3, 3),
    }[outcome]
    assert round_.number == 1


@pytest.mark.parametrize(
    ("spelling", "move"),
    [
        ("rock", Move.ROCK),
        ("ROCK", Move.ROCK),
        (" r ", Move.ROCK),
        ("グー", Move.ROCK),
        ("ぐー", Move.ROCK),
        ("✊", Move.ROCK),
        ("👊", Move.ROCK),
        ("paper", Move.PAPER),
        ("P", Move.PAPER),
        ("パー", Move.PAPER),
        ("ぱー", Move.PAPER),
        ("✋", Move.PAPER),
        ("🖐", Move.PAPER),
        ("🖐️", Move.PAPER),
        ("scissors", Move.SCISSORS),
        ("s", Move.SCISSORS),
        ("チョキ", Move.SCISSORS),
        ("ちょき", Move.SCISSORS),
        ("✌️", Move.SCISSORS),
        ("✌", Move.SCISSORS),
        ("✂️", Move.SCISSORS),
        ("ｸﾞｰ", Move.ROCK),
    ],
)
def test_moves_parse_from_words_letters_japanese_and_emoji(spelling: str, move: Move) -> None:
    assert janken.parse_move(spelling) is move


@pytest.mark.parametrize("text", ["", "rocks", "stone", "x", "rock paper", "🙂"])
def test_other_text_is_not_a_move(text: str) -> None:
    assert janken.parse_move(text) is None


def play_out(game: janken.Game, throws: list[tuple[Move, Move]], *, mercy: bool = False):  # type: ignore[no-untyped-def]
    stats = Stats()
    rounds = []
    for player, opponent in throws:
        round_ = janken.play(game, player, opponent, mercy=mercy)
        game, stats = janken.advance(game, round_), janken.record(stats, round_)
        rounds.append(round_)
    return game, stats, rounds


def test_draw_changes_nothing_but_the_round_count() -> None:
    game, stats, _ = play_out(fresh(), [(Move.ROCK, Move.ROCK)])
    assert (game.player_hp, game.opponent_hp, game.rounds_played) == (3, 3, 1)
    assert stats == Stats(draws=1)


def test_first_to_zero_loses_and_the_game_refuses_more_rounds() -> None:
    game, stats, rounds = play_out(fresh(), [(Move.ROCK, Move.SCISSORS)] * 3)
    assert game.over and game.opponent_hp == 0 and game.player_hp == 3
    assert rounds[-1].winner_of_game is Outcome.WIN
    assert [r.winner_of_game for r in rounds[:-1]] == [None, None]
    assert stats.games_won == 1 and stats.games_lost == 0
    with pytest.raises(ValueError):
        janken.play(game, Move.ROCK, Move.ROCK)


def test_losing_the_game_counts_a_game_lost() -> None:
    game, stats, rounds = play_out(fresh(2), [(Move.ROCK, Move.PAPER)] * 2)
    assert game.player_hp == 0 and rounds[-1].winner_of_game is Outcome.LOSE
    assert (stats.losses, stats.games_lost, stats.games_won) == (2, 1, 0)


def test_mercy_lets_a_player_on_one_hp_win_every_round() -> None:
    losing = [(Move.ROCK, Move.PAPER)] * 2
    game, _, _ = play_out(fresh(), losing, mercy=True)
    assert game.player_hp == 1
    for player_move in Move:
        round_ = janken.play(game, player_move, player_move.loses_to, mercy=True)
        assert round_.outcome is Outcome.WIN
        assert round_.opponent_move is player_move.beats
    game, _, rounds = play_out(game, [(Move.PAPER, Move.SCISSORS)] * 3, mercy=True)
    assert rounds[-1].winner_of_game is Outcome.WIN and game.player_hp == 1


def test_without_mercy_one_hp_is_not_special() -> None:
    game, _, _ = play_out(fresh(), [(Move.ROCK, Move.PAPER)] * 2)
    assert janken.play(game, Move.ROCK, Move.PAPER).outcome is Outcome.LOSE


def test_streaks_grow_with_wins_survive_draws_and_reset_on_losses() -> None:
    throws = [
        (Move.ROCK, Move.SCISSORS),
        (Move.ROCK, Move.SCISSORS),  # win win
        (Move.ROCK, Move.ROCK),  # draw
        (Move.PAPER, Move.ROCK),  # win -> streak 3, opponent at 0: game over
    ]
    game, stats, _ = play_out(fresh(), throws)
    assert (stats.streak, stats.best_streak, stats.wins, stats.draws) == (3, 3, 3, 1)
    game2, stats2, _ = play_out(fresh(), [(Move.ROCK, Move.PAPER), (Move.ROCK, Move.SCISSORS)])
    assert (stats2.streak, stats2.best_streak, stats2.losses) == (1, 1, 1)
    rounds = [janken.play(fresh(), Move.ROCK, Move.SCISSORS), janken.play(fresh(), Move.ROCK, Move.PAPER)]
    after = janken.record(janken.record(Stats(streak=4, best_streak=4), rounds[0]), rounds[1])
    assert (after.streak, after.best_streak) == (0, 5)


def test_opponent_move_comes_from_the_injected_rng() -> None:
    seeded_a, seeded_b = random.Random(7), random.Random(7)
    first = [janken.opponent_move(seeded_a) for _ in range(20)]
    again = [janken.opponent_move(seeded_b) for _ in range(20)]
    assert first == again and len(set(first)) > 1
    rng = random.Random(1)
    drawn = {janken.opponent_move(rng) for _ in range(60)}
    assert drawn == set(Move)
    assert {janken.opponent_move() for _ in range(100)} == set(Move)  # secrets by default


def test_all_nine_pairs_cover_each_outcome_three_times() -> None:
    outcomes = [janken.judge(a, b) for a, b in itertools.product(Move, Move)]
    assert {o: outcomes.count(o) for o in Outcome} == {Outcome.WIN: 3, Outcome.LOSE: 3, Outcome.DRAW: 3}
