"""The store's expiring primitives: claims, counters with a limit, conversations with a
lifetime, and blobs (small pictures kept for a while). Every backend (the ``store`` fixture) must pass all of it; the last tests check
what only one backend can show (several clients on one database, the file staying small).

Nothing here races the clock: whatever a test expects still there gets a lifetime it cannot
outlive (:data:`LONG`), what must be gone gets a short one and a wait past it (a busy machine
only makes the wait longer), and a renewal is read from the lifetime the backend holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from typing import Literal

import pytest

from core.conversation import Turn
from core.store import Store, memory
from core.store.base import BLOB_MAX
from core.store.memory import MemoryStore
from core.store.redis import PREFIX, RedisStore
from core.store.sqlite import SQLiteStore

LONG = 60.0
"""A lifetime no test outlives: whatever a test expects still there is given it."""

LONGER = 3600.0
"""A lifetime that would show as more than :data:`LONG` left if a call renewed with it."""

SHORT = 0.1
"""A lifetime a test waits out, to see what must be gone."""

HI, HO = Turn("user", "hi"), Turn("assistant", "ho")


async def _outlive(ttl: float) -> None:
    """Wait until whatever was given ``ttl`` before the call has surely expired (a busy machine
    only makes the wait longer); the margin covers the backends' clocks and their resolution."""
    await asyncio.sleep(ttl + 0.15)


async def _lifetime(store: Store, kind: Literal["claim", "count", "history", "blob"], key: str) -> float:
    """Seconds the backend has ``key`` (a claim, a counter, a conversation, a blob) live for;
    ``math.inf`` when it has no expiry. A renewal shows here without racing the clock."""
    if isinstance(store, MemoryStore):
        expiries = {
            "claim": store._claims,
            "count": store._counter_expiry,
            "history": store._history_expiry,
            "blob": store._blob_expiry,
        }
        expiry = expiries[kind].get(key)
        return math.inf if expiry is None else expiry - time.monotonic()
    if isinstance(store, SQLiteStore):
        table, column = {
            "claim": ("claims", "key"),
            "count": ("counters", "key"),
            "history": ("conversations", "conversation"),
            "blob": ("blobs", "key"),
        }[kind]
        row = await store._run(
            lambda conn: conn.execute(f"SELECT expires FROM {table} WHERE {column} = ?", (key,)).fetchone()
        )
        return math.inf if row is None else float(row[0]) - time.time()
    assert isinstance(store, RedisStore)
    millis = await store._redis.pttl(f"{PREFIX}{kind}:{key}")
    assert millis != -2, f"no {kind} {key!r}"
    return math.inf if millis == -1 else millis / 1000


async def test_a_key_is_claimed_once_until_released(store: Store) -> None:
    assert await store.claim("event:e1", 60) is True
    assert await store.claim("event:e1", 60) is False
    assert await store.claim("event:e2", 60) is True
    await store.release("event:e1")
    assert await store.claim("event:e1", 60) is True
    await store.release("never-claimed")


async def test_a_claim_expires_after_its_ttl(store: Store) -> None:
    assert await store.claim("inflight:alice", LONG)
    assert not await store.claim("inflight:alice", LONGER)  # held before its ttl...
    assert await _lifetime(store, "claim", "inflight:alice") <= LONG  # ...and a failed claim did not renew it
    assert await store.claim("inflight:bob", SHORT)
    await _outlive(SHORT)
    assert await store.claim("inflight:bob", LONG)


async def test_a_release_by_another_holder_leaves_the_claim(store: Store) -> None:
    assert await store.claim("inflight:draw:alice", LONG, holder="A")
    await store.release("inflight:draw:alice", holder="B")
    await store.release("inflight:draw:alice")  # nor does a release without a holder free it
    assert not await store.claim("inflight:draw:alice", LONG, holder="B")


async def test_the_holders_release_frees_the_claim(store: Store) -> None:
    assert await store.claim("inflight:draw:alice", LONG, holder="A")
    await store.release("inflight:draw:alice", holder="A")
    assert await store.claim("inflight:draw:alice", LONG, holder="B")
    await store.release("inflight:draw:alice", holder="A")  # A no longer holds it
    assert not await store.claim("inflight:draw:alice", LONG, holder="C")


