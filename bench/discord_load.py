"""Load benchmark for the Discord bot: N ``/ask`` interactions in one channel within a second.

What it measures
    * how many answers ended complete (the interaction's visible messages, its response
      and any follow-ups, add up to the whole model answer), and the wall time until all were;
    * per answer, from the moment its INTERACTION_CREATE was dispatched: "ack", until the
      interaction's callback (the defer) reached Discord; "first visible text", until the first
      write showing part of the answer's text (an edit of the response with answer text in it);
      "completion", until the write (edit or follow-up) whose content completed the answer;
    * edits per answer (PATCHes of the response or of a follow-up that Discord accepted), and
      whether each answer was shown partly (a strict prefix) before it was whole;
    * every call the bot made, by route, and the 429s Discord answered, by route;
    * the bot's peak RSS: VmRSS sampled every 50 ms and VmHWM read just before stopping it,
      and the CPU time it used.

How
    The fake Discord (HTTP API and gateway, Discord's rate limits ON: 5 calls per 2 s per
    interaction webhook, 5 per 5 s per channel, 50/s global, 429 + Retry-After past them) and
    the fake OpenAI (streaming ``--chunks`` chunks ``--delay`` s apart, ~1 s answers by default)
    run inside this process, on their own event loop in a daemon thread. The bot runs as a
    separate process through ``bench/discord_bot_process.py``, which points discord.py at the
    fake and calls the real composition root (``python -m bot discord``, memory store, the
    default pacing). Once the bot is READY and has synced its guild commands, the bench
    dispatches N ``/ask`` interactions from N users in the one channel the fake guild has,
    ``--spacing`` seconds apart (default 0.05: 20 over 0.95 s; 0 sends them all at once). The
    fake records each call's wall-clock arrival and the bench each dispatch's, so the two
    compare directly. The bot is stopped with SIGTERM (it lets answers in progress finish);
    calls made while it drains count too.

Run it by hand (it is a report, not a test)::

    .venv/bin/python -m bench.discord_load [--n 20] [--spacing 0.05] [--chunks 40] [--delay 0.025]
                                           [--answer-seconds S] [--timeout 60]

Targets (printed as PASS/FAIL): N/N answers complete, completion p99 <= 3 s, first visible
text p90 <= 300 ms, every answer shown partly before whole, no 429 at all, VmHWM <= 96 MiB.

Exit status: 0 whether the targets pass or fail; 1 if the bot never connected or died.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.slack_load import (
    LoopThread,
    RssSampler,
    answer_chunks,
    code_version,
    line,
    percentile,
    proc_cpu_seconds,
    proc_status_kib,
    show_log,
    spread,
    stop_bot,
)
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import (
    CALLBACK,
    DELETE_FOLLOWUP,
    DELETE_ORIGINAL,
    EDIT_FOLLOWUP,
    EDIT_ORIGINAL,
    EPHEMERAL,
    FOLLOWUP,
    GUILD_ID,
    PUT_GUILD_COMMANDS,
    USER_ID,
    Call,
)
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
CONNECT_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL_EVERY = 0.1
COMPLETION_P99_S = 3.0
FIRST_TEXT_P90_S = 0.3
RSS_LIMIT_MIB = 96.0
EDITS = (EDIT_ORIGINAL, EDIT_FOLLOWUP)
WRITES = (EDIT_ORIGINAL, FOLLOWUP, EDIT_FOLLOWUP)  # writes that show text in the interaction's messages
DELETES = (DELETE_ORIGINAL, DELETE_FOLLOWUP)


class BotDown(Exception):
    """The bot process never connected and synced its commands, or exited while under load."""


@dataclass
class Asked:
    """One ``/ask`` interaction as the bench sent it."""

    interaction_id: str
    token: str
    dispatched_at: float  # time.time() just before the dispatch


@dataclass
class Timeline:
    """One answer as Discord showed it, in seconds after its interaction was dispatched."""

    acked: float | None = None  # the callback (defer) arrived
    first_text: float | None = None  # first write showing part of the answer's text
    completed: float | None = None  # the write that made the answer whole (None: never whole)
    partial_writes: int = 0  # writes before that showing a strict prefix of the answer
    edits: int = 0  # accepted PATCHes of the response or a follow-up
    private: int = 0  # ephemeral messages (an /ask sends none unless something went wrong)


@dataclass
class Measured:
    """What one run saw in the bot process; the timelines are replayed from the fake afterwards."""

    asked: list[Asked]
    complete: int
    wall: float | None  # seconds from the first dispatch until all were complete
    alive: bool  # the bot was still running when the wait ended
    hwm_kib: int | None
    cpu: float | None
    sampler: RssSampler
    timelines: dict[str, Timeline] = field(default_factory=dict)  # interaction id -> timeline

    def seconds(self, name: str) -> list[float]:
        """One Timeline field, for the answers that have it."""
        return [v for t in self.timelines.values() if (v := getattr(t, name)) is not None]


# ----- the fakes and the bot process ----------------------------------------------------------


@contextlib.asynccontextmanager
async def running_fakes(ai: FakeOpenAI, discord: FakeDiscordAPI) -> AsyncIterator[None]:
    """Start both fakes on a loop thread of their own and always stop them."""
    worker = LoopThread()
    try:
        await worker.run(ai.start())
        await worker.run(discord.start())
        yield
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.run(discord.stop()), STOP_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.run(ai.stop()), STOP_TIMEOUT)
        worker.close()


def bot_env(ai: FakeOpenAI, discord: FakeDiscordAPI) -> dict[str, str]:
    """A clean environment: only what the bot needs, pointed at the fakes."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {
        **keep,
        "BENCH_DISCORD_API_URL": discord.api_url,
        "BENCH_DISCORD_GATEWAY_URL": discord.gateway_url,
        "DISCORD_TOKEN": discord.token,
        "DISCORD_GUILD_ID": GUILD_ID,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": ai.url,
        "STORE_URL": "memory://",
        "LOG_LEVEL": "WARNING",
    }


