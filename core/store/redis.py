"""Redis store (``redis://``, ``rediss://``): shared by every process of a deployment.

Keys live under ``bot:``; a player's keys end in ``str(PlayerKey)``. Each change
is atomic across processes: a ``WATCH``/``MULTI``/``EXEC`` transaction retried
when a watched key changes (``apply_round`` decides the round in Python between
the two), or a Lua script (:mod:`core.store.redis_scripts`) where the logic is a
few commands. Claims, counters and conversations given a lifetime expire as Redis
keys do. A record this build cannot read is dropped (or replaced) by whichever
transaction finds it first, so it is logged once. Redis errors become
:class:`Unavailable` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TypeVar, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as LostConnection
from redis.exceptions import RedisError, WatchError
from redis.typing import EncodableT, FieldT

from core.conversation import Turn
from core.errors import Unavailable
from core.janken import Game, Opponent, Stats
from core.store import codec
from core.store import redis_scripts as scripts
from core.store.base import (
    ANSWERS_REMEMBERED,
    BOARDS_REMEMBERED,
    MOVES_REMEMBERED,
    BoardLink,
    Decide,
    Played,
    PlayerKey,
    Store,
    resolve,
)

_T = TypeVar("_T")

PREFIX = "bot:"
"""Every key this store writes starts with it."""

MAX_CONNECTIONS = 50
"""Connections one store opens at most; more commands at once wait for one (a transaction holds one)."""

CONNECTION_WAIT = 10.0
"""Seconds a command waits for a free connection before the store counts as unavailable."""

RETRY_PAUSE = 0.002
"""Upper bound (seconds) of the random pause before retrying a transaction a concurrent write spoilt."""

CONNECT_TIMEOUT = 2.0
"""Seconds to make a connection to an unreachable host before the store counts as unavailable
(a refused connection, Redis down on a live host, fails at once)."""

REPLY_TIMEOUT = 5.0
"""Seconds a command waits for its reply (a hung server or a dead link) before it fails."""


def _pool(url: str) -> BlockingConnectionPool:
    """Connections to ``url`` that recover by themselves once Redis is back.

    A pooled connection that sat idle through a Redis restart is only found dead when a
    command is written to it, so a command that meets a closed connection is sent once more
    on a fresh one: otherwise the first command after every restart would fail. Only a
    connection error is retried, once: a timeout is not (the command may have run, and
    ``take_unit``'s INCR or an appended turn could count twice); it fails as
    :class:`Unavailable` and the caller decides.
    """
    return BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=MAX_CONNECTIONS,
        timeout=CONNECTION_WAIT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=REPLY_TIMEOUT,
        retry=Retry(NoBackoff(), 1, supported_errors=(LostConnection,)),
    )


def _millis(seconds: float) -> int:
    """A lifetime in whole milliseconds, at least 1 (Redis refuses an expiry of 0)."""
    return max(1, math.ceil(seconds * 1000))


def _player_key(kind: str, player: PlayerKey) -> str:
    return f"{PREFIX}{kind}:{player}"


@contextlib.contextmanager
def _converted() -> Iterator[None]:
    """Redis errors (connection, timeout, server) leave the store as :class:`Unavailable`."""
    try:
        yield
    except RedisError as exc:
        raise Unavailable("store_unavailable") from exc


class RedisStore(Store):
    """A store in one Redis database; open it with :meth:`open`."""

    def __init__(self, client: Redis, *, answers_remembered: int = ANSWERS_REMEMBERED) -> None:
        self._redis = client
        self._answers_remembered = answers_remembered
        self._delete_if_equal = client.register_script(scripts.DELETE_IF_EQUAL)
        self._delete_field_if_equal = client.register_script(scripts.DELETE_FIELD_IF_EQUAL)
        self._drop_turn = client.register_script(scripts.DROP_TURN)
        self._link_answer = client.register_script(scripts.LINK_ANSWER)
        self._take_unit = client.register_script(scripts.TAKE_UNIT)
        self._give_unit = client.register_script(scripts.GIVE_UNIT)

    @classmethod
    async def open(cls, url: str, *, answers_remembered: int = ANSWERS_REMEMBERED) -> RedisStore:
        """Connect to the database ``url`` names and check that it answers."""
        try:
            pool = _pool(url)
        except ValueError as exc:  # a malformed URL; the factory scrubs the reason
            raise Unavailable("store_unavailable") from exc
        client = Redis.from_pool(pool)
        try:
            await client.ping()
        except RedisError as exc:
            await client.aclose()
            raise Unavailable("store_unavailable") from exc
        return cls(client, answers_remembered=answers_remembered)

    async def _transaction(self, keys: Sequence[str], work: Callable[[Pipeline], Awaitable[_T]]) -> _T:
        """Run ``work`` with ``keys`` watched; it reads, then ``multi()``s and queues its writes.

        The writes apply only if no watched key changed meanwhile; otherwise ``work`` runs
        again on fresh reads, so anything it found (a record to log as discarded) counts only
        from the run whose EXEC succeeded.
        """
        with _converted():
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
        with _converted():
            return bool(await self._delete_if_equal(keys=[key], args=[text]))

    async def _readable(self, kind: str, player: PlayerKey, load: Callable[[str], _T]) -> _T | None:
        key = _player_key(kind, player)
        with _converted():
            text = _text(await self._redis.get(key))
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
        with _converted():
            await self._redis.set(_player_key("game", player), codec.dump_game(game))

    async def ensure_game(self, player: PlayerKey, game: Game) -> Game:
        key = _player_key("game", player)
        discarded: list[codec.UndecodableRecord] = []

        async def work(pipe: Pipeline) -> Game:
            discarded.clear()
            running = _decoded(_text(await pipe.get(key)), codec.load_game, discarded)
            pipe.multi()
            if running is not None:
                return running
            pipe.set(key, codec.dump_game(game))
            return game

        result = await self._transaction([key], work)
        _log_all(player, "game", discarded)
        return result

    async def end_game(self, player: PlayerKey) -> Game | None:
        with _converted():
            text = _text(await self._redis.getdel(_player_key("game", player)))
        discarded: list[codec.UndecodableRecord] = []
        game = _decoded(text, codec.load_game, discarded)
        _log_all(player, "game", discarded)
        return game

    async def apply_round(
        self, player: PlayerKey, move_id: str, decide: Decide, *, start: Game | None = None
    ) -> Played | None:
        game_key, stats_key = _player_key("game", player), _player_key("stats", player)
        moves_key, order_key = _player_key("moves", player), _player_key("move_order", player)
        discarded: list[tuple[str, codec.UndecodableRecord]] = []

        async def work(pipe: Pipeline) -> Played | None:
            discarded.clear()
            seen = _text(await pipe.hget(moves_key, move_id))
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
            game = _decoded(_text(await pipe.get(game_key)), codec.load_game, game_errors) or start
            stats_text = _text(await pipe.get(stats_key))
            order = _texts(await pipe.lrange(order_key, 0, -1))
            discarded.extend(("game", exc) for exc in game_errors)
            if game is None:
                pipe.multi()
                if game_errors:
                    pipe.delete(game_key)
                return None
            stats = _decoded(stats_text, codec.load_stats, stats_errors) or Stats()
            discarded.extend(("stats", exc) for exc in stats_errors)
            played = resolve(game, stats, decide)
            forgotten = order[: max(0, len(order) + 1 - MOVES_REMEMBERED)]
            pipe.multi()
            if played.game.over:
                pipe.delete(game_key)
            else:
                pipe.set(game_key, codec.dump_game(played.game))
            pipe.set(stats_key, codec.dump_stats(played.stats))
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
        board_key, boards_key = f"{PREFIX}board:{ref}", _player_key("boards", player)
        link: dict[FieldT, EncodableT] = {
            "platform": player.platform,
            "workspace": player.workspace,
            "user": player.user,
            "game_id": game_id,
        }
        if opponent is not None:
            link["opponent"] = codec.dump_opponent(opponent)

        async def work(pipe: Pipeline) -> None:
            previous_owner = _owner(_fields(await pipe.hgetall(board_key)))
            newest = cast("list[tuple[str, float]]", await pipe.zrange(boards_key, 0, -1, withscores=True))
            kept = [r for r, _ in newest if r != ref]
            dropped = kept[: max(0, len(kept) + 1 - BOARDS_REMEMBERED)]
            score = newest[-1][1] + 1 if newest else 0
            pipe.multi()
            if previous_owner is not None and previous_owner != player:
                pipe.zrem(_player_key("boards", previous_owner), ref)
            pipe.delete(board_key)
            pipe.hset(board_key, mapping=link)
            pipe.zadd(boards_key, {ref: score})
            if dropped:
                pipe.zrem(boards_key, *dropped)
                pipe.delete(*(f"{PREFIX}board:{r}" for r in dropped))

        await self._transaction([board_key, boards_key], work)

    async def board_of(self, ref: str) -> BoardLink | None:
        board_key = f"{PREFIX}board:{ref}"
        with _converted():
            link = _fields(await self._redis.hgetall(board_key))
        player = _owner(link)
        if player is None:
            return None
        game_id, opponent = link["game_id"], link.get("opponent")
        if opponent is None:
            return BoardLink(player, game_id)
        try:
            return BoardLink(player, game_id, codec.load_opponent(opponent))
        except codec.UndecodableRecord as exc:
            with _converted():
                dropped = await self._delete_field_if_equal(keys=[board_key], args=["opponent", opponent])
            if dropped:
                codec.log_discarded(str(player), f"opponent of board {ref!r}", exc)
            return BoardLink(player, game_id)

    async def link_answer(self, ref: str, conversation: str) -> None:
        keys = [f"{PREFIX}answer_links", f"{PREFIX}answers", f"{PREFIX}answer_order"]
        with _converted():
            await self._link_answer(keys=keys, args=[ref, conversation, self._answers_remembered])

    async def conversation_of(self, ref: str) -> str | None:
        with _converted():
            return _text(await self._redis.hget(f"{PREFIX}answers", ref))

    async def load_history(self, conversation: str) -> list[Turn]:
        key = f"{PREFIX}history:{conversation}"
        with _converted():
            texts = _texts(await self._redis.lrange(key, 0, -1))
        turns = []
        for text in texts:
            try:
                turns.append(_load_turn(text))
            except codec.UndecodableRecord as exc:
                with _converted():
                    dropped = await self._drop_turn(keys=[key], args=[text])
                if dropped:
                    codec.log_discarded(conversation, "conversation turn", exc)
        return turns

    async def append_history(
        self, conversation: str, turns: Sequence[Turn], *, keep: int, ttl: float | None = None
    ) -> None:
        key = f"{PREFIX}history:{conversation}"
        with _converted():
            async with self._redis.pipeline(transaction=True) as pipe:
                if turns:
                    pipe.rpush(key, *(_dump_turn(turn) for turn in turns))
                if keep > 0:
                    pipe.ltrim(key, -keep, -1)
                else:
                    pipe.delete(key)
                if ttl is None:
                    pipe.persist(key)
                else:
                    pipe.pexpire(key, _millis(ttl))
                await pipe.execute()

    async def claim(self, key: str, ttl: float) -> bool:
        with _converted():
            return bool(await self._redis.set(f"{PREFIX}claim:{key}", 1, nx=True, px=_millis(ttl)))

    async def release(self, key: str) -> None:
        with _converted():
            await self._redis.delete(f"{PREFIX}claim:{key}")

    async def take_unit(self, key: str, limit: int, ttl: float) -> int | None:
        with _converted():
            count = await self._take_unit(keys=[f"{PREFIX}count:{key}"], args=[limit, _millis(ttl)])
        return None if count is None else int(count)

    async def give_unit(self, key: str) -> None:
        with _converted():
            await self._give_unit(keys=[f"{PREFIX}count:{key}"])

    async def ping(self) -> None:
        with _converted():
            await self._redis.ping()

    async def close(self) -> None:
        with _converted():
            await self._redis.aclose()


def _decoded(text: str | None, load: Callable[[str], _T], errors: list[codec.UndecodableRecord]) -> _T | None:
    """``text`` decoded; ``None`` when absent or unreadable (the reason is added to ``errors``)."""
    if text is None:
        return None
    try:
        return load(text)
    except codec.UndecodableRecord as exc:
        errors.append(exc)
        return None


def _log_all(player: PlayerKey, what: str, errors: list[codec.UndecodableRecord]) -> None:
    for exc in errors:
        codec.log_discarded(str(player), what, exc)


def _str(value: bytes | str) -> str:
    """A reply as text (the client decodes replies; its types still allow bytes)."""
    return value if isinstance(value, str) else value.decode()


def _text(value: bytes | str | None) -> str | None:
    return None if value is None else _str(value)


def _texts(values: Sequence[bytes | str]) -> list[str]:
    return [_str(value) for value in values]


def _fields(values: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_str(k): _str(v) for k, v in values.items()}


def _owner(link: Mapping[str, str]) -> PlayerKey | None:
    """The player a board link (a hash read back) belongs to; ``None`` for no link."""
    if not link:
        return None
    return PlayerKey(link["platform"], link["workspace"], link["user"])


def _dump_turn(turn: Turn) -> str:
    return json.dumps({"v": codec.VERSION, "role": turn.role, "content": turn.content})


def _load_turn(text: str) -> Turn:
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise codec.UndecodableRecord("not JSON") from None
    if not isinstance(data, dict) or data.get("v", codec.VERSION) != codec.VERSION:
        raise codec.UndecodableRecord("not a turn of this format version")
    role, content = data.get("role"), data.get("content")
    if role not in ("user", "assistant") or type(content) is not str:
        raise codec.UndecodableRecord("field 'role' or 'content' is missing or malformed")
    return Turn(role=role, content=content)
