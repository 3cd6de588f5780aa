"""The store contract: every backend (the ``store`` fixture) must pass all of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

import pytest

from core import janken
from core.conversation import Turn
from core.janken import Move, Opponent, Outcome, Stats
from core.store import BoardLink, PlayerKey, Store, codec
from core.store.base import BOARDS_REMEMBERED
from core.store.redis import RedisStore
from core.store.sqlite import SQLiteStore
from tests.conftest import open_backend
from tests.store_records import plant, plant_board_opponent

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


async def test_the_same_move_delivered_twice_at_once_applies_once(store: Store) -> None:
    await store.start_game(ALICE, game())
    first, second = await asyncio.gather(
        store.apply_round(ALICE, "m1", WIN), store.apply_round(ALICE, "m1", LOSE)
    )
    assert first is not None and second is not None
    assert sorted([first.repeated, second.repeated]) == [False, True]
    assert (first.round, first.game, first.stats) == (second.round, second.game, second.stats)
    assert (await store.get_game(ALICE)).rounds_played == 1  # type: ignore[union-attr]
    stats = await store.get_stats(ALICE)
    assert stats.wins + stats.losses == 1


async def test_history_keeps_the_newest_turns_in_order_per_conversation(store: Store) -> None:
    for i in range(5):
        await store.append_history("c1", [Turn("user", f"q{i}"), Turn("assistant", f"a{i}")], keep=6)
    await store.append_history("c2", [Turn("user", "other")], keep=6)
    kept = await store.load_history("c1")
    assert [t.content for t in kept] == ["q2", "a2", "q3", "a3", "q4", "a4"]
    assert [t.role for t in kept] == ["user", "assistant"] * 3
    assert await store.load_history("c2") == [Turn("user", "other")]
    assert await store.load_history("nobody") == []


async def test_a_board_link_reads_back_and_an_unknown_board_is_none(store: Store) -> None:
    assert await store.board_of("C1:1.0") is None
    await store.link_board("C1:1.0", ALICE, "g1")
    await store.link_board("C1:2.0", BOB, "g2")
    assert await store.board_of("C1:1.0") == BoardLink(ALICE, "g1")
    assert await store.board_of("C1:2.0") == BoardLink(BOB, "g2")
    assert await store.board_of("C1:3.0") is None


async def test_relinking_a_board_replaces_its_link(store: Store) -> None:
    await store.link_board("C1:1.0", ALICE, "g1")
    await store.link_board("C1:1.0", ALICE, "g2")  # "play again" redraws the board with a new game
    assert await store.board_of("C1:1.0") == BoardLink(ALICE, "g2")
    await store.link_board("C1:1.0", BOB, "g3")
    assert await store.board_of("C1:1.0") == BoardLink(BOB, "g3")


async def test_a_board_link_keeps_every_part_of_the_player(store: Store) -> None:
    odd = PlayerKey("discord", "G:1", "user:with:colons")
    await store.link_board("x", odd, "g1")
    await store.link_board("y", PlayerKey("discord", "G", "1:user:with:colons"), "g1")
    assert await store.board_of("x") == BoardLink(odd, "g1")
    assert await store.board_of("y") == BoardLink(PlayerKey("discord", "G", "1:user:with:colons"), "g1")


async def test_each_player_keeps_only_their_newest_board_links(store: Store) -> None:
    refs = [f"C1:{i}.0" for i in range(BOARDS_REMEMBERED)]
    for ref in refs:
        await store.link_board(ref, ALICE, "g1")
    await store.link_board("C2:bob", BOB, "g1")
    await store.link_board(refs[0], ALICE, "g2")  # relinked: now alice's newest
    await store.link_board("C1:new", ALICE, "g2")  # one too many: the oldest, refs[1], goes
    assert await store.board_of(refs[1]) is None
    assert await store.board_of(refs[0]) == BoardLink(ALICE, "g2")
    assert all([await store.board_of(ref) == BoardLink(ALICE, "g1") for ref in refs[2:]])
    assert await store.board_of("C1:new") == BoardLink(ALICE, "g2")
    assert await store.board_of("C2:bob") == BoardLink(BOB, "g1")  # another player's links are their own


async def test_a_board_relinked_to_another_player_outlives_the_first_players_old_boards(store: Store) -> None:
    await store.link_board("shared", ALICE, "g1")
    await store.link_board("shared", BOB, "g2")
    for i in range(BOARDS_REMEMBERED):
        await store.link_board(f"alice-{i}", ALICE, "g1")
    assert await store.board_of("shared") == BoardLink(BOB, "g2")


CAT = Opponent("Cat wizard", "a grumpy cat wizard", "F123")


async def test_a_board_link_keeps_the_opponent_of_the_game_it_shows(store: Store) -> None:
    """The opponent outlives the game, which leaves the store when it ends: "play again" reads it here."""
    await store.start_game(ALICE, game())
    await store.link_board("C1:1.0", ALICE, "g1", CAT)
    await store.link_board("C1:2.0", ALICE, "g1", Opponent("Bot"))
    await store.link_board("C1:3.0", ALICE, "g1")
    await store.end_game(ALICE)
    assert await store.board_of("C1:1.0") == BoardLink(ALICE, "g1", CAT)
    assert await store.board_of("C1:2.0") == BoardLink(ALICE, "g1", Opponent("Bot"))
    assert await store.board_of("C1:3.0") == BoardLink(ALICE, "g1", None)  # not recorded
    await store.link_board("C1:1.0", ALICE, "g2", Opponent("Dog"))  # "play again" against another
    assert (await store.board_of("C1:1.0")).opponent == Opponent("Dog")  # type: ignore[union-attr]


async def test_an_answer_link_reads_back_and_an_unknown_message_is_none(store: Store) -> None:
    assert await store.conversation_of("C1:1") is None
    await store.link_answer("C1:1", "discord:G:C1:i1")
    await store.link_answer("C1:2", "discord:G:C1:i1")  # a long answer's second message
    await store.link_answer("C1:3", "discord:G:C1:i2")
    assert await store.conversation_of("C1:1") == "discord:G:C1:i1"
    assert await store.conversation_of("C1:2") == "discord:G:C1:i1"
    assert await store.conversation_of("C1:3") == "discord:G:C1:i2"
    assert await store.conversation_of("C1:4") is None
    assert await store.board_of("C1:1") is None  # answer links and board links are apart


async def test_relinking_an_answer_replaces_its_conversation(store: Store) -> None:
    await store.link_answer("C1:1", "discord:G:C1:i1")
    await store.link_answer("C1:1", "discord:G:C1:i2")
    assert await store.conversation_of("C1:1") == "discord:G:C1:i2"


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def few_answers(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:  # type: ignore[no-untyped-def]
    """Every backend, remembering only 3 answer links (the real bound is too many to make here)."""
    backend = await open_backend(request.param, request, tmp_path, answers_remembered=3)
    yield backend
    await backend.close()


async def test_an_answer_link_is_forgotten_once_the_bound_of_newer_links_is_made(few_answers: Store) -> None:
    store = few_answers
    for ref in "abc":
        await store.link_answer(ref, f"conv-{ref}")
    assert [await store.conversation_of(ref) for ref in "abc"] == ["conv-a", "conv-b", "conv-c"]
    await store.link_answer("d", "conv-d")  # the 4th link: "a" was made 3 links ago, it goes
    assert await store.conversation_of("a") is None
    await store.link_answer("b", "conv-b")  # relinked: renewed
    await store.link_answer("e", "conv-e")
    await store.link_answer("f", "conv-f")
    found = {ref: await store.conversation_of(ref) for ref in "abcdef"}
    assert found == {"a": None, "b": "conv-b", "c": None, "d": None, "e": "conv-e", "f": "conv-f"}


@pytest.fixture(params=["sqlite", "redis"])
def reopen(request: pytest.FixtureRequest, tmp_path) -> Callable[[], Awaitable[Store]]:  # type: ignore[no-untyped-def]
    """Opens the same durable store again each time it is called (a restart)."""
    if request.param == "sqlite":
        return lambda: SQLiteStore.open(tmp_path / "bot.db")
    redis_db = request.getfixturevalue("redis_db")
    return lambda: RedisStore.open(redis_db)


async def test_durable_state_survives_reopening(reopen: Callable[[], Awaitable[Store]]) -> None:
    first = await reopen()
    await first.apply_round(ALICE, "m1", WIN, start=game())
    await first.append_history("c1", [Turn("user", "hi")], keep=10)
    await first.link_board("C1:1.0", ALICE, "g1", CAT)
    await first.link_answer("C1:2", "discord:G:C1:i1")
    await first.keep_blob("art:g1", b"\x00\xffjpeg", 60)
    await first.close()
    second = await reopen()
    assert (await second.get_game(ALICE)).opponent_hp == 2  # type: ignore[union-attr]
    assert (await second.get_stats(ALICE)).wins == 1
    assert await second.load_history("c1") == [Turn("user", "hi")]
    assert await second.board_of("C1:1.0") == BoardLink(ALICE, "g1", CAT)
    assert await second.conversation_of("C1:2") == "discord:G:C1:i1"
    assert await second.blob("art:g1") == b"\x00\xffjpeg"
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


async def test_two_redis_clients_on_one_database_apply_each_move_once(redis_db: str) -> None:
    """Two processes sharing one Redis: the same move from both applies once, the other gets its result."""
    a, b = await RedisStore.open(redis_db), await RedisStore.open(redis_db)
    await a.start_game(ALICE, game(hp=1000))
    first, second = await asyncio.gather(a.apply_round(ALICE, "m1", WIN), b.apply_round(ALICE, "m1", LOSE))
    assert sorted([first.repeated, second.repeated]) == [False, True]  # type: ignore[union-attr]
    assert (first.round, first.game) == (second.round, second.game)  # type: ignore[union-attr]
    draws = throw(Move.PAPER, Move.PAPER)
    calls = [s.apply_round(ALICE, f"m{i % 25}", draws) for i in range(100) for s in (a, b)]
    results = await asyncio.gather(*calls)
    assert sum(not r.repeated for r in results) == 24  # type: ignore[union-attr]  # m1 was played above
    assert (await b.get_game(ALICE)).rounds_played == 25  # type: ignore[union-attr]
    await a.close()
    await b.close()


async def test_a_database_from_before_board_opponents_gains_them_and_keeps_its_boards(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE boards (seq INTEGER PRIMARY KEY AUTOINCREMENT, ref TEXT NOT NULL UNIQUE, "
            "platform TEXT NOT NULL, workspace TEXT NOT NULL, user_id TEXT NOT NULL, game_id TEXT NOT NULL)"
        )
        old.execute(
            "INSERT INTO boards (ref, platform, workspace, user_id, game_id) "
            "VALUES ('old', 'slack', 'T1', 'alice', 'g0')"
        )
    a, b = await asyncio.gather(SQLiteStore.open(path), SQLiteStore.open(path))  # two processes starting
    assert await a.board_of("old") == BoardLink(ALICE, "g0", None)
    await b.link_board("new", ALICE, "g1", CAT)
    assert await a.board_of("new") == BoardLink(ALICE, "g1", CAT)
    await a.close()
    await b.close()


# Records this build cannot read: they count as absent, are logged once, and are replaced.


_MISSING = object()


def _game_fields(**changes: object) -> str:
    """A good game record with ``changes`` (``_MISSING`` removes a field)."""
    data = json.loads(codec.dump_game(game("old")))
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not _MISSING})


UNREADABLE_GAMES = {
    "garbage": "{not json",
    "empty": "",
    "a list": "[1, 2]",
    "unknown version": _game_fields(v=2),
    "version as text": _game_fields(v="1"),
    "missing field": _game_fields(max_hp=_MISSING),
    "older schema": json.dumps({"id": "g0", "opponent": "Bot", "hp": [3, 3]}),
    "mistyped field": _game_fields(player_hp="3"),
    "bad move": _game_fields(
        last_round={"number": 1, "player_move": "lizard", "opponent_move": "rock", "outcome": "win"}
    ),
    "already over": _game_fields(player_hp=0),
}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("core.store") and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("text", UNREADABLE_GAMES.values(), ids=UNREADABLE_GAMES.keys())
async def test_an_unreadable_game_counts_as_none_and_the_next_game_replaces_it(
    store: Store, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    await plant(store, "games", ALICE, text)
    assert await store.get_game(ALICE) is None
    assert await store.get_game(ALICE) is None
    assert await store.ensure_game(ALICE, game("new")) == game("new")
    assert await store.get_game(ALICE) == game("new")
    [warning] = _warnings(caplog)  # logged when found and dropped, not on every read
    assert str(ALICE) in warning.getMessage() and warning.exc_info is None


async def test_quitting_or_playing_over_an_unreadable_game_works(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await plant(store, "games", ALICE, UNREADABLE_GAMES["unknown version"])
    assert await store.end_game(ALICE) is None
    await plant(store, "games", ALICE, UNREADABLE_GAMES["missing field"])
    assert await store.apply_round(ALICE, "m1", WIN) is None  # no start: nothing to play
    assert await store.get_game(ALICE) is None  # ...but the unreadable game is gone
    await plant(store, "games", ALICE, UNREADABLE_GAMES["garbage"])
    played = await store.apply_round(ALICE, "m2", WIN, start=game("fresh"))
    assert played is not None and played.game.game_id == "fresh" and played.round.number == 1
    assert (await store.get_game(ALICE)) == played.game
    assert len(_warnings(caplog)) == 3


async def test_a_game_written_before_versions_existed_still_reads(store: Store) -> None:
    await plant(store, "games", ALICE, _game_fields(v=_MISSING))
    assert await store.get_game(ALICE) == game("old")


async def test_unreadable_stats_count_as_a_fresh_record_and_are_replaced(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await plant(store, "stats", ALICE, json.dumps({"v": 1, "wins": "many"}))
    assert await store.get_stats(ALICE) == Stats()
    assert await store.get_stats(ALICE) == Stats()
    await plant(store, "stats", BOB, '{"v": 7}')
    await store.apply_round(BOB, "m1", WIN, start=game())
    assert await store.get_stats(BOB) == Stats(wins=1, streak=1, best_streak=1)
    assert len(_warnings(caplog)) == 2


async def test_a_repeated_move_whose_result_is_unreadable_is_not_played_again(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await store.start_game(ALICE, game())
    await store.apply_round(ALICE, "m1", WIN)
    await plant(store, "moves", ALICE, "{truncated", move_id="m1")
    assert await store.apply_round(ALICE, "m1", WIN) is None
    assert await store.apply_round(ALICE, "m1", WIN) is None
    assert (await store.get_game(ALICE)).opponent_hp == 2  # type: ignore[union-attr]
    assert len(_warnings(caplog)) == 1
    assert not (await store.apply_round(ALICE, "m2", WIN)).repeated  # type: ignore[union-attr]


UNREADABLE_OPPONENTS = {
    "garbage": "{not json",
    "unknown version": json.dumps({"v": 2, "name": "Cat", "description": "", "image_ref": None}),
    "missing name": json.dumps({"v": 1, "description": "", "image_ref": None}),
    "mistyped image": json.dumps({"v": 1, "name": "Cat", "description": "", "image_ref": 5}),
}


@pytest.mark.parametrize("text", UNREADABLE_OPPONENTS.values(), ids=UNREADABLE_OPPONENTS.keys())
async def test_a_board_whose_opponent_is_unreadable_still_reads_without_it(
    store: Store, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    await store.link_board("C1:1.0", ALICE, "g1", CAT)
    await plant_board_opponent(store, "C1:1.0", text)
    assert await store.board_of("C1:1.0") == BoardLink(ALICE, "g1", None)
    assert await store.board_of("C1:1.0") == BoardLink(ALICE, "g1", None)
    [warning] = _warnings(caplog)  # logged when found and dropped, not on every read
    assert str(ALICE) in warning.getMessage() and warning.exc_info is None
    await store.link_board("C1:1.0", ALICE, "g2", CAT)
    assert await store.board_of("C1:1.0") == BoardLink(ALICE, "g2", CAT)
