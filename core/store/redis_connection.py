"""How the Redis store reaches Redis: a bounded pool of connections with timeouts that recovers
by itself once a restarted Redis is back, and Redis errors turned into :class:`Unavailable`
at this boundary, so nothing above the store sees a Redis exception.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as LostConnection
from redis.exceptions import RedisError

from core.errors import Unavailable

MAX_CONNECTIONS = 50
"""Connections one store opens at most; more commands at once wait for one (a transaction holds one)."""

CONNECTION_WAIT = 10.0
"""Seconds a command waits for a free connection before the store counts as unavailable."""

CONNECT_TIMEOUT = 2.0
"""Seconds to make a connection to an unreachable host before the store counts as unavailable
(a refused connection, Redis down on a live host, fails at once)."""

REPLY_TIMEOUT = 5.0
"""Seconds a command waits for its reply (a hung server or a dead link) before it fails."""


async def connect(url: str) -> Redis:
    """A client of the database ``url`` names, checked to answer; :class:`Unavailable` if it does not."""
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
    return client


def _pool(url: str) -> BlockingConnectionPool:
    """Connections to ``url`` that recover by themselves once Redis is back.

    A pooled connection that sat idle through a Redis restart is only found dead when a
    command is written to it, so a command whose connection fails is sent once more on a
    fresh one: otherwise the first command after every restart would fail. The price is
    accepted: a connection can also break after Redis ran the command, before its reply
    arrived, and then the command runs twice (``take_unit`` counts two uses, a conversation
    gets its turns twice, a claim reads as already taken). A timeout is not retried: it
    fails as :class:`Unavailable` and the caller decides.
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


@contextlib.contextmanager
def converted() -> Iterator[None]:
    """Redis errors (connection, timeout, server) leave the store as :class:`Unavailable`."""
    try:
        yield
    except RedisError as exc:
        raise Unavailable("store_unavailable") from exc
