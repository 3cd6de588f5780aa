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
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from bot.shared_rate_budget import PREFIX
from bot.slack_app.limits import budget_scope

REDIS_START_TIMEOUT = 10.0
"""Seconds a ``redis-server`` started for the bench has to answer PING."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")
    return False


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
        yield url
        return
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("--processes > 1 needs Redis: set REDIS_URL or put redis-server on PATH")
    port = _free_port()
    command = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + REDIS_START_TIMEOUT
        while not _answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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
