"""Several Slack bot processes serving one workspace in ``bench/slack_load.py``, and the Redis they share.

Slack's limits are per workspace, so processes that serve one must spend one
budget: with ``STORE_URL`` a Redis URL, each bot keeps its rate budgets there
(``bot.shared_rate_budget``). The bench gives them ``REDIS_URL`` if it is set,
else a ``redis-server`` of its own on a free port, without persistence, stopped
at the end. In a Redis it did not start, it first drops the budgets an earlier
run left for the bench's token, which would otherwise still count.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from bot.shared_rate_budget import PREFIX
from bot.slack_app.limits import budget_scope
from tests.redis_server import RedisServer, RedisServerError


@contextlib.contextmanager
def bench_store(processes: int, tmpdir: str, *, token: str) -> Iterator[str]:
    """The bots' ``STORE_URL``: SQLite for one bot, as before; for several, the Redis they share."""
    if processes == 1:
        yield f"sqlite:///{tmpdir}/bench.db"
        return
    with bench_redis(token) as url:
        yield url


@contextlib.contextmanager
def bench_redis(token: str) -> Iterator[str]:
    """``REDIS_URL`` (without ``token``'s old budgets), or a ``redis-server`` started here and stopped after."""
    if url := os.environ.get("REDIS_URL"):
        _forget_budgets(url, token)
    missing = "--processes > 1 needs Redis: set REDIS_URL or put redis-server on PATH"
    with given_or_own_redis(url, missing=missing) as used:
        yield used


@contextlib.contextmanager
def given_or_own_redis(url: str | None, *, missing: str) -> Iterator[str]:
    """``url``; without one, a ``redis-server`` started here on a free port (keeping nothing), stopped after.

    Exits with ``missing`` when there is no ``redis-server`` on PATH.
    """
    if url:
        yield url
        return
    try:
        server = RedisServer()
        server.start()
    except FileNotFoundError:
        raise SystemExit(missing) from None
    except RedisServerError as exc:
        raise SystemExit(str(exc)) from None
    try:
        yield server.url
    finally:
        server.stop()


def _forget_budgets(url: str, token: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        stale = list(client.scan_iter(match=f"{PREFIX}{budget_scope(token)}:*"))
        if stale:
            client.delete(*stale)
    finally:
        client.close()


@dataclass
class Bots:
    """The bot processes of one run, each on its own port with its own log."""

    procs: list[subprocess.Popen[bytes]]
    ports: list[int]
    logs: list[Path]

    def poll(self) -> int | None:
        """None while every bot runs, else the exit status of one that stopped."""
        for proc in self.procs:
            if proc.poll() is not None:
                return proc.returncode
        return None

    @property
    def returncodes(self) -> str:
        return ", ".join(str(proc.returncode) for proc in self.procs)


def peak(values: Sequence[int | None]) -> int | None:
    """The highest of the processes' figures, or None if any is missing."""
    return None if None in values else max(v for v in values if v is not None)


def total(values: Sequence[float | None]) -> float | None:
    """The processes' figures added up, or None if any is missing."""
    return None if None in values else sum(v for v in values if v is not None)