async def test_a_holder_whose_claim_expired_cannot_free_the_next_holders(store: Store) -> None:
    assert await store.claim("inflight:draw:alice", SHORT, holder="A")
    await _outlive(SHORT)
    assert await store.claim("inflight:draw:alice", LONG, holder="B")
    await store.release("inflight:draw:alice", holder="A")  # A's request ends late, in its finally
    assert not await store.claim("inflight:draw:alice", LONG, holder="C")
    await store.release("inflight:draw:alice", holder="B")
    assert await store.claim("inflight:draw:alice", LONG, holder="C")


async def test_fifty_concurrent_claims_of_one_key_give_exactly_one(store: Store) -> None:
    taken = await asyncio.gather(*(store.claim("event:burst", 60) for _ in range(50)))
    assert taken.count(True) == 1


async def test_a_counter_counts_up_to_its_limit_then_refuses(store: Store) -> None:
    assert [await store.take_unit("draw:alice", 3, 60) for _ in range(5)] == [1, 2, 3, None, None]
    assert await store.take_unit("draw:bob", 3, 60) == 1
    assert await store.take_unit("draw:none", 0, 60) is None


async def test_a_hundred_concurrent_takes_count_exactly_the_limit(store: Store) -> None:
    counts = await asyncio.gather(*(store.take_unit("draw:alice", 7, 60) for _ in range(100)))
    assert sorted(c for c in counts if c is not None) == [1, 2, 3, 4, 5, 6, 7]
    assert await store.take_unit("draw:alice", 7, 60) is None


async def test_a_unit_given_back_can_be_taken_again(store: Store) -> None:
    for _ in range(2):
        await store.take_unit("draw:alice", 2, 60)
    await store.give_unit("draw:alice")
    assert await store.take_unit("draw:alice", 2, 60) == 2
    assert await store.take_unit("draw:alice", 2, 60) is None


async def test_a_counter_never_goes_below_zero(store: Store) -> None:
    await store.give_unit("draw:alice")  # no counter: nothing to give back, none is made
    assert await store.take_unit("draw:alice", 1, 60) == 1
    for _ in range(3):
        await store.give_unit("draw:alice")
    assert await store.take_unit("draw:alice", 1, 60) == 1
    assert await store.take_unit("draw:alice", 1, 60) is None


async def test_a_counter_expires_ttl_after_its_first_use_and_later_uses_do_not_renew_it(store: Store) -> None:
    assert await store.take_unit("draw:alice", 5, LONG) == 1
    assert await store.take_unit("draw:alice", 5, LONGER) == 2
    assert await _lifetime(store, "count", "draw:alice") <= LONG  # renewing would keep it past its ttl
    assert await store.take_unit("draw:bob", 5, SHORT) == 1
    await _outlive(SHORT)
    assert await store.take_unit("draw:bob", 5, LONG) == 1


async def test_a_counter_given_back_to_zero_keeps_its_first_expiry(store: Store) -> None:
    assert await store.take_unit("draw:alice", 5, LONG) == 1
    await store.give_unit("draw:alice")
    assert await store.take_unit("draw:alice", 5, LONGER) == 1  # the counter's use, not its creation
    assert await store.take_unit("draw:alice", 5, LONGER) == 2
    assert await _lifetime(store, "count", "draw:alice") <= LONG


async def test_a_conversation_with_a_ttl_is_forgotten_after_it(store: Store) -> None:
    await store.append_history("c1", [HI, HO], keep=10, ttl=SHORT)
    await store.append_history("c2", [HI], keep=10)
    await store.append_history("c3", [HI, HO], keep=10, ttl=LONG)
    assert await store.load_history("c3") == [HI, HO]
    await _outlive(SHORT)
    assert await store.load_history("c1") == []
    assert await store.load_history("c2") == [HI]
    assert await store.load_history("c3") == [HI, HO]  # kept until its own ttl
    await store.append_history("c1", [HO], keep=10, ttl=LONG)  # a new conversation, not the old one's end
    assert await store.load_history("c1") == [HO]


