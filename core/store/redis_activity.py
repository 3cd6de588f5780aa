"""The Redis store's command log, monthly usage, counter reads and leaderboard
(see :class:`core.store.base.Store`).

A player's log is a sorted set by time (:data:`core.store.redis_scripts.LOG_ENTRY` adds to it and
trims it in one step); a month's usage is a hash of three counts per model
(:func:`core.store.redis_values.usage_field`; an older build's counts, with no model, read as model
``''``); the leaderboard is a sorted set per measure and workspace, with a hash per workspace of
the names its players last played under, written in :meth:`RedisStore.apply_round`'s transaction
with the stats (:func:`queue_ranking`). Stats kept before the leaderboard are ranked once, when a
store first opens the database (:meth:`RedisActivity._rank_old_stats`); players ranked so have no
name until they play again.
"""

from __future__ import annotations

import time
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.commands.core import AsyncScript

from core.janken import Stats
from core.store import codec
from core.store import redis_values as values
from core.store.activity import (
    MEASURES,
    USAGE_TTL,
    HistoryEntry,
    Measure,
    Usage,
    UsageByModel,
    player_name,
    tie_breaker,
)
from core.store.base import PlayerKey, Ranked, Store, ranked
from core.store.redis_connection import converted

RANKED = f"{values.PREFIX}top:ranked"
"""Set once the stats kept before the leaderboard have been ranked."""

RANK_BATCH = 500
"""Stats keys read at once while ranking old stats."""


def queue_ranking(pipe: Pipeline, player: PlayerKey, stats: Stats, name: str = "") -> None:
    """Queue (after ``multi()``) ``player``'s place on each of their workspace's leaderboards, and
    ``name`` as the one they show (an empty ``name`` keeps the one kept)."""
    if name:
        pipe.hset(values.names_key(player.platform, player.workspace), player.user, player_name(name))
    for by in MEASURES:
        key, score = values.rank_key(by, player.platform, player.workspace), values.rank_score(stats, by)
        if score is None:
            pipe.zrem(key, player.user)
        else:
            pipe.zadd(key, {player.user: score})


class RedisActivity(Store):
    """What :class:`core.store.redis.RedisStore` keeps besides games, boards and conversations."""

    _redis: Redis
    _entries_remembered: int
    _log_entry: AsyncScript

    async def count(self, key: str) -> int:
        with converted():
            return values.number(await self._redis.get(f"{values.PREFIX}count:{key}"))

    async def log_entry(self, player: PlayerKey, entry: HistoryEntry, *, keep: float) -> None:
        keys = [values.player_key("entries", player), f"{values.PREFIX}entries_logged"]
        cutoff = time.time() - keep
        args: list[str | int | float] = [
            repr(float(entry.time)),
            codec.dump_entry(entry),
            repr(cutoff),
            self._entries_remembered,
            keep,
        ]
        with converted():
            await self._log_entry(keys=keys, args=args)

    async def entries(self, player: PlayerKey, *, offset: int, limit: int, keep: float) -> list[HistoryEntry]:
        key = values.player_key("entries", player)

        async def fetch() -> list[tuple[str, str]]:
            if limit <= 0:
                return []
            with converted():
                found = await self._redis.zrevrangebyscore(
                    key, "+inf", repr(time.time() - keep), start=max(0, offset), num=limit
                )
            members = values.texts(cast("list[str]", found))
            return [(member, values.entry_text(member)) for member in members]

        async def drop(member: str, text: str) -> bool:
            with converted():
                return bool(await self._redis.zrem(key, member))

        return await codec.readable_entries(str(player), fetch, drop)

    async def count_entries(self, player: PlayerKey, *, keep: float) -> int:
        with converted():
            return int(
                await self._redis.zcount(
                    values.player_key("entries", player), repr(time.time() - keep), "+inf"
                )
            )

    async def clear_entries(self, player: PlayerKey, *, keep: float) -> int:
        key = values.player_key("entries", player)
        with converted():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zcount(key, repr(time.time() - keep), "+inf")
                pipe.delete(key)
                held, _ = await pipe.execute()
        return int(held)

    async def add_usage(self, player: PlayerKey, month: str, model: str, used: Usage) -> None:
        key = values.player_key(f"usage:{month}", player)
        with converted():
            async with self._redis.pipeline(transaction=True) as pipe:
                for count, amount in zip(values.USAGE_FIELDS, (used.tokens_in, used.tokens_out, used.images)):
                    pipe.hincrby(key, values.usage_field(model, count), amount)
                pipe.pexpire(key, values.millis(USAGE_TTL))
                await pipe.execute()

    async def usage(self, player: PlayerKey, month: str) -> UsageByModel:
        with converted():
            counts = await self._redis.hgetall(values.player_key(f"usage:{month}", player))
        return values.usage_by_model(values.fields(counts))

    async def top_players(self, platform: str, workspace: str, *, by: Measure, limit: int) -> list[Ranked]:
        tie_breaker(by)  # checks ``by``, which names a key here
        if limit <= 0:
            return []
        with converted():
            found = await self._redis.zrange(values.rank_key(by, platform, workspace), 0, limit - 1)
            users = values.texts(cast("list[str]", found))
            if not users:
                return []
            players = [PlayerKey(platform, workspace, user) for user in users]
            async with self._redis.pipeline(transaction=False) as pipe:  # one round trip for both
                pipe.mget([values.player_key("stats", p) for p in players])
                pipe.hmget(values.names_key(platform, workspace), users)
                records, names = await pipe.execute()
        top = []
        for player, record, name in zip(players, records, names):
            stats = values.decoded(values.text(record), codec.load_stats, [])
            if stats is not None:  # left out when unreadable; get_stats drops and logs it
                top.append(ranked(player, stats, values.text(name)))
        return top

    async def _rank_old_stats(self) -> None:
        """Rank every player whose stats were kept before the leaderboard, once per database.

        A concurrent round may rank a player meanwhile: a rank is only ever raised here (``ZADD LT``),
        never lowered below the one that round wrote. Keys are ``bot:stats:platform:workspace:user``,
        split at their first two colons as no platform or workspace id has one.
        """
        with converted():
            if await self._redis.exists(RANKED):
                return
            batch: list[str] = []
            async for key in self._redis.scan_iter(match=f"{values.PREFIX}stats:*", count=RANK_BATCH):
                batch.append(values.as_str(key))
                if len(batch) == RANK_BATCH:
                    await self._rank(batch)
                    batch = []
            await self._rank(batch)
            await self._redis.set(RANKED, "1")

    async def _rank(self, keys: list[str]) -> None:
        if not keys:
            return
        records = await self._redis.mget(keys)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, record in zip(keys, records):
                parts = key.removeprefix(f"{values.PREFIX}stats:").split(":", 2)
                stats = values.decoded(values.text(record), codec.load_stats, [])
                if stats is None or len(parts) != 3:
                    continue
                for by in MEASURES:
                    score = values.rank_score(stats, by)
                    if score is not None:
                        pipe.zadd(values.rank_key(by, parts[0], parts[1]), {parts[2]: score}, lt=True)
            await pipe.execute()
