"""Redis store (``redis://``, ``rediss://``): shared by every process of a deployment.

Keys live under ``bot:``; a player's keys end in ``str(PlayerKey)``. Each change
is atomic across processes: a ``WATCH``/``MULTI``/``EXEC`` transaction retried
when a watched key changes (``apply_round`` decides the round in Python between
the two), or a Lua script (:mod:`core.store.redis_scripts`) where the logic is a
few commands. Claims, counters, blobs and conversations given a lifetime expire as Redis
keys do. A record this build cannot read is dropped (or replaced) by whichever
transaction finds it first, so it is logged once. How the store connects, and
Redis errors becoming :class:`Unavailable`, is :mod:`core.store.redis_connection`;
how its keys and values look is :mod:`core.store.redis_values`; the command log, monthly usage and
leaderboard are :mod:`core.store.redis_activity`'s.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from core.conversation import Turn
from core.janken import Game, Opponent, Stats
from core.store import codec
from core.store import redis_scripts as scripts
from core.store import redis_values as values
from core.store.activity import ENTRIES_REMEMBERED
from core.store.base import (
    ANSWERS_REMEMBERED,
    BOARDS_REMEMBERED,
    MOVES_REMEMBERED,
    BoardLink,
    Decide,
    Played,
    PlayerKey,
    check_blob,
    resolve,
)
from core.store.redis_activity import RedisActivity, queue_ranking
from core.store.redis_connection import connect, converted
from core.store.redis_values import PREFIX, player_key

_T = TypeVar("_T")

RETRY_PAUSE = 0.002
"""Upper bound (seconds) of the random pause before retrying a transaction a concurrent write spoilt."""


class RedisStore(RedisActivity):
    """A store in one Redis database; open it with :meth:`open`."""

    def __init__(
        self,
        client: Redis,
        *,
        answers_remembered: int = ANSWERS_REMEMBERED,
        entries_remembered: int = ENTRIES_REMEMBERED,
    ) -> None:
        self._redis = client
        self._answers_remembered = answers_remembered
        self._entries_remembered = entries_remembered
        self._delete_if_equal = client.register_script(scripts.DELETE_IF_EQUAL)
        self._delete_field_if_equal = client.register_script(scripts.DELETE_FIELD_IF_EQUAL)
        self._drop_turn = client.register_script(scripts.DROP_TURN)
        self._link_answer = client.register_script(scripts.LINK_ANSWER)
        self._take_unit = client.register_script(scripts.TAKE_UNIT)
        self._give_unit = client.register_script(scripts.GIVE_UNIT)
        self._log_entry = client.register_script(scripts.LOG_ENTRY)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        answers_remembered: int = ANSWERS_REMEMBERED,
        entries_remembered: int = ENTRIES_REMEMBERED,
    ) -> RedisStore:
        """Connect to the database ``url`` names, check that it answers, and rank old stats once."""
        store = cls(
            await connect(url), answers_remembered=answers_remembered, entries_remembered=entries_remembered
        )
        try:
            await store._rank_old_stats()
        except BaseException:
            await store.close()
            raise
        return store

    async def _transaction(self, keys: Sequence[str], work: Callable[[Pipeline], Awaitable[_T]]) -> _T:
        """Run ``work`` with ``keys`` watched; it reads, then ``multi()``s and queues its writes.

        The writes apply only if no watched key changed meanwhile; otherwise ``work`` runs
        again on fresh reads, so anything it found (a record to log as discarded) counts only
        from the run whose EXEC succeeded.
        """
        with converted():
            async with self._redis.pipeline(transaction=True) as pipe:
                while True:
                    try:
                        await pipe.watch(*keys)
                        result = await work(pipe)
                        await pipe.execute()
                        return result
                    except WatchError:
                        await pipe.reset()
                        await asyncio.sleep(random.uniform(0, RETRY_PAUSE))

    async def _drop_unreadable(self, key: str, text: str) -> bool:
        """Delete ``key`` if it still holds ``text``; True when this call deleted it."""
        with converted():
            return bool(await self._delete_if_equal(keys=[key], args=[text]))

    async def _readable(self, kind: str, player: PlayerKey, load: Callable[[str], _T]) -> _T | None:
        key = player_key(kind, player)
        with converted():
            text = values.text(await self._redis.get(key))
        if text is None:
            return None
        try:
            return load(text)
        except codec.UndecodableRecord as exc:
            if await self._drop_unreadable(key, text):
                codec.log_discarded(str(player), kind, exc)
            return None

    async def get_game(self, player: PlayerKey) -> Game | None:
        return await self._readable("game", player, codec.load_game)

    async def start_game(self, player: PlayerKey, game: Game) -> None:
        with converted():
            await self._redis.set(player_key("game", player), codec.dump_game(game))

    async def ensure_game(self, player: PlayerKey, game: Game) -> Game:
        key = player_key("game", player)
        discarded: list[codec.UndecodableRecord] = []

        async def work(pipe: Pipeline) -> Game:
            discarded.clear()
            running = values.decoded(values.text(await pipe.get(key)), codec.load_game, discarded)
            pipe.multi()
            if running is not None:
                return running
            pipe.set(key, codec.dump_game(game))
            return game

        result = await self._transaction([key], work)
        values.log_all(player, "game", discarded)
        return result

    async def end_game(self, player: PlayerKey) -> Game | None:
        with converted():
            text = values.text(await self._redis.getdel(player_key("game", player)))
        discarded: list[codec.UndecodableRecord] = []
        game = values.decoded(text, codec.load_game, discarded)
        values.log_all(player, "game", discarded)
        return game

    async def apply_round(
        self, player: PlayerKey, move_id: str, decide: Decide, *, start: Game | None = None, name: str = ""
    ) -> Played | None:
        game_key, stats_key = player_key("game", player), player_key("stats", player)
        moves_key, order_key = player_key("moves", player), player_key("move_order", player)
        discarded: list[tuple[str, codec.UndecodableRecord]] = []

        async def work(pipe: Pipeline) -> Played | None:
            discarded.clear()
            seen = values.text(await pipe.hget(moves_key, move_id))
            if seen is not None:
                pipe.multi()
                if seen == codec.FORGOTTEN:
                    return None
                try:
                    return codec.load_played(seen)
                except codec.UndecodableRecord as exc:
                    pipe.hset(moves_key, move_id, codec.FORGOTTEN)
                    discarded.append((f"result of move {move_id!r}", exc))
                    return None
            game_errors: list[codec.UndecodableRecord] = []
            stats_errors: list[codec.UndecodableRecord] = []
            game_text = values.text(await pipe.get(game_key))
            game = values.decoded(game_text, codec.load_game, game_errors) or start
            stats_text = values.text(await pipe.get(stats_key))
            order = values.texts(await pipe.lrange(order_key, 0, -1))
            discarded.extend(("game", exc) for exc in game_errors)
            if game is None:
                pipe.multi()
                if game_errors:
                    pipe.delete(game_key)
                return None
            stats = values.decoded(stats_text, codec.load_stats, stats_errors) or Stats()
            discarded.extend(("stats", exc) for exc in stats_errors)
            played = resolve(game, stats, decide)
            forgotten = order[: max(0, len(order) + 1 - MOVES_REMEMBERED)]
            pipe.multi()
            if played.game.over:
                pipe.delete(game_key)
            else:
                pipe.set(game_key, codec.dump_game(played.game))
            pipe.set(stats_key, codec.dump_stats(played.stats))
            queue_ranking(pipe, player, played.stats, name)
            pipe.hset(moves_key, move_id, codec.dump_played(played))
            pipe.rpush(order_key, move_id)
            if forgotten:
                pipe.ltrim(order_key, len(forgotten), -1)
                pipe.hdel(moves_key, *forgotten)
            return played

        result = await self._transaction([game_key, stats_key, moves_key, order_key], work)
        for what, exc in discarded:
            codec.log_discarded(str(player), what, exc)
        return result

    async def get_stats(self, player: PlayerKey) -> Stats:
        stats = await self._readable("stats", player, codec.load_stats)
        return Stats() if stats is None else stats

    async def link_board(
        self, ref: str, player: PlayerKey, game_id: str, opponent: Opponent | None = None
    ) -> None:
        board_key, boards_key = f"{PREFIX}board:{ref}", player_key("boards", player)
        link = values.board_fields(player, game_id, opponent)

        async def work(pipe: Pipeline) -> None:
            previous_owner = values.owner(values.fields(await pipe.hgetall(board_key)))
            newest = cast("list[tuple[str, float]]", await pipe.zrange(boards_key, 0, -1, withscores=True))
            kept = [r for r, _ in newest if r != ref]
            dropped = kept[: max(0, len(kept) + 1 - BOARDS_REMEMBERED)]
            score = newest[-1][1] + 1 if newest else 0
            pipe.multi()
            if previous_owner is not None and previous_owner != player:
                pipe.zrem(player_key("boards", previous_owner), ref)
            pipe.delete(board_key)
            pipe.hset(board_key, mapping=link)
            pipe.zadd(boards_key, {ref: score})
            if dropped:
                pipe.zrem(boards_key, *dropped)
                pipe.delete(*(f"{PREFIX}board:{r}" for r in dropped))

        await self._transaction([board_key, boards_key], work)

    async def board_of(self, ref: str) -> BoardLink | None:
        board_key = f"{PREFIX}board:{ref}"
        with converted():
            link = values.fields(await self._redis.hgetall(board_key))
        player = values.owner(link)
        if player is None:
            return None
        game_id, opponent = link["game_id"], link.get("opponent")
        if opponent is None:
            return BoardLink(player, game_id)
        try:
            return BoardLink(player, game_id, codec.load_opponent(opponent))
        except codec.UndecodableRecord as exc:
            with converted():
                dropped = await self._delete_field_if_equal(keys=[board_key], args=["opponent", opponent])
            if dropped:
                codec.log_discarded(str(player), f"opponent of board {ref!r}", exc)
            return BoardLink(player, game_id)

    async def link_answer(self, ref: str, conversation: str) -> None:
        keys = [f"{PREFIX}answer_links", f"{PREFIX}answers", f"{PREFIX}answer_order"]
        with converted():
            await self._link_answer(keys=keys, args=[ref, conversation, self._answers_remembered])

    async def conversation_of(self, ref: str) -> str | None:
        with converted():
            return values.text(await self._redis.hget(f"{PREFIX}answers", ref))

    async def load_history(self, conversation: str) -> list[Turn]:
        key = f"{PREFIX}history:{conversation}"
        with converted():
            texts = values.texts(await self._redis.lrange(key, 0, -1))
        turns = []
        for text in texts:
            try:
                turns.append(values.load_turn(text))
            except codec.UndecodableRecord as exc:
                with converted():
                    dropped = await self._drop_turn(keys=[key], args=[text])
                if dropped:
                    codec.log_discarded(conversation, "conversation turn", exc)
        return turns

    async def append_history(
        self, conversation: str, turns: Sequence[Turn], *, keep: int, ttl: float | None = None
    ) -> None:
        key = f"{PREFIX}history:{conversation}"
        with converted():
            async with self._redis.pipeline(transaction=True) as pipe:
                if turns:
                    pipe.rpush(key, *(values.dump_turn(turn) for turn in turns))
                if keep > 0:
                    pipe.ltrim(key, -keep, -1)
                else:
                    pipe.delete(key)
                if ttl is None:
                    pipe.persist(key)
                else:
                    pipe.pexpire(key, values.millis(ttl))
                await pipe.execute()

    async def claim(self, key: str, ttl: float, *, holder: str = "") -> bool:
        with converted():
            return bool(await self._redis.set(f"{PREFIX}claim:{key}", holder, nx=True, px=values.millis(ttl)))

    async def release(self, key: str, *, holder: str = "") -> None:
        with converted():
            await self._delete_if_equal(keys=[f"{PREFIX}claim:{key}"], args=[holder])

    async def take_unit(self, key: str, limit: int, ttl: float) -> int | None:
        with converted():
            count = await self._take_unit(keys=[f"{PREFIX}count:{key}"], args=[limit, values.millis(ttl)])
        return None if count is None else int(count)

    async def give_unit(self, key: str) -> None:
        with converted():
            await self._give_unit(keys=[f"{PREFIX}count:{key}"])

    async def keep_blob(self, key: str, data: bytes, ttl: float) -> None:
        check_blob(data, ttl)
        with converted():
            await self._redis.set(f"{PREFIX}blob:{key}", values.dump_blob(data), px=values.millis(ttl))

    async def blob(self, key: str) -> bytes | None:
        with converted():
            return values.load_blob(values.text(await self._redis.get(f"{PREFIX}blob:{key}")))

    async def ping(self) -> None:
        with converted():
            await self._redis.ping()

    async def close(self) -> None:
        with converted():
            await self._redis.aclose()