async def test_each_append_renews_a_conversation(store: Store) -> None:
    await store.append_history("c1", [HI], keep=10, ttl=LONG)
    await store.append_history("c1", [HO], keep=10, ttl=LONGER)
    assert await store.load_history("c1") == [HI, HO]
    assert await _lifetime(store, "history", "c1") > LONG
    await store.append_history("c1", [HI], keep=10, ttl=SHORT)  # the last append's ttl counts
    await _outlive(SHORT)
    assert await store.load_history("c1") == []


async def test_an_append_without_a_ttl_keeps_the_conversation_for_ever(store: Store) -> None:
    await store.append_history("c1", [HI], keep=10, ttl=LONG)
    await store.append_history("c1", [HO], keep=10)
    assert await store.load_history("c1") == [HI, HO]
    assert await _lifetime(store, "history", "c1") == math.inf


PICTURE = random.Random(0).randbytes(200 * 1024)
"""A thumbnail's worth of bytes (a 400x400 JPEG is some 20-60 KB), every byte value among them."""


async def test_a_blob_reads_back_byte_for_byte_and_a_missing_one_is_none(store: Store) -> None:
    assert await store.blob("art:g1") is None
    await store.keep_blob("art:g1", PICTURE, LONG)
    await store.keep_blob("art:odd", b"\x00\xff", LONG)
    await store.keep_blob("art:every", bytes(range(256)), LONG)
    await store.keep_blob("art:empty", b"", LONG)
    await store.keep_blob("art:max", bytes(BLOB_MAX), LONG)  # exactly the bound is kept
    assert await store.blob("art:g1") == PICTURE
    assert await store.blob("art:odd") == b"\x00\xff"
    assert await store.blob("art:every") == bytes(range(256))
    assert await store.blob("art:empty") == b""
    assert await store.blob("art:max") == bytes(BLOB_MAX)
    assert await store.blob("art:g2") is None
    assert await store.count("art:g1") == 0 and await store.claim("art:g1", LONG)  # blobs are apart


async def test_keeping_a_blob_again_replaces_its_bytes_and_its_expiry(store: Store) -> None:
    await store.keep_blob("art:g1", b"first", LONG)
    await store.keep_blob("art:g1", b"second", LONGER)
    assert await store.blob("art:g1") == b"second"
    assert await _lifetime(store, "blob", "art:g1") > LONG  # renewed with the new ttl
    await store.keep_blob("art:g1", b"third", SHORT)  # the last keep's ttl counts, a shorter one too
    await _outlive(SHORT)
    assert await store.blob("art:g1") is None


async def test_a_blob_expires_after_its_ttl_and_reading_does_not_renew_it(store: Store) -> None:
    await store.keep_blob("art:short", b"gone", SHORT)
    await store.keep_blob("art:long", b"kept", LONG)
    await _outlive(SHORT)
    assert await store.blob("art:short") is None
    assert await store.blob("art:long") == b"kept"
    assert await _lifetime(store, "blob", "art:long") <= LONG
    await store.keep_blob("art:short", b"new", LONG)  # kept afresh, not the old one's end
    assert await store.blob("art:short") == b"new"


REFUSED_BLOBS = {
    "one byte too many": (bytes(BLOB_MAX + 1), LONG),
    "zero ttl": (b"art", 0.0),
    "negative ttl": (b"art", -1.0),
    "NaN ttl": (b"art", math.nan),
    "infinite ttl": (b"art", math.inf),
}


@pytest.mark.parametrize(("data", "ttl"), REFUSED_BLOBS.values(), ids=REFUSED_BLOBS.keys())
async def test_a_blob_too_big_or_without_a_positive_ttl_is_refused_and_nothing_is_kept(
    store: Store, data: bytes, ttl: float
) -> None:
    await store.keep_blob("art:old", b"old", LONG)
    with pytest.raises(ValueError):
        await store.keep_blob("art:new", data, ttl)
    with pytest.raises(ValueError):
        await store.keep_blob("art:old", data, ttl)
    assert await store.blob("art:new") is None
    assert await store.blob("art:old") == b"old"
    assert await _lifetime(store, "blob", "art:old") <= LONG