def start_bot(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """The bot through its bench launcher, its stdout and stderr going to ``log_path``."""
    command = [sys.executable, "-m", "bench.discord_bot_process"]
    with open(log_path, "w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_connected(proc: subprocess.Popen[bytes], discord: FakeDiscordAPI) -> float:
    """Seconds until the bot was READY and its guild commands were synced; BotDown otherwise."""
    started = time.perf_counter()
    while time.perf_counter() - started < CONNECT_TIMEOUT:
        if proc.poll() is not None:
            raise BotDown(f"the bot exited with status {proc.returncode} before it connected")
        synced = any(c.status == 200 for c in discord.calls_to(PUT_GUILD_COMMANDS))
        if synced and discord.ready_shards:
            return time.perf_counter() - started
        await asyncio.sleep(POLL_EVERY)
    raise BotDown(f"no READY session with synced commands within {CONNECT_TIMEOUT:.0f} s")


# ----- load and completion --------------------------------------------------------------------


async def send_asks(discord: FakeDiscordAPI, n: int, spacing: float) -> list[Asked]:
    """N ``/ask`` from N users in the guild's one channel, ``spacing`` seconds apart (on a fixed schedule)."""
    asked, start = [], time.perf_counter()
    for i in range(n):
        await asyncio.sleep(max(0.0, start + i * spacing - time.perf_counter()))
        user = str(int(USER_ID) + i)
        payload = discord.slash_command("ask", {"question": f"question number {i}"}, user_id=user)
        dispatched_at = time.time()
        await discord.dispatch("INTERACTION_CREATE", payload)
        asked.append(Asked(payload["id"], payload["token"], dispatched_at))
    return asked


async def wait_complete(
    discord: FakeDiscordAPI, proc: subprocess.Popen[bytes], asked: list[Asked], expected: str, timeout: float
) -> tuple[int, float | None]:
    """Poll the fake until every answer is complete, the timeout passes, or the bot dies."""
    started = min(a.dispatched_at for a in asked)
    while True:
        timelines = answer_timelines(discord, asked, expected)
        complete = sum(t.completed is not None for t in timelines.values())
        if complete == len(asked):
            return complete, time.time() - started
        if time.time() - started > timeout or proc.poll() is not None:
            return complete, None
        await asyncio.sleep(POLL_EVERY)


# ----- answer timelines -----------------------------------------------------------------------


def normalized(text: str) -> str:
    """Text with whitespace runs as single spaces (an answer split over messages loses its breaks)."""
    return " ".join(text.split())


def shows_answer(shown: str, expected: str) -> bool:
    """Whether ``shown`` starts with the answer's text (its first word, or all of ``shown`` if shorter)."""
    common = len(os.path.commonprefix([shown, expected]))
    return bool(shown) and common >= min(len(shown), len(expected.split(" ", 1)[0]))


class AnswerReplay:
    """One interaction's visible messages, replayed write by write from the fake's recorded calls."""

    def __init__(self, asked: Asked, original_id: str | None, expected: str) -> None:
        self.asked, self.original_id, self.expected = asked, original_id, expected
        self.shown: dict[str, str] = {}  # message id -> content
        self.timeline = Timeline()

    def apply(self, call: Call) -> None:
        at = call.time - self.asked.dispatched_at
        if call.route == CALLBACK and call.status < 300 and self.timeline.acked is None:
            self.timeline.acked = at
        if call.status >= 300 or call.route not in (*WRITES, *DELETES):
            return
        if call.route in DELETES:
            gone = self.original_id if call.route == DELETE_ORIGINAL else call.params.get("message_id")
            self.shown.pop(str(gone), None)
        elif isinstance(call.response, dict) and int(call.response.get("flags") or 0) & EPHEMERAL:
            self.timeline.private += 1
        elif isinstance(call.response, dict):
            self.shown[str(call.response["id"])] = str(call.response.get("content") or "")
        self.timeline.edits += call.route in EDITS
        self._observe(at)

    def _observe(self, at: float) -> None:
        text = normalized(" ".join(self.shown[k] for k in sorted(self.shown, key=int)))
        timeline = self.timeline
        if timeline.first_text is None and shows_answer(text, self.expected):
            timeline.first_text = at
        if text == self.expected:
            timeline.completed = timeline.completed if timeline.completed is not None else at
            return
        timeline.completed = None  # a later write undid it: not complete (yet)
        if text and self.expected.startswith(text):
            timeline.partial_writes += 1


def answer_timelines(discord: FakeDiscordAPI, asked: Sequence[Asked], expected: str) -> dict[str, Timeline]:
    """Each interaction's Timeline, from the fake's calls in the order it answered them."""
    replays = {a.token: AnswerReplay(a, discord.interaction(a.interaction_id).original_id, normalized(expected))
               for a in asked}  # fmt: skip
    for call in discord.calls:
        replay = replays.get(call.params.get("webhook_token", ""))
        if replay is not None:
            replay.apply(call)
    return {r.asked.interaction_id: r.timeline for r in replays.values()}


# ----- the report -------------------------------------------------------------------------------


def by_route(calls: Sequence[Call], status: int | None = None) -> dict[str, int]:
    """Calls per route (only those answered ``status``, if given)."""
    return dict(sorted(Counter(c.route for c in calls if status is None or c.status == status).items()))


def ms_spread(values: Sequence[float], low: float, high: float, n: int) -> str:
    if not values:
        return f"n/a (0/{n} answers)"
    low_ms, high_ms = percentile(values, low) * 1000, percentile(values, high) * 1000
    return f"p{low:.0f} {low_ms:.0f} / p{high:.0f} {high_ms:.0f} ({len(values)}/{n} answers)"


def print_figures(args: argparse.Namespace, run: Measured, calls: Sequence[Call]) -> None:
    """Every measured figure, one labelled line each."""
    n, timelines = args.n, list(run.timelines.values())
    edits = [t.edits for t in timelines] or [0]
    spacing = f"{args.spacing * 1000:.0f} ms apart" if args.spacing else "all at once"
    print(f"\n=== Discord load: N={args.n} /ask in one channel, {spacing}, {args.chunks} chunks x "
          f"{args.delay:g} s, Discord's rate limits ON ===")  # fmt: skip
    line("answers complete", f"{run.complete}/{n}")
    wall = f"{run.wall:.2f} s" if run.wall is not None else f"NOT all complete within {args.timeout:.0f} s"
    line("wall time to all complete", wall)
    line("ack: dispatch -> defer (ms)", ms_spread(run.seconds("acked"), 50, 99, n))
    line("first visible text (ms)", ms_spread(run.seconds("first_text"), 50, 90, n))
    line("completion (s)", spread(run.seconds("completed"), 50, 99, n))
    line("edits per answer (PATCH, 2xx)", f"mean {sum(edits) / len(edits):.2f} / max {max(edits)}")
    partial = [t.partial_writes for t in timelines]
    line("shown partly before whole", f"{sum(p > 0 for p in partial)}/{n} answers ({sum(partial)} writes)")
    private = [t.private for t in timelines]
    line("private (ephemeral) messages", f"{sum(private)} in {sum(p > 0 for p in private)}/{n} answers")
    line("Discord API calls", f"{len(calls)} total; {by_route(calls)}")
    limited = by_route(calls, 429)
    line("429 responses", f"{sum(limited.values())}; by route {limited}")
    failed = Counter(f"{c.route}: {c.status}" for c in calls if c.status >= 400 and c.status != 429)
    line("other failed calls", dict(failed) or 0)
    line("bot CPU time (user+sys)", "n/a" if run.cpu is None else f"{run.cpu:.2f} s")
    hwm = "n/a" if run.hwm_kib is None else f"{run.hwm_kib / 1024:.1f}"
    line("peak RSS (MiB)", f"VmHWM {hwm} / sampled max {run.sampler.max_kib / 1024:.1f} "
                           f"({run.sampler.samples} samples)")  # fmt: skip


def print_verdict(args: argparse.Namespace, run: Measured, calls: Sequence[Call]) -> bool:
    """PASS/FAIL against each target; True when all pass."""
    n, firsts, dones = args.n, run.seconds("first_text"), run.seconds("completed")
    checks = {
        f"{n}/{n} answers complete": run.complete == n,
        f"completion p99 <= {COMPLETION_P99_S:.0f} s": len(dones) == n
        and percentile(dones, 99) <= COMPLETION_P99_S,
        f"first visible text p90 <= {FIRST_TEXT_P90_S * 1000:.0f} ms": len(firsts) == n
        and percentile(firsts, 90) <= FIRST_TEXT_P90_S,
        "every answer shown partly (an edit with a strict prefix) before whole": len(run.timelines) == n
        and all(t.partial_writes > 0 for t in run.timelines.values()),
        "0 x 429": not any(c.status == 429 for c in calls),
        f"peak RSS (VmHWM) <= {RSS_LIMIT_MIB:.0f} MiB": run.hwm_kib is not None
        and run.hwm_kib / 1024 <= RSS_LIMIT_MIB,
    }
    for name, ok in checks.items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    print(f"RESULT: {'PASS' if all(checks.values()) else 'FAIL'}")
    return all(checks.values())


def logged_errors(path: Path) -> int:
    """Lines of the bot's log at ERROR or CRITICAL (it logs at WARNING and above)."""
    return sum(
        " ERROR " in entry or " CRITICAL " in entry for entry in path.read_text(errors="replace").splitlines()
    )


# ----- main ---------------------------------------------------------------------------------------


async def load(
    args: argparse.Namespace, proc: subprocess.Popen[bytes], discord: FakeDiscordAPI, expected: str
) -> Measured:
    """Wait for the bot, send the interactions, wait for the answers; read the bot's figures."""
    connected = await wait_connected(proc, discord)
    print(f"bot READY with commands synced after {connected:.2f} s; dispatching {args.n} x /ask")
    sampler = RssSampler(proc.pid)
    sampler.start()
    try:
        asked = await send_asks(discord, args.n, args.spacing)
        complete, wall = await wait_complete(discord, proc, asked, expected, args.timeout)
        alive = proc.poll() is None
        hwm, cpu = proc_status_kib(proc.pid, "VmHWM"), proc_cpu_seconds(proc.pid)
    finally:
        await sampler.stop()
    return Measured(asked, complete, wall, alive, hwm, cpu, sampler)


def fakes(args: argparse.Namespace) -> tuple[FakeOpenAI, FakeDiscordAPI]:
    """The fake OpenAI with ~1 s answers, and the fake Discord with its rate limits on."""
    ai = FakeOpenAI(chunks=answer_chunks(args.chunks), chunk_delay=args.delay)
    discord = FakeDiscordAPI(rate_limits=True)
    discord.identify_interval = 0.0  # one shard: no identify pacing to wait out
    return ai, discord


async def run(args: argparse.Namespace) -> int:
    """Fakes up, bot up, load, report; the bot and the fakes are stopped however it ends."""
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # streams dropped at the stop
    ai, discord = fakes(args)
    expected = "".join(ai.chunks)
    with tempfile.TemporaryDirectory(prefix="discord-bench-") as tmpdir:
        log_path = Path(tmpdir) / "bot-stderr.log"
        async with running_fakes(ai, discord):
            print(f"code under test: {code_version()}")
            proc = start_bot(bot_env(ai, discord), log_path)
            measured = None
            try:
                measured = await load(args, proc, discord, expected)
            except BotDown as exc:
                print(f"BOT NOT CONNECTED: {exc}")
            finally:
                await stop_bot(proc)
            if measured is not None:  # reported after the stop, so calls made while draining count too
                measured.timelines = answer_timelines(discord, measured.asked, expected)
                calls = discord.calls
                print_figures(args, measured, calls)
                print_verdict(args, measured, calls)
                if not measured.alive:
                    print("BOT DIED during the run")
            print(f"OpenAI requests: {len(ai.requests)}; bot exit status: {proc.returncode}")
            print(f"bot log lines at ERROR or worse: {logged_errors(log_path)}")
            show_log(log_path)
    return 0 if measured is not None and measured.alive else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--n", type=int, default=20, help="/ask interactions (default 20)")
    parser.add_argument(
        "--spacing", type=float, default=0.05, help="seconds between dispatches (default 0.05; 0 = at once)"
    )
    parser.add_argument("--chunks", type=int, default=40, help="chunks per answer (default 40)")
    parser.add_argument("--delay", type=float, default=0.025, help="seconds between chunks (default 0.025)")
    parser.add_argument(
        "--answer-seconds", type=float, help="seconds per answer; sets --delay to this / --chunks"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="max seconds to wait for all answers")
    args = parser.parse_args(argv)
    if args.n < 1 or args.chunks < 1 or args.spacing < 0:
        parser.error("--n and --chunks must be at least 1, --spacing at least 0")
    if args.answer_seconds is not None:
        args.delay = args.answer_seconds / args.chunks
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
