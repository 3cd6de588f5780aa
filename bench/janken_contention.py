"""Contention benchmark: two Slack bot processes, one Redis, a burst of janken clicks on the same games.

What it measures
    * rounds applied (summed from every player's stats in the store after the run) against
      the rounds expected: each game's clicks all target its first round, so one round per game;
    * click ack latency (p50 / p99 / max): each signed ``block_actions`` POST, from writing the
      request to reading the answer, and how many were not answered 200;
    * Redis work per click, from the server's own counters before and after the burst:
      commands (``INFO commandstats`` call counts, by command) and socket read events
      (``total_reads_processed``, about one per round trip: a pipelined MULTI ... EXEC is one);
    * board edits (``chat.update``) against the deliveries that should edit a board, and how
      many deliveries a process left to the other (its log's "ignoring a repeated delivery").

How
    A private ``redis-server`` on a free port (or ``--redis-url``; then other clients of that
    server are counted too), the fake Slack Web API on a loop thread of its own (without rate
    limits: the bots still pace themselves by Slack's tiers), and two ``python -m bot slack
    --http`` processes on that Redis. Each of ``--games`` players starts a game with ``/janken``
    (alternately on A and B). Then every game gets 4 clicks at once: a rock click delivered to
    both A and B (one delivery, twice) and a paper click delivered to both (another delivery of
    the same round, so a repeat for the store's move id). The burst comes from a third process,
    every connection opened first. The bots pace ``chat.update`` (Tier 3, about 50 a minute per
    process), so the run waits for the board edits before reading Redis's counters.

Run it by hand (it is a report, not a test)::

    .venv/bin/python -m bench.janken_contention [--games 50] [--redis-url redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import redis

from bench.slack_load import (
    code_version,
    free_port,
    line,
    percentile,
    running_fakes,
    start_bot,
    stop_bot,
    wait_healthy,
)
from bench.slack_processes import given_or_own_redis
from core.store.base import PlayerKey
from core.store.redis import RedisStore
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI, Message
from tests.fakes.slack_client import FORM, SIGNING_SECRET, SlackSender

TEAM = "T1"
CLICKS = (("janken_rock", 0), ("janken_rock", 1), ("janken_paper", 0), ("janken_paper", 1))
"""Each game's clicks: (button, process); each button is one delivery, sent to both processes."""
DELIVERIES_PER_GAME = len({button for button, _ in CLICKS})
REQUEST_TIMEOUT = 30.0
QUIET = 0.5
NO_REDIS = "no redis-server on PATH: pass --redis-url"
START: asyncio.Event  # the burst's starting gun, in the sending process


@dataclass
class RedisCounters:
    """The server's counters at one moment (``INFO commandstats``, then ``INFO stats``)."""

    calls: Counter[str]
    reads: int

    @property
    def work(self) -> Counter[str]:
        """Commands by name, without the INFO calls this bench reads them with."""
        return Counter({name: n for name, n in self.calls.items() if name != "info"})

    def since(self, before: RedisCounters) -> tuple[Counter[str], int]:
        """Commands by name, and read events, from ``before`` to now, ours left out.

        Each INFO is one read event of its own; between the two ``INFO stats`` there were as
        many as the two ``INFO commandstats`` counted between them.
        """
        ours = self.calls["info"] - before.calls["info"]
        return self.work - before.work, self.reads - before.reads - ours


def counters(client: redis.Redis) -> RedisCounters:
    commands: dict[str, Any] = client.info("commandstats")
    calls = Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in commands.items()})
    return RedisCounters(calls, int(client.info("stats")["total_reads_processed"]))


def bot_env(slack: FakeSlackAPI, store_url: str) -> dict[str, str]:
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {**keep, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url, "STORE_URL": store_url, "LOG_LEVEL": "INFO"}  # fmt: skip


def click_body(board: Message, action_id: str, user: str, response_url: str) -> str:
    """A ``block_actions`` click on ``board``'s button ``action_id``, as Slack posts it."""
    assert board.blocks is not None
    actions = [e for b in board.blocks if b["type"] == "actions" for e in b["elements"]]
    button = next(e for e in actions if e["action_id"] == action_id)
    payload = {
        "type": "block_actions", "api_app_id": "A1", "token": "legacy", "trigger_id": uuid.uuid4().hex,
        "team": {"id": TEAM, "domain": "bench"}, "user": {"id": user, "name": user, "team_id": TEAM},
        "channel": {"id": board.channel, "name": board.channel}, "response_url": response_url,
        "container": {"type": "message", "message_ts": board.ts, "channel_id": board.channel},
        "message": {"type": "message", "ts": board.ts, "text": board.text, "blocks": board.blocks},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "janken",
                     "value": button["value"], "action_ts": f"{time.time():.6f}"}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)})


def raw_request(sender: SlackSender, port: int, body: str) -> bytes:
    headers = {**sender.signed(body, FORM), "Host": f"127.0.0.1:{port}", "Content-Length": str(len(body))}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return f"POST /slack/events HTTP/1.1\r\n{head}\r\n{body}".encode()


async def send_one(port: int, request: bytes) -> tuple[int, float]:
    """One prepared request on a connection opened before the gun: its status and seconds to the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await START.wait()
    started = time.perf_counter()
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
        status = int(head.split(b" ", 2)[1])
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        status = -1
    finally:
        writer.close()
    return status, time.perf_counter() - started


async def _burst(targets: list[tuple[int, bytes]]) -> list[tuple[int, float]]:
    global START
    START = asyncio.Event()
    sending = [asyncio.ensure_future(send_one(port, request)) for port, request in targets]
    await asyncio.sleep(1)  # every connection open first
    START.set()
    return list(await asyncio.gather(*sending))


def burst(targets: list[tuple[int, bytes]]) -> list[tuple[int, float]]:
    """Every request at once, from a process of its own, so the fakes' work cannot slow the timing."""
    return asyncio.run(_burst(targets))