async def test_a_live_store_answers_a_ping(store: Store) -> None:
    await store.ping()


# Several clients of one database (two processes of a deployment).


@pytest.fixture(params=["sqlite", "redis"])
async def two_clients(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[tuple[Store, Store]]:  # type: ignore[no-untyped-def]
    """Two stores open on the same database, as two processes would have them."""

    async def open_one() -> Store:
        if request.param == "sqlite":
            return await SQLiteStore.open(tmp_path / "bot.db")
        return await RedisStore.open(request.getfixturevalue("redis_db"))

    a, b = await open_one(), await open_one()
    yield a, b
    await a.close()
    await b.close()


async def test_a_claim_holds_for_every_client_of_the_database(two_clients: tuple[Store, Store]) -> None:
    a, b = two_clients
    assert await a.claim("event:e1", 60)
    assert not await b.claim("event:e1", 60)
    await b.release("event:e1")
    assert await a.claim("event:e1", 60)
    taken = await asyncio.gather(*(s.claim("event:e2", 60) for _ in range(25) for s in (a, b)))
    assert taken.count(True) == 1


async def test_only_the_holder_frees_a_claim_from_any_client(two_clients: tuple[Store, Store]) -> None:
    a, b = two_clients
    assert await a.claim("inflight:draw:alice", LONG, holder="A")
    await b.release("inflight:draw:alice", holder="B")
    assert not await b.claim("inflight:draw:alice", LONG, holder="B")
    await b.release("inflight:draw:alice", holder="A")
    assert await b.claim("inflight:draw:alice", LONG, holder="B")


async def test_a_counter_is_shared_by_every_client_of_the_database(two_clients: tuple[Store, Store]) -> None:
    a, b = two_clients
    counts = await asyncio.gather(*(s.take_unit("draw:alice", 9, 60) for _ in range(50) for s in (a, b)))
    assert sorted(c for c in counts if c is not None) == list(range(1, 10))
    await a.give_unit("draw:alice")
    assert await b.take_unit("draw:alice", 9, 60) == 9


async def test_a_blob_kept_by_one_client_reads_from_every_other(two_clients: tuple[Store, Store]) -> None:
    a, b = two_clients
    await a.keep_blob("art:g1", PICTURE, LONG)
    assert await b.blob("art:g1") == PICTURE
    await b.keep_blob("art:g1", b"redrawn", LONG)
    assert await a.blob("art:g1") == b"redrawn"


# Expired entries do not pile up where nothing reads them again.


async def _count_rows(store: SQLiteStore, table: str) -> int:
    row = await store._run(lambda conn: conn.execute(f"SELECT count(*) FROM {table}").fetchone())
    return int(row[0])


async def test_sqlite_sweeps_expired_claims_counters_conversations_and_blobs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = await SQLiteStore.open(tmp_path / "bot.db")
    for i in range(50):
        await store.claim(f"event:{i}", SHORT)
        await store.take_unit(f"draw:{i}", 5, SHORT)
        await store.append_history(f"c{i}", [HI, HO], keep=10, ttl=SHORT)
        await store.keep_blob(f"art:{i}", b"art", SHORT)
    await _outlive(SHORT)
    for i in range(3):  # each write sweeps a bounded batch of what expired
        await store.claim(f"event:new{i}", 60)
        await store.take_unit(f"draw:new{i}", 5, 60)
        await store.append_history(f"new{i}", [HI], keep=10, ttl=60)
        await store.keep_blob(f"art:new{i}", b"art", 60)
    tables = ("claims", "counters", "conversations", "blobs")
    counts = {table: await _count_rows(store, table) for table in tables}
    assert counts == {"claims": 3, "counters": 3, "conversations": 3, "blobs": 3}
    assert await _count_rows(store, "history") == 3
    await store.close()


async def test_memory_forgets_expired_entries_nothing_touches_again() -> None:
    store = MemoryStore()
    for i in range(500):
        await store.claim(f"event:{i}", 0.01)
        await store.take_unit(f"draw:{i}", 5, 0.01)
        await store.append_history(f"c{i}", [HI], keep=10, ttl=0.01)
        await store.keep_blob(f"art:{i}", b"art", 0.01)
    await asyncio.sleep(0.05)
    for i in range(3000):  # new keys, enough to make the store sweep (the old ones are never read)
        await store.claim(f"event:new{i}", 60)
    assert all(key.startswith("event:new") for key in store._claims)
    assert store._claim_holders.keys() == store._claims.keys()
    assert (store._counters, store._counter_expiry, store._history, store._history_expiry) == ({}, {}, {}, {})
    assert (store._blobs, store._blob_expiry) == ({}, {})


async def test_a_database_from_before_expiry_opens_keeps_its_history_and_expires(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
            "conversation TEXT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL)"
        )
        old.execute("INSERT INTO history (conversation, role, content) VALUES ('c1', 'user', 'hi')")
    a, b = await asyncio.gather(SQLiteStore.open(path), SQLiteStore.open(path))  # two processes starting
    assert await a.load_history("c1") == [HI]
    assert await a.claim("event:e1", 60) and not await b.claim("event:e1", 60)
    assert await b.take_unit("draw:alice", 1, 60) == 1
    await b.append_history("c1", [HO], keep=10, ttl=SHORT)
    await _outlive(SHORT)
    assert await a.load_history("c1") == []
    await a.close()
    await b.close()


async def test_a_database_from_before_claim_holders_opens_and_its_claims_work(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute("CREATE TABLE claims (key TEXT PRIMARY KEY, expires REAL NOT NULL)")
        old.execute("CREATE INDEX claims_by_expiry ON claims (expires)")
        old.execute(
            "INSERT INTO claims (key, expires) VALUES ('inflight:draw:alice', ?)", (time.time() + LONG,)
        )
    a, b = await asyncio.gather(SQLiteStore.open(path), SQLiteStore.open(path))  # two processes starting
    assert not await a.claim("inflight:draw:alice", LONG, holder="A")  # the old claim still holds
    await a.release("inflight:draw:alice", holder="A")
    assert not await b.claim("inflight:draw:alice", LONG, holder="B")
    await a.release("inflight:draw:alice")  # it was made without a holder
    assert await a.claim("inflight:draw:alice", LONG, holder="A")
    await b.release("inflight:draw:alice", holder="B")
    assert not await b.claim("inflight:draw:alice", LONG, holder="B")
    await b.release("inflight:draw:alice", holder="A")
    assert await b.claim("inflight:draw:alice", LONG, holder="B")
    assert await a.claim("event:e1", LONG) and not await b.claim("event:e1", LONG)
    await a.close()
    await b.close()


async def test_a_database_from_before_blobs_gains_them_and_keeps_its_state(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.db"
    with contextlib.closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"
        )
        old.execute(
            "INSERT INTO counters (key, count, expires) VALUES ('draw:alice', 2, ?)", (time.time() + LONG,)
        )
    a, b = await asyncio.gather(SQLiteStore.open(path), SQLiteStore.open(path))  # two processes starting
    assert await a.count("draw:alice") == 2
    assert await a.blob("art:g1") is None
    await a.keep_blob("art:g1", PICTURE, LONG)
    assert await b.blob("art:g1") == PICTURE
    await b.keep_blob("art:g2", b"art", SHORT)
    await _outlive(SHORT)
    assert await a.blob("art:g2") is None
    await a.close()
    await b.close()


async def test_a_memory_store_keeps_its_newest_blobs_only() -> None:
    """Blobs live in the bot's own memory there: the oldest kept go once there are too many."""
    store = memory.MemoryStore()
    for index in range(memory.BLOBS_KEPT + 2):
        await store.keep_blob(f"b{index}", b"x", 60)
        if index == 2:
            await store.keep_blob("b0", b"again", 60)  # kept again: now newer than b1 and b2
    assert await store.blob("b1") is None and await store.blob("b2") is None
    assert await store.blob("b0") == b"again" and await store.blob(f"b{memory.BLOBS_KEPT + 1}") == b"x"
