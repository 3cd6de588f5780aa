"""The store contract for the command log, monthly usage, counter reads and the leaderboard: every
backend (the ``store`` fixture) must pass it; the last tests check what one backend alone can show.

Retention is tested with entries whose ``time`` lies in the past, not by waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import AsyncIterator
from functools import partial

import pytest
import redis.asyncio

from core import janken
from core.janken import Move, Opponent, Stats
from core.store import HistoryEntry, PlayerKey, Store, Usage, codec
from core.store.activity import ENTRY_CHARS, PLAYER_NAME_CHARS, UNRECORDED_MODEL, USAGE_TTL, month_of
from core.store.memory import MemoryStore
from core.store.redis import PREFIX, RedisStore
from core.store.sqlite import SQLiteStore
from tests.conftest import open_backend
from tests.store_records import plant, plant_entry, stored_entries

ALICE = PlayerKey("slack", "T1", "alice")
BOB = PlayerKey("slack", "T1", "bob")

DAY = 24 * 3600.0
KEEP = 30 * DAY
"""The retention most tests log and read with (HISTORY_DAYS' default)."""


def entry(age: float, prompt: str = "q", *, now: float | None = None) -> HistoryEntry:
    """An /ask entry logged ``age`` seconds ago."""
    return HistoryEntry(
        time=(now or time.time()) - age,
        command="ask",
        prompt=prompt,
        answer=f"answer to {prompt}",
        model="gpt-test",
        usage=Usage(tokens_in=10, tokens_out=20),
    )


async def prompts(store: Store, player: PlayerKey, *, offset: int = 0, limit: int = 100, keep: float = KEEP):
    return [e.prompt for e in await store.entries(player, offset=offset, limit=limit, keep=keep)]


# The command log.


async def test_entries_page_newest_first(store: Store) -> None:
    for i in (3, 0, 6, 1, 5, 2, 4):  # logged out of order: the entry's own time orders them
        await store.log_entry(ALICE, entry(age=100 - i, prompt=f"q{i}"), keep=KEEP)
    await store.log_entry(BOB, entry(age=0, prompt="bob's"), keep=KEEP)
    pages = [await prompts(store, ALICE, offset=offset, limit=3) for offset in (0, 3, 6, 9)]
    assert pages == [["q6", "q5", "q4"], ["q3", "q2", "q1"], ["q0"], []]
    assert await prompts(store, ALICE, offset=2, limit=2) == ["q4", "q3"]
    assert await prompts(store, ALICE, limit=0) == []
    assert await prompts(store, BOB) == ["bob's"]
    assert await prompts(store, PlayerKey("slack", "T2", "alice")) == []  # the same user elsewhere


async def test_entries_of_one_time_come_the_later_logged_first(store: Store) -> None:
    now = time.time()
    for prompt in ("first", "second", "third"):
        await store.log_entry(ALICE, entry(age=5, prompt=prompt, now=now), keep=KEEP)
    assert await prompts(store, ALICE) == ["third", "second", "first"]


async def test_an_entry_round_trips_whole(store: Store) -> None:
    drawn = HistoryEntry(
        time=1_700_000_000.25 + time.time() - 1_700_000_000,
        command="draw",
        prompt="a cat wizard ✨",
        answer="F0123IMAGE",
        model="gpt-image-2",
        usage=Usage(tokens_in=31, tokens_out=0, images=1),
    )
    await store.log_entry(ALICE, drawn, keep=KEEP)
    assert await store.entries(ALICE, offset=0, limit=10, keep=KEEP) == [drawn]


async def test_count_and_clear(store: Store) -> None:
    assert await store.count_entries(ALICE, keep=KEEP) == 0
    for i in range(4):
        await store.log_entry(ALICE, entry(age=10 + i), keep=KEEP)
    await store.log_entry(BOB, entry(age=1), keep=KEEP)
    assert await store.count_entries(ALICE, keep=KEEP) == 4
    assert await store.clear_entries(ALICE, keep=KEEP) == 4
    assert await store.count_entries(ALICE, keep=KEEP) == 0
    assert await prompts(store, ALICE) == [] and await stored_entries(store, ALICE) == []
    assert await store.clear_entries(ALICE, keep=KEEP) == 0
    assert await store.count_entries(BOB, keep=KEEP) == 1  # another's log is their own


async def test_concurrent_logging_keeps_every_entry(store: Store) -> None:
    await asyncio.gather(
        *(store.log_entry(ALICE, entry(age=i, prompt=f"q{i}"), keep=KEEP) for i in range(30))
    )
    assert await store.count_entries(ALICE, keep=KEEP) == 30
    assert await prompts(store, ALICE, limit=3) == ["q0", "q1", "q2"]


async def test_entries_older_than_the_retention_are_never_shown_and_then_deleted(store: Store) -> None:
    hour = 3600.0
    await store.log_entry(ALICE, entry(age=2 * hour, prompt="old"), keep=KEEP)
    await store.log_entry(ALICE, entry(age=10, prompt="new"), keep=KEEP)
    assert await prompts(store, ALICE, keep=hour) == ["new"]  # hidden before anything deletes it
    assert await store.count_entries(ALICE, keep=hour) == 1
    assert len(await stored_entries(store, ALICE)) == 2
    await store.log_entry(ALICE, entry(age=5, prompt="newer"), keep=hour)  # a write trims the log
    assert [json.loads(text)["prompt"] for text in await stored_entries(store, ALICE)] == ["new", "newer"]
    await store.log_entry(ALICE, entry(age=2 * hour, prompt="late"), keep=hour)  # too old already
    assert await prompts(store, ALICE, keep=hour) == ["newer", "new"]
    assert len(await stored_entries(store, ALICE)) == 2


async def test_clearing_counts_only_what_the_retention_keeps(store: Store) -> None:
    await store.log_entry(ALICE, entry(age=2 * DAY), keep=KEEP)
    await store.log_entry(ALICE, entry(age=10), keep=KEEP)
    assert await store.clear_entries(ALICE, keep=DAY) == 1
    assert await stored_entries(store, ALICE) == []


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def few_entries(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:  # type: ignore[no-untyped-def]
    """Every backend, keeping only 3 entries per player (the real bound is too many to log here)."""
    backend = await open_backend(request.param, request, tmp_path, entries_remembered=3)
    yield backend
    await backend.close()


async def test_each_player_keeps_only_their_newest_entries(few_entries: Store) -> None:
    store = few_entries
    for i in range(5):
        await store.log_entry(ALICE, entry(age=100 - i, prompt=f"q{i}"), keep=KEEP)
    await store.log_entry(BOB, entry(age=0), keep=KEEP)
    assert await prompts(store, ALICE) == ["q4", "q3", "q2"]
    assert await store.count_entries(ALICE, keep=KEEP) == 3
    assert len(await stored_entries(store, ALICE)) == 3
    assert await store.count_entries(BOB, keep=KEEP) == 1


async def test_a_huge_answer_is_stored_cut(store: Store) -> None:
    huge = HistoryEntry(time.time(), "ask", "p" * 10_000, "x" * 1_000_000, "gpt-test")
    await store.log_entry(ALICE, huge, keep=KEEP)
    [kept] = await store.entries(ALICE, offset=0, limit=1, keep=KEEP)
    assert len(kept.answer) == len(kept.prompt) == ENTRY_CHARS
    assert kept.answer.startswith("x" * 100) and kept.answer.endswith("…")
    assert kept.prompt.startswith("p" * 100) and kept.model == "gpt-test"
    [record] = await stored_entries(store, ALICE)
    assert len(record) < 3 * ENTRY_CHARS


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("core.store") and r.levelno >= logging.WARNING]


UNREADABLE_ENTRIES = {
    "garbage": "{not json",
    "unknown version": json.dumps({**json.loads(codec.dump_entry(entry(0))), "v": 2}),
    "unknown command": json.dumps({**json.loads(codec.dump_entry(entry(0))), "command": "sing"}),
    "mistyped usage": json.dumps({**json.loads(codec.dump_entry(entry(0))), "usage": {"images": "1"}}),
}


@pytest.mark.parametrize("text", UNREADABLE_ENTRIES.values(), ids=UNREADABLE_ENTRIES.keys())
async def test_an_unreadable_entry_is_skipped_and_logged_once(
    store: Store, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    now = time.time()
    for i in range(4):
        await store.log_entry(ALICE, entry(age=40 - 10 * i, prompt=f"q{i}", now=now), keep=KEEP)
    await plant_entry(store, ALICE, now - 25, text)  # between q1 and q2
    assert await prompts(store, ALICE, limit=3) == ["q3", "q2", "q1"]  # the page is still full
    assert await prompts(store, ALICE, limit=3) == ["q3", "q2", "q1"]
    assert await prompts(store, ALICE, offset=3) == ["q0"]
    [warning] = _warnings(caplog)
    assert str(ALICE) in warning.getMessage() and warning.exc_info is None
    assert await store.count_entries(ALICE, keep=KEEP) == 4


# Usage this month, and today's counters.


FINE_TUNED = "ft:gpt-4o-mini:acme|lab:fox:AbC123"
"""A fine-tuned model's id: colons, and here even the Redis field separator."""


async def test_usage_adds_up_per_player_month_and_model(store: Store) -> None:
    assert await store.usage(ALICE, "2025-06") == {}
    await store.add_usage(ALICE, "2025-06", "chat", Usage(tokens_in=100, tokens_out=250))
    await store.add_usage(ALICE, "2025-06", "image", Usage(images=1))
    await store.add_usage(ALICE, "2025-06", "chat", Usage(tokens_in=5, tokens_out=7))
    await store.add_usage(ALICE, "2025-06", FINE_TUNED, Usage(tokens_in=3, tokens_out=4, images=2))
    await store.add_usage(ALICE, "2025-06", "idle", Usage())  # nothing used: no totals for it
    await store.add_usage(ALICE, "2025-07", "chat", Usage(tokens_in=1))
    await store.add_usage(BOB, "2025-06", "image", Usage(images=4))
    june = await store.usage(ALICE, "2025-06")
    assert june == {
        "chat": Usage(tokens_in=105, tokens_out=257),
        "image": Usage(images=1),
        FINE_TUNED: Usage(tokens_in=3, tokens_out=4, images=2),
    }
    assert Usage.total(june.values()) == Usage(tokens_in=108, tokens_out=261, images=3)
    assert await store.usage(ALICE, "2025-07") == {"chat": Usage(tokens_in=1)}
    assert await store.usage(BOB, "2025-06") == {"image": Usage(images=4)}
    assert await store.usage(PlayerKey("slack", "T2", "alice"), "2025-06") == {}
    assert Usage.total([]) == Usage()


async def test_concurrent_usage_additions_all_count(store: Store) -> None:
    await asyncio.gather(
        *(store.add_usage(ALICE, "2025-06", f"m{n % 2}", Usage(tokens_in=1, images=n % 2)) for n in range(40))
    )
    assert await store.usage(ALICE, "2025-06") == {
        "m0": Usage(tokens_in=20),
        "m1": Usage(tokens_in=20, images=20),
    }


async def _usage_lifetime(store: Store, player: PlayerKey, month: str, model: str) -> float:
    """How long ``model``'s totals of ``month`` have left (memory and Redis keep one lifetime per month)."""
    if isinstance(store, MemoryStore):
        return store._usage[player, month][1] - time.monotonic()
    if isinstance(store, SQLiteStore):
        sql = "SELECT expires FROM model_usage WHERE player = ? AND month = ? AND model = ?"
        row = await store._run(lambda conn: conn.execute(sql, (str(player), month, model)).fetchone())
        return float(row[0]) - time.time()
    assert isinstance(store, RedisStore)
    millis = await store._redis.pttl(f"{PREFIX}usage:{month}:{player}")
    return math.inf if millis < 0 else millis / 1000


async def test_a_months_usage_expires_about_two_months_after_its_last_addition(store: Store) -> None:
    await store.add_usage(ALICE, "2025-06", "chat", Usage(tokens_in=1))
    await store.add_usage(ALICE, "2025-06", "image", Usage(images=1))
    for model in ("chat", "image"):
        assert USAGE_TTL - 60 < await _usage_lifetime(store, ALICE, "2025-06", model) <= USAGE_TTL
    assert 61 * DAY < USAGE_TTL < 63 * DAY


def test_the_month_is_the_utc_one() -> None:
    assert month_of(1_719_791_999) == "2024-06"  # 2024-06-30 23:59:59 UTC
    assert month_of(1_719_792_000) == "2024-07"


async def test_count_reads_a_counter_without_changing_it(store: Store) -> None:
    key = "quota:ask:2025-06-01:slack:T1:alice"
    assert await store.count(key) == 0
    assert await store.take_unit(key, 5, 60) == 1
    assert await store.take_unit(key, 5, 60) == 2
    assert await store.count(key) == 2
    assert await store.count(key) == 2
    assert await store.take_unit(key, 5, 60) == 3
    await store.give_unit(key)
    assert await store.count(key) == 2
    assert await store.count("quota:ask:2025-06-01:slack:T1:bob") == 0


async def test_an_expired_counter_counts_zero(store: Store) -> None:
    assert await store.take_unit("quota:draw:x", 5, 0.1) == 1
    await asyncio.sleep(0.25)
    assert await store.count("quota:draw:x") == 0


# The leaderboard.

WIN = partial(janken.play, player_move=Move.ROCK, opponent_move=Move.SCISSORS)
LOSE = partial(janken.play, player_move=Move.ROCK, opponent_move=Move.PAPER)


def _game(hp: int) -> janken.Game:
    return janken.new_game("g", Opponent("Bot"), hp)


async def play_to(store: Store, player: PlayerKey, *, games_won: int, best_streak: int) -> Stats:
    """Play rounds until ``player``'s record shows these (a game won makes a streak of at least 1)."""
    moves = iter(range(10_000))
    if best_streak:
        for _ in range(best_streak):  # a long game: round wins, no game won
            await store.apply_round(player, f"m{next(moves)}", WIN, start=_game(best_streak + 1))
        await store.end_game(player)
    for _ in range(games_won):
        await store.apply_round(player, f"m{next(moves)}", LOSE, start=_game(2))  # streak back to 0
        await store.end_game(player)
        await store.apply_round(player, f"m{next(moves)}", WIN, start=_game(1))  # a game won
    stats = await store.get_stats(player)
    assert (stats.games_won, stats.best_streak) == (games_won, max(best_streak, min(games_won, 1)))
    return stats


def _slack(user: str) -> PlayerKey:
    return PlayerKey("slack", "T1", user)


async def _top(store: Store, by: str, limit: int = 10, workspace: str = "T1") -> list[str]:
    top = await store.top_players("slack", workspace, by=by, limit=limit)  # type: ignore[arg-type]
    for row in top:
        assert row.stats == await store.get_stats(row.player)
    return [row.player.user for row in top]


async def _names(store: Store, by: str = "games_won", workspace: str = "T1") -> list[str]:
    """The names the leaderboard shows, in its order."""
    return [row.name for row in await store.top_players("slack", workspace, by=by, limit=10)]  # type: ignore[arg-type]


async def test_the_leaderboard_ranks_by_each_measure_with_ties_broken(store: Store) -> None:
    assert await _top(store, "games_won") == []
    await play_to(store, _slack("dave"), games_won=1, best_streak=4)
    await play_to(store, _slack("alice"), games_won=3, best_streak=1)
    await play_to(store, _slack("erin"), games_won=0, best_streak=2)
    await play_to(store, _slack("carol"), games_won=1, best_streak=4)  # dave's equal: by user id
    await play_to(store, _slack("bob"), games_won=3, best_streak=2)
    await play_to(store, _slack("frank"), games_won=0, best_streak=0)  # only draws and losses
    await store.apply_round(_slack("frank"), "d", LOSE, start=_game(3))
    assert await _top(store, "games_won") == ["bob", "alice", "carol", "dave"]
    assert await _top(store, "best_streak") == ["carol", "dave", "bob", "erin", "alice"]
    assert await _top(store, "games_won", limit=2) == ["bob", "alice"]
    assert await _top(store, "best_streak", limit=1) == ["carol"]
    assert await _top(store, "best_streak", limit=0) == []


async def test_the_leaderboard_is_per_workspace(store: Store) -> None:
    await play_to(store, _slack("alice"), games_won=1, best_streak=1)
    await play_to(store, PlayerKey("slack", "T2", "zed"), games_won=9, best_streak=9)
    await play_to(
        store, PlayerKey("discord", "T1", "yan"), games_won=8, best_streak=8
    )  # same id, other platform
    for by in ("games_won", "best_streak"):
        assert await _top(store, by) == ["alice"]
        assert await _top(store, by, workspace="T2") == ["zed"]
        assert await _top(store, by, workspace="T3") == []


async def test_the_leaderboard_follows_each_round(store: Store) -> None:
    await play_to(store, _slack("alice"), games_won=2, best_streak=1)
    await play_to(store, _slack("bob"), games_won=1, best_streak=3)
    assert await _top(store, "games_won") == ["alice", "bob"]
    for i in range(2):
        await store.apply_round(_slack("bob"), f"later{i}", WIN, start=_game(1))
    assert await _top(store, "games_won") == ["bob", "alice"]  # 3 games to 2
    assert (await store.top_players("slack", "T1", by="games_won", limit=1))[0].stats.games_won == 3


async def test_the_leaderboard_shows_each_players_latest_name(store: Store) -> None:
    await store.apply_round(_slack("alice"), "a1", WIN, start=_game(1), name="Alice")
    await store.apply_round(_slack("alice"), "a2", WIN, start=_game(1), name="Alice Liddell")  # renamed
    await store.apply_round(_slack("bob"), "b1", WIN, start=_game(1), name="Bob")
    await store.apply_round(_slack("bob"), "b2", LOSE, start=_game(3))  # a round with no name keeps Bob's
    # a move seen before changes nothing, its name neither
    await store.apply_round(_slack("bob"), "b1", WIN, start=_game(1), name="Not Bob")
    await play_to(store, _slack("carol"), games_won=1, best_streak=1)  # never named: her user id
    await store.apply_round(PlayerKey("slack", "T2", "alice"), "x", WIN, start=_game(1), name="Other Alice")
    assert await _names(store) == ["Alice Liddell", "Bob", "carol"]
    assert await _names(store, "best_streak") == ["Alice Liddell", "Bob", "carol"]
    assert await _names(store, workspace="T2") == ["Other Alice"]


async def test_a_long_name_is_cut_and_kept_as_text(store: Store) -> None:
    long = "@everyone <!here> " + "x" * 5_000
    await store.apply_round(_slack("alice"), "a1", WIN, start=_game(1), name=long)
    [name] = await _names(store)
    assert len(name) == PLAYER_NAME_CHARS and name.startswith("@everyone <!here> x") and name.endswith("…")


async def test_a_player_whose_stats_are_unreadable_is_left_out(store: Store) -> None:
    await play_to(store, _slack("alice"), games_won=2, best_streak=1)
    await play_to(store, _slack("bob"), games_won=1, best_streak=1)
    await plant(store, "stats", _slack("alice"), '{"v": 9}')
    assert await _top(store, "games_won") == ["bob"]


async def test_an_unknown_measure_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="leaderboard"):
        await store.top_players("slack", "T1", by="wins; DROP TABLE stats", limit=5)  # type: ignore[arg-type]


# What one backend alone can show.


async def test_sqlite_sweeps_other_players_expired_entries(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = await SQLiteStore.open(tmp_path / "bot.db")
    for i in range(5):
        await store.log_entry(BOB, entry(age=2 * DAY + i), keep=KEEP)  # bob never writes again
    await store.log_entry(ALICE, entry(age=0), keep=DAY)
    assert await stored_entries(store, BOB) == []
    await store.close()


async def test_a_redis_log_expires_when_its_newest_entry_grows_too_old(redis_db: str) -> None:
    store = await RedisStore.open(redis_db)
    key = f"{PREFIX}entries:{ALICE}"
    await store.log_entry(ALICE, entry(age=600), keep=3600)
    assert 2990 < await store._redis.pttl(key) / 1000 <= 3001
    await store.log_entry(ALICE, entry(age=1800), keep=3600)  # an older one does not shorten it
    assert 2990 < await store._redis.pttl(key) / 1000 <= 3001
    await store.log_entry(ALICE, entry(age=0), keep=3600)
    assert 3590 < await store._redis.pttl(key) / 1000 <= 3601
    await store.close()


async def test_sqlite_keeps_a_months_models_expiring_together(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = await SQLiteStore.open(tmp_path / "bot.db")

    async def expire_in(seconds: float) -> None:
        sql = "UPDATE model_usage SET expires = ?"
        await store._run(lambda conn: conn.execute(sql, (time.time() + seconds,)), write=True)

    await store.add_usage(ALICE, "2025-06", "chat", Usage(tokens_in=1))
    await expire_in(10)
    await store.add_usage(ALICE, "2025-06", "image", Usage(images=1))  # the month's last addition
    assert USAGE_TTL - 60 < await _usage_lifetime(store, ALICE, "2025-06", "chat") <= USAGE_TTL
    await expire_in(-1)
    assert await store.usage(ALICE, "2025-06") == {}  # expired: absent before anything deletes it
    await store.add_usage(BOB, "2025-06", "chat", Usage(tokens_in=2))  # a write sweeps others' expired totals
    rows = await store._run(lambda conn: conn.execute("SELECT player FROM model_usage").fetchall())
    assert rows == [(str(BOB),)]
    await store.close()


async def test_redis_reads_a_months_usage_from_before_models_as_model_unrecorded(redis_db: str) -> None:
    key = f"{PREFIX}usage:2025-06:{ALICE}"
    old = redis.asyncio.Redis.from_url(redis_db)
    # the hash as the build before per-model usage wrote it, and fields no build writes
    await old.hset(key, mapping={"tokens_in": 7, "tokens_out": 8, "images": 1, "junk": 5, "m|bogus": 9})
    await old.hset(key, mapping={"m|tokens_in": "not a number"})
    await old.pexpire(key, 3_600_000)
    await old.aclose()
    store = await RedisStore.open(redis_db)
    assert await store.usage(ALICE, "2025-06") == {
        UNRECORDED_MODEL: Usage(tokens_in=7, tokens_out=8, images=1)
    }
    await store.add_usage(ALICE, "2025-06", FINE_TUNED, Usage(tokens_in=3))
    await store.add_usage(ALICE, "2025-06", UNRECORDED_MODEL, Usage(images=1))
    assert await store.usage(ALICE, "2025-06") == {
        UNRECORDED_MODEL: Usage(tokens_in=7, tokens_out=8, images=2),
        FINE_TUNED: Usage(tokens_in=3),
    }
    assert USAGE_TTL - 60 < await store._redis.pttl(key) / 1000 <= USAGE_TTL  # one lifetime, renewed
    await store.close()


async def test_a_sqlite_file_from_before_usage_per_model_reads_its_totals_as_model_unrecorded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    now = time.time()
    # the usage table as the build before per-model usage made it
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE monthly_usage (player TEXT NOT NULL, month TEXT NOT NULL, "
            "tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, images INTEGER NOT NULL, "
            "expires REAL NOT NULL, PRIMARY KEY (player, month))"
        )
        old.execute("CREATE INDEX monthly_usage_by_expiry ON monthly_usage (expires)")
        old.execute("INSERT INTO monthly_usage VALUES (?, '2025-06', 7, 8, 1, ?)", (str(ALICE), now + DAY))
        old.execute("INSERT INTO monthly_usage VALUES (?, '2025-05', 1, 1, 1, ?)", (str(ALICE), now + DAY))
        old.execute("INSERT INTO monthly_usage VALUES (?, '2025-06', 5, 5, 5, ?)", (str(BOB), now - 1))
    a, b = await asyncio.gather(SQLiteStore.open(path), SQLiteStore.open(path))  # two processes starting
    assert await a.usage(ALICE, "2025-06") == {UNRECORDED_MODEL: Usage(tokens_in=7, tokens_out=8, images=1)}
    assert await b.usage(BOB, "2025-06") == {}  # expired
    await b.add_usage(ALICE, "2025-06", FINE_TUNED, Usage(tokens_in=3))
    await a.add_usage(ALICE, "2025-06", UNRECORDED_MODEL, Usage(images=1))
    june = {UNRECORDED_MODEL: Usage(tokens_in=7, tokens_out=8, images=2), FINE_TUNED: Usage(tokens_in=3)}
    assert await b.usage(ALICE, "2025-06") == june
    assert await a.usage(ALICE, "2025-05") == {UNRECORDED_MODEL: Usage(1, 1, 1)}
    old_rows = await a._run(lambda conn: conn.execute("SELECT player, month FROM monthly_usage").fetchall())
    assert sorted(old_rows) == [(str(ALICE), "2025-05"), (str(ALICE), "2025-06")]  # bob's swept
    # the old row lives on with the month's newer totals
    sql = "SELECT expires FROM monthly_usage WHERE player = ? AND month = '2025-06'"
    [(expires,)] = await a._run(lambda conn: conn.execute(sql, (str(ALICE),)).fetchall())
    assert USAGE_TTL - 60 < expires - time.time() <= USAGE_TTL
    await a.close()
    await b.close()
    reopened = await SQLiteStore.open(path)  # opening it again changes nothing
    assert await reopened.usage(ALICE, "2025-06") == june
    await reopened.close()


async def test_redis_ranks_stats_kept_before_the_leaderboard_when_it_opens(redis_db: str) -> None:
    old = redis.asyncio.Redis.from_url(redis_db)
    await old.set(f"{PREFIX}stats:slack:T1:alice", codec.dump_stats(Stats(games_won=2, best_streak=1)))
    await old.set(f"{PREFIX}stats:slack:T1:bob", codec.dump_stats(Stats(games_won=1, best_streak=5)))
    await old.set(f"{PREFIX}stats:slack:T1:carol", "{unreadable")
    await old.set(f"{PREFIX}stats:slack:T2:zed", codec.dump_stats(Stats(games_won=9, best_streak=9)))
    await old.aclose()
    a, b = await asyncio.gather(RedisStore.open(redis_db), RedisStore.open(redis_db))  # two processes
    assert await _top(a, "games_won") == ["alice", "bob"]
    assert await _top(b, "best_streak") == ["bob", "alice"]
    assert await _names(a) == ["alice", "bob"]  # no name kept yet: their user ids
    await b.apply_round(_slack("alice"), "m1", WIN, start=_game(1), name="Alice")
    assert (
        await _top(a, "games_won") == ["alice", "bob"] and (await a.get_stats(_slack("alice"))).games_won == 3
    )
    assert await _names(a) == ["Alice", "bob"]
    await a.close()
    await b.close()


async def test_a_sqlite_file_from_before_the_log_and_the_leaderboard_opens_and_works(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute("CREATE TABLE stats (player TEXT PRIMARY KEY, data TEXT NOT NULL)")
        old.execute(
            "CREATE TABLE counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"
        )
        for player, stats in (
            ("slack:T1:alice", codec.dump_stats(Stats(games_won=2, best_streak=1))),
            ("slack:T1:bob", codec.dump_stats(Stats(games_won=1, best_streak=5))),
            ("slack:T1:carol", "{unreadable"),
            ("slack:T2:zed", codec.dump_stats(Stats(games_won=9, best_streak=9))),
        ):
            old.execute("INSERT INTO stats (player, data) VALUES (?, ?)", (player, stats))
        old.execute("INSERT INTO counters VALUES ('quota:ask:today:alice', 2, ?)", (time.time() + 60,))
    a, b = await asyncio.gather(SQLiteStore.open(path), SQLiteStore.open(path))  # two processes starting
    assert await _top(a, "games_won") == ["alice", "bob"]
    assert await _top(b, "best_streak") == ["bob", "alice"]
    assert await _top(a, "games_won", workspace="T2") == ["zed"]
    await b.apply_round(_slack("alice"), "m1", WIN, start=_game(1))
    await b.apply_round(_slack("carol"), "m1", WIN, start=_game(1))  # the unreadable record, replaced
    assert await _top(a, "games_won") == ["alice", "bob", "carol"]
    assert await a.count("quota:ask:today:alice") == 2
    await a.log_entry(ALICE, entry(age=0, prompt="hello"), keep=KEEP)
    assert await prompts(b, ALICE) == ["hello"]
    await b.add_usage(ALICE, "2025-06", "m", Usage(tokens_in=3))
    assert await a.usage(ALICE, "2025-06") == {"m": Usage(tokens_in=3)}
    assert await _names(a) == ["alice", "bob", "carol"]  # no name kept: their user ids
    await a.close()
    await b.close()


async def test_a_sqlite_file_from_before_names_opens_and_names_players_as_they_play(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    # the stats table as the build before names made it
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE stats (player TEXT PRIMARY KEY, data TEXT NOT NULL, platform TEXT, workspace TEXT, "
            "user_id TEXT, games_won INTEGER NOT NULL DEFAULT 0, best_streak INTEGER NOT NULL DEFAULT 0)"
        )
        for user, stats in (
            ("alice", Stats(games_won=2, best_streak=1)),
            ("bob", Stats(games_won=1, best_streak=5)),
        ):
            old.execute(
                "INSERT INTO stats VALUES (?, ?, 'slack', 'T1', ?, ?, ?)",
                (f"slack:T1:{user}", codec.dump_stats(stats), user, stats.games_won, stats.best_streak),
            )
    a, b = await asyncio.gather(SQLiteStore.open(path), SQLiteStore.open(path))  # two processes starting
    assert await _names(a) == ["alice", "bob"] and await _names(a, "best_streak") == ["bob", "alice"]
    await b.apply_round(_slack("bob"), "m1", WIN, start=_game(1), name="Bob")
    await b.apply_round(_slack("bob"), "m2", WIN, start=_game(1))  # no name given: Bob's is kept
    assert await _names(a) == ["Bob", "alice"]  # 3 games to 2
    await a.close()
    await b.close()
    reopened = await SQLiteStore.open(path)  # opening a migrated file again changes nothing
    assert await _names(reopened) == ["Bob", "alice"]
    await reopened.close()