async def until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


async def settled(client: redis.Redis) -> RedisCounters:
    """The counters once no command has run for QUIET seconds (the bots' work is done)."""
    last = await asyncio.to_thread(counters, client)
    while True:
        await asyncio.sleep(QUIET)
        now = await asyncio.to_thread(counters, client)
        if now.work == last.work:
            return now
        last = now


def boards(slack: FakeSlackAPI) -> dict[str, Message]:
    return {m.channel: m for m in slack.messages.values() if m.blocks and not m.deleted}


@dataclass
class Result:
    acks: list[tuple[int, float]]
    before: RedisCounters
    after: RedisCounters
    rounds: int
    edits: int
    wall: float


async def contend(args: argparse.Namespace, senders: Sequence[SlackSender], ports: Sequence[int],
                  slack: FakeSlackAPI, url: str) -> Result:  # fmt: skip
    """Start the games, send the burst, wait for the work to finish; count what it did."""
    users = [f"UJ{i:03d}" for i in range(args.games)]
    await asyncio.gather(*(senders[i % 2].slash("/janken", "", user=u, channel_id=f"CJ{i:03d}")
                           for i, u in enumerate(users)))  # fmt: skip
    await until(lambda: len(boards(slack)) == args.games, args.timeout, "every game's board")
    client = redis.Redis.from_url(url)
    before = await settled(client)
    shown = boards(slack)
    targets = []
    for i, user in enumerate(users):
        bodies = {b: click_body(shown[f"CJ{i:03d}"], b, user, f"{slack.url}/response/x") for b, _ in CLICKS}
        targets += [(ports[p], raw_request(senders[p], ports[p], bodies[b])) for b, p in CLICKS]
    random.Random(7).shuffle(targets)
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        acks = await asyncio.get_running_loop().run_in_executor(pool, burst, targets)
    want = args.games * DELIVERIES_PER_GAME
    await until(lambda: len(slack.calls_to("chat.update")) >= want, args.timeout, f"{want} board edits")
    after = await settled(client)
    wall = time.perf_counter() - started - QUIET
    client.close()
    store = await RedisStore.open(url)
    try:
        stats = [await store.get_stats(PlayerKey("slack", TEAM, u)) for u in users]
    finally:
        await store.close()
    rounds = sum(s.wins + s.losses + s.draws for s in stats)
    return Result(acks, before, after, rounds, len(slack.calls_to("chat.update")), wall)


def report(args: argparse.Namespace, result: Result, logs: Sequence[Path]) -> None:
    clicks = len(result.acks)
    ms = [seconds * 1000 for _, seconds in result.acks]
    used, reads = result.after.since(result.before)
    stood_down = sum(p.read_text(errors="replace").count("ignoring a repeated delivery") for p in logs)
    deliveries = args.games * DELIVERIES_PER_GAME
    print(f"\n=== janken contention: 2 processes, {args.games} games, {clicks} clicks, one Redis ===")
    ok = "OK" if result.rounds == args.games else "MISMATCH"
    line("rounds applied / expected", f"{result.rounds} / {args.games} ({ok})")
    line("click ack latency (ms)", f"p50 {percentile(ms, 50):.1f} / p99 {percentile(ms, 99):.1f} / "
                                   f"max {max(ms):.1f}")  # fmt: skip
    line("non-200 acks", sum(status != 200 for status, _ in result.acks))
    line("deliveries left to the other", f"{stood_down} (expected {clicks - deliveries})")
    line("board edits (chat.update)", f"{result.edits} (expected {deliveries}: one per delivery)")
    line("Redis commands per click", f"{sum(used.values()) / clicks:.2f} ({sum(used.values())} total)")
    line("Redis read events per click", f"{reads / clicks:.2f} (about one per round trip)")
    line("Redis commands by name", dict(used.most_common()))
    line("burst to all work done (s)", f"{result.wall:.2f} (board edits paced at Tier 3 per process)")


async def run(args: argparse.Namespace) -> int:
    print(f"code under test: {code_version()}")
    slack = FakeSlackAPI(rate_limits=False)
    with (
        given_or_own_redis(args.redis_url, missing=NO_REDIS) as url,
        tempfile.TemporaryDirectory(prefix="janken-bench-") as tmp,
    ):
        redis.Redis.from_url(url).flushdb()
        async with running_fakes(FakeOpenAI(), slack), aiohttp.ClientSession() as session:
            ports = [free_port(), free_port()]
            logs = [Path(tmp) / f"bot-{name}.log" for name in "AB"]
            procs = [start_bot(port, bot_env(slack, url), log) for port, log in zip(ports, logs)]
            try:
                for proc, port in zip(procs, ports):
                    await wait_healthy(proc, f"http://127.0.0.1:{port}", session)
                senders = [SlackSender(f"http://127.0.0.1:{p}/slack/events", f"{slack.url}/response/", session)
                           for p in ports]  # fmt: skip
                result = await contend(args, senders, ports, slack, url)
            finally:
                await asyncio.gather(*(stop_bot(proc) for proc in procs))
            report(args, result, logs)
            print(f"bot exit statuses: {[proc.returncode for proc in procs]}")
    return 0 if result.rounds == args.games else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--games", type=int, default=50, help="players, each with a game (default 50)")
    parser.add_argument("--redis-url", help="an existing Redis (default: a private redis-server)")
    parser.add_argument("--timeout", type=float, default=180.0, help="max seconds for each wait")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
