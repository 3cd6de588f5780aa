"""The store contract: every backend (the ``store`` fixture) must pass all of it."""

from __future__ import annotations

import asyncio
from functools import partial

from core import janken
from core.conversation import Turn
from core.janken import Move, Opponent, Outcome, Stats
from core.store import PlayerKey, Store
from core.store.sqlite import SQLiteStore

ALICE = PlayerKey("slack", "T1", "alice")
BOB = PlayerKey("slack", "T1", "bob")


def game(game_id: str = "g1", hp: int = 3) -> janken.Game:
    return janken.new_game(game_id, Opponent("Bot", "a robot", "img-1"), hp)


def throw(player: Move, opponent: Move):  # type: ignore[no-untyped-def]
    return partial(janken.play, player_move=player, opponent_move=opponent)


WIN = throw(Move.ROCK, Move.SCISSORS)
LOSE = throw(Move.ROCK, Move.PAPER)


async def test_a_newcomer_has_no_game_and_zero_stats(store: Store) -> None:
    assert await store.get_game(ALICE) is None
    assert await store.get_stats(ALICE) == Stats()
    assert await store.apply_round(ALICE, "m1", WIN) is None
    assert await store.end_game(ALICE) is None


async def test_a_started_game_round_trips_with_its_opponent(store: Store) -> None:
    await store.start_game(ALICE, game())
    assert await store.get_game(ALICE) == game()
    assert await store.get_game(BOB) is None
    await store.start_game(ALICE, game("g2"))
    assert (await store.get_game(ALICE)).game_id == "g2"  # type: ignore[union-attr]


async def test_applying_a_round_updates_game_and_stats(store: Store) -> None:
    await store.start_game(ALICE, game())
    played = await store.apply_round(ALICE, "m1", WIN)
    assert played is not None and not played.repeated
    assert played.round.outcome is Outcome.WIN
    stored = await store.get_game(ALICE)
    assert stored == played.game
    assert (stored.opponent_hp, stored.rounds_played, stored.last_round) == (2, 1, played.round)
    assert await store.get_stats(ALICE) == Stats(wins=1, streak=1, best_streak=1)


async def test_the_same_move_id_applies_once_and_returns_the_first_result(store: Store) -> None:
    await store.start_game(ALICE, game())
    first = await store.apply_round(ALICE, "m1", WIN)
    again = await store.apply_round(ALICE, "m1", LOSE)
    assert again is not None and again.repeated
    assert (again.round, again.game, again.stats) == (first.round, first.game, first.stats)  # type: ignore[union-attr]
    assert (await store.get_game(ALICE)).opponent_hp == 2  # type: ignore[union-attr]
    assert (await store.get_stats(ALICE)).wins == 1


async def test_move_ids_are_per_player(store: Store) -> None:
    await store.start_game(ALICE, game())
    await store.start_game(BOB, game())
    await store.apply_round(ALICE, "same", WIN)
    played = await store.apply_round(BOB, "same", WIN)
    assert played is not None and not played.repeated


async def test_the_start_game_is_used_only_when_none_runs(store: Store) -> None:
    played = await store.apply_round(ALICE, "m1", WIN, start=game("fresh"))
    assert played is not None and played.game.game_id == "fresh"
    played = await store.apply_round(ALICE, "m2", WIN, start=game("other"))
    assert played.game.game_id == "fresh" and played.game.opponent_hp == 1  # type: ignore[union-attr]


async def test_a_finished_game_is_removed_and_counted(store: Store) -> None:
    await store.start_game(ALICE, game(hp=2))
    await store.apply_round(ALICE, "m1", LOSE)
    last = await store.apply_round(ALICE, "m2", LOSE)
    assert last is not None and last.game.over and last.game.player_hp == 0
    assert await store.get_game(ALICE) is None
    assert (await store.get_stats(ALICE)).games_lost == 1
    repeat = await store.apply_round(ALICE, "m2", LOSE)
    assert repeat is not None and repeat.repeated and repeat.game.player_hp == 0


async def test_ensure_game_keeps_a_running_game_and_starts_one_otherwise(store: Store) -> None:
    assert await store.ensure_game(ALICE, game("first")) == game("first")
    assert await store.ensure_game(ALICE, game("second")) == game("first")
    results = await asyncio.gather(*(store.ensure_game(BOB, game(f"g{i}")) for i in range(20)))
    assert len({r.game_id for r in results}) == 1 and await store.get_game(BOB) == results[0]


async def test_end_game_returns_and_drops_the_game(store: Store) -> None:
    await store.start_game(ALICE, game())
    assert (await store.end_game(ALICE)) == game()
    assert await store.get_game(ALICE) is None


async def test_concurrent_moves_apply_exactly_once_each(store: Store) -> None:
    await store.start_game(ALICE, game(hp=1000))
    draws = throw(Move.ROCK, Move.ROCK)
    move_ids = [f"m{i}" for i in range(40)]
    results = await asyncio.gather(*(store.apply_round(ALICE, m, draws) for m in move_ids * 5))
    assert sum(not r.repeated for r in results) == 40  # type: ignore[union-attr]
    assert sorted(r.round.number for r in results if not r.repeated) == list(range(1, 41))  # type: ignore[union-attr]
    assert (await store.get_game(ALICE)).rounds_played == 40  # type: ignore[union-attr]
    assert (await store.get_stats(ALICE)).draws == 40
    by_id: dict[str, set[int]] = {}
    for move_id, result in zip(move_ids * 5, results):
        by_id.setdefault(move_id, set()).add(result.round.number)  # type: ignore[union-attr]
    assert all(len(numbers) == 1 for numbers in by_id.values())


async def test_history_keeps_the_newest_turns_in_order_per_conversation(store: Store) -> None:
    for i in range(5):
        await store.append_history("c1", [Turn("user", f"q{i}"), Turn("assistant", f"a{i}")], keep=6)
    await store.append_history("c2", [Turn("user", "other")], keep=6)
    kept = await store.load_history("c1")
    assert [t.content for t in kept] == ["q2", "a2", "q3", "a3", "q4", "a4"]
    assert [t.role for t in kept] == ["user", "assistant"] * 3
    assert await store.load_history("c2") == [Turn("user", "other")]
    assert await store.load_history("nobody") == []


async def test_sqlite_state_survives_reopening(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    first = await SQLiteStore.open(path)
    await first.apply_round(ALICE, "m1", WIN, start=game())
    await first.append_history("c1", [Turn("user", "hi")], keep=10)
    await first.close()
    second = await SQLiteStore.open(path)
    assert (await second.get_game(ALICE)).opponent_hp == 2  # type: ignore[union-attr]
    assert (await second.get_stats(ALICE)).wins == 1
    assert await second.load_history("c1") == [Turn("user", "hi")]
    assert (await second.apply_round(ALICE, "m1", LOSE)).repeated  # type: ignore[union-attr]
    await second.close()


async def test_two_sqlite_connections_on_one_file_apply_each_move_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two processes sharing the file behave like two stores: one write lock, one result per move."""
    path = tmp_path / "bot.db"
    a, b = await SQLiteStore.open(path), await SQLiteStore.open(path)
    await a.start_game(ALICE, game(hp=1000))
    draws = throw(Move.PAPER, Move.PAPER)
    calls = [s.apply_round(ALICE, f"m{i % 25}", draws) for i in range(100) for s in (a, b)]
    results = await asyncio.gather(*calls)
    assert sum(not r.repeated for r in results) == 25  # type: ignore[union-attr]
    assert (await b.get_game(ALICE)).rounds_played == 25  # type: ignore[union-attr]
    await a.close()
    await b.close()
