"""Load benchmark for the Slack bot over HTTP: N concurrent ``/ask`` slash commands.

What it measures
    * ack latency of each signed ``/ask`` POST to ``/slack/events`` (p50 / p99 / max), timed
      from writing the request to reading the answer, and how many were not answered 200;
    * whether every answer is complete in Slack (its thread messages, stopped if streamed,
      add up to the whole model answer), and the wall time until all were;
    * edits per answer (``chat.appendStream`` per stream, or ``chat.update`` per answer),
      total Slack API calls and any 429s;
    * the bot's peak RSS: VmRSS sampled every 50 ms and VmHWM read just before stopping it,
      and the CPU time it used.

How
    The fake OpenAI (streaming ``--chunks`` chunks ``--delay`` s apart) and the fake Slack
    Web API run inside this process, on their own event loop in a daemon thread. The bot
    runs as a separate process, ``python -m bot slack --http --port <free port>``, exactly
    as deployed, and is sent the burst as soon as it is healthy. The burst comes from a
    third process: every connection opened first, then all N prepared requests written at
    once, so neither the fakes' work nor the client's own shows up in the timing.

Run it by hand (it is a report, not a test)::

    .venv/bin/python -m bench.slack_load [--n 200] [--chunks 40] [--delay 0.025]
                                         [--mode native|update] [--timeout 120]

Exit status: 0 whether the targets pass or fail; 1 if the bot never became healthy or died.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import math
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import aiohttp

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI, Message
from tests.fakes.slack_client import FORM, SIGNING_SECRET, SlackSender

ROOT = Path(__file__).resolve().parent.parent

_T = TypeVar("_T")
START: asyncio.Event  # the burst's starting gun, in the sending process
CHANNELS = 10
HEALTH_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
RSS_EVERY = 0.05
POLL_EVERY = 0.2
ACK_LIMIT_S = 3.0
P99_LIMIT_MS = 100.0
RSS_LIMIT_MIB = 200.0
_MENTION = re.compile(r"<@(\w+)>")
EDIT_METHOD = {"native": "chat.appendStream", "update": "chat.update"}
PACED_METHODS = (
    "chat.postMessage",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "chat.update",
)


class BotDown(Exception):
    """The bot process never became healthy, or exited while under load."""


@dataclass
class Ack:
    """One slash command as the client saw it."""

    user: str
    channel: str
    status: int
    seconds: float


@dataclass
class Completion:
    """How far the answers got by the end of the wait."""

    complete: int
    wall: float | None  # seconds from the first request until all were complete
    last_seen: float  # seconds from the first request to the last new completion
    answer_ts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # user -> [(channel, ts)]


@dataclass
class Measured:
    """What one run measured on the client side and in the bot process."""

    acks: list[Ack]
    done: Completion
    alive: bool  # the bot was still running when the wait ended
    hwm_kib: int | None
    cpu: float | None
    sampler: RssSampler


# ----- the fakes ------------------------------------------------------------------------


class LoopThread:
    """An event loop of its own in a daemon thread, to keep the fakes off the client's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="bench-fakes", daemon=True)
        self._thread.start()

    async def run(self, coro: Coroutine[object, object, _T]) -> _T:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=STOP_TIMEOUT)
        if not self._thread.is_alive():
            self.loop.close()


@contextlib.asynccontextmanager
async def running_fakes(ai: FakeOpenAI, slack: FakeSlackAPI) -> AsyncIterator[None]:
    """Start both fakes on a loop thread of their own and always stop them."""
    worker = LoopThread()
    try:
        await worker.run(ai.start())
        await worker.run(slack.start())
        yield
    finally:
        for fake in (slack, ai):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.run(fake.stop()), STOP_TIMEOUT)
        worker.close()


def answer_chunks(count: int) -> list[str]:
    """Plain words only, so neither mrkdwn escaping nor ping-defusing changes the text."""
    return [f"word{i} alpha beta gamma " for i in range(count)]


# ----- the bot process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bot_env(ai: FakeOpenAI, slack: FakeSlackAPI, mode: str, tmpdir: str) -> dict[str, str]:
    """A clean environment: only what the bot needs, pointed at the fakes."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {
        **keep,
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": ai.url,
        "STORE_URL": f"sqlite:///{tmpdir}/bench.db",
        "SLACK_STREAMING": mode,
        "LOG_LEVEL": "WARNING",
    }


def start_bot(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m bot slack --http``, its stdout and stderr going to ``log_path``."""
    command = [sys.executable, "-m", "bot", "slack", "--http", "--port", str(port)]
    with open(log_path, "w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_healthy(proc: subprocess.Popen[bytes], base: str, session: aiohttp.ClientSession) -> float:
    """Seconds until GET /healthz answered 200; BotDown if it exits or takes too long."""
    started = time.perf_counter()
    while time.perf_counter() - started < HEALTH_TIMEOUT:
        if proc.poll() is not None:
            raise BotDown(f"the bot exited with status {proc.returncode} before it was healthy")
        with contextlib.suppress(TimeoutError, aiohttp.ClientError):
            async with session.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        await asyncio.sleep(0.1)
    raise BotDown(f"GET /healthz did not answer 200 within {HEALTH_TIMEOUT:.0f} s")


async def stop_bot(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        await asyncio.to_thread(proc.wait, STOP_TIMEOUT)


def proc_status_kib(pid: int, field_name: str) -> int | None:
    """A ``kB`` line of /proc/<pid>/status (VmRSS, VmHWM), or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()  # fields[0] is field 3, the state
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class RssSampler:
    """Samples VmRSS every RSS_EVERY seconds in a background task."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.max_kib = 0
        self.samples = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            rss = proc_status_kib(self.pid, "VmRSS")
            if rss is not None:
                self.max_kib, self.samples = max(self.max_kib, rss), self.samples + 1
            await asyncio.sleep(RSS_EVERY)

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ----- load and completion ----------------------------------------------------------------


async def send_one(request: bytes, port: int) -> tuple[int, float]:
    """One prepared HTTP/1.1 request on an open connection: its status, timed from write to answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await START.wait()
    started = time.perf_counter()
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        status = int(head.split(b" ", 2)[1])
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        status = -1  # no HTTP response at all
    finally:
        writer.close()
    return status, time.perf_counter() - started


async def _burst(requests: list[bytes], port: int) -> list[tuple[int, float]]:
    global START
    START = asyncio.Event()
    sending = [asyncio.ensure_future(send_one(request, port)) for request in requests]
    await asyncio.sleep(1)  # every connection open first, as at Slack's edge
    START.set()
    return list(await asyncio.gather(*sending))


def burst(requests: list[bytes], port: int) -> list[tuple[int, float]]:
    """Send every request at once, from a process of its own: the fakes' work cannot delay the timing."""
    return asyncio.run(_burst(requests, port))


async def send_all(
    sender: SlackSender, port: int, pool: ProcessPoolExecutor, commands: Sequence[tuple[str, str, str, str]]
) -> list[Ack]:
    """Every ``(command, text, user, channel)`` at once.

    Requests are signed and connections open before the burst, and the client is a
    thin HTTP/1.1 writer in its own process, so the latency measured is the bot's
    time to acknowledge rather than the load generator's own work.
    """
    requests = []
    for command, text, user, channel in commands:
        body = sender.slash_body(command, text, user=user, channel_id=channel)
        headers = {**sender.signed(body, FORM), "Host": f"127.0.0.1:{port}", "Content-Length": str(len(body))}
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        requests.append(f"POST /slack/events HTTP/1.1\r\n{head}\r\n{body}".encode())
    answered = await asyncio.get_running_loop().run_in_executor(pool, burst, requests, port)
    return [Ack(c[2], c[3], status, seconds) for c, (status, seconds) in zip(commands, answered)]


def asks(n: int) -> list[tuple[str, str, str, str]]:
    """N ``/ask``, each from its own user, spread over CHANNELS channels."""
    return [("/ask", f"question number {i}", f"UB{i:05d}", f"CB{i % CHANNELS:02d}") for i in range(n)]


def find_answers(
    messages: dict[tuple[str, str], Message], expected: str, native: bool
) -> tuple[dict[str, list[tuple[str, str]]], set[str]]:
    """Per asking user: their answer's messages (channel, ts), and the users whose answer is complete.

    The question is the top-level message mentioning the user; the answer is in its thread,
    in one message or, past a message's limit, several (compared ignoring where they split).
    """
    question_of: dict[tuple[str, str], str] = {}
    for (channel, ts), message in messages.items():
        mention = _MENTION.search(message.text)
        if message.thread_ts is None and mention:
            question_of[(channel, ts)] = mention.group(1)
    parts: dict[str, list[Message]] = {}
    for message in messages.values():
        user = question_of.get((message.channel, message.thread_ts or ""))
        if user is not None and not message.deleted:
            parts.setdefault(user, []).append(message)
    answers: dict[str, list[tuple[str, str]]] = {}
    complete: set[str] = set()
    for user, answer in parts.items():
        answer.sort(key=lambda m: _ts_key(m.ts))
        answers[user] = [(m.channel, m.ts) for m in answer]
        text = " ".join(m.text for m in answer)
        if text.split() == expected.split() and not (native and any(m.streaming for m in answer)):
            complete.add(user)
    return answers, complete


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


async def wait_complete(
    slack: FakeSlackAPI,
    proc: subprocess.Popen[bytes],
    want: int,
    expected: str,
    native: bool,
    started: float,
    timeout: float,
) -> Completion:
    """Poll the fake Slack until ``want`` answers are complete, the timeout passes, or the bot dies."""
    last_count, last_seen = -1, 0.0
    while True:
        answers, complete = find_answers(slack.messages, expected, native)
        elapsed = time.perf_counter() - started
        if len(complete) != last_count:
            last_count, last_seen = len(complete), elapsed
        if len(complete) >= want:
            return Completion(len(complete), elapsed, last_seen, answers)
        if elapsed > timeout or proc.poll() is not None:
            return Completion(len(complete), None, last_seen, answers)
        await asyncio.sleep(POLL_EVERY)


# ----- the report ---------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def edits_per_answer(
    slack: FakeSlackAPI, answers: dict[str, list[tuple[str, str]]], method: str
) -> list[int]:
    per_message = Counter((str(c.args.get("channel")), str(c.args.get("ts"))) for c in slack.calls_to(method))
    return [sum(per_message[where] for where in messages) for messages in answers.values()]


def busiest_minute(times: Sequence[float]) -> int:
    """The most calls within any 60 s window."""
    ordered, start, best = sorted(times), 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= 60:
            start += 1
        best = max(best, end - start + 1)
    return best


def wall_time(done: Completion, timeout: float) -> str:
    if done.wall is not None:
        return f"{done.wall:.2f} s"
    return f"NOT all complete within {timeout:.0f} s (last new completion at {done.last_seen:.2f} s)"


def code_version() -> str:
    """The commit under test, and a digest of uncommitted changes to tracked files, if any."""

    def git(*words: str) -> bytes:
        return subprocess.run(["git", *words], cwd=ROOT, capture_output=True, check=False).stdout

    try:
        version, diff = git("describe", "--always", "--dirty").decode().strip(), git("diff", "HEAD")
    except OSError:
        return "unknown"
    version = version or "unknown"
    return f"{version} (diff sha1 {hashlib.sha1(diff).hexdigest()[:10]})" if diff else version


def line(label: str, value: object) -> None:
    print(f"{label + ':':<34} {value}")


def print_figures(args: argparse.Namespace, run: Measured, slack: FakeSlackAPI) -> None:
    """Every measured figure, one labelled line each."""
    ms = [a.seconds * 1000 for a in run.acks]
    p50, p99 = percentile(ms, 50), percentile(ms, 99)
    method = EDIT_METHOD[args.mode]
    edits = edits_per_answer(slack, run.done.answer_ts, method) or [0]
    calls = slack.calls
    failed = Counter(f"{c.method}:{c.error}" for c in calls if c.failed)
    peaks = {m: busiest_minute([c.time for c in calls if c.method == m]) for m in PACED_METHODS}
    print(f"\n=== Slack load: N={args.n}, mode={args.mode}, {args.chunks} chunks x {args.delay} s ===")
    line("ack latency (ms)", f"p50 {p50:.1f} / p99 {p99:.1f} / max {max(ms):.1f}")
    line("non-200 acks", sum(a.status != 200 for a in run.acks))
    line("answers completed", f"{run.done.complete}/{args.n}")
    line("wall time to all complete", wall_time(run.done, args.timeout))
    line(f"edits per answer ({method})", f"mean {sum(edits) / len(edits):.2f} / max {max(edits)}")
    line("Slack API calls", f"{len(calls)} total; {dict(sorted(Counter(c.method for c in calls).items()))}")
    line("busiest 60 s, calls per method", peaks)
    line("429 (ratelimited) responses", sum(c.error == "ratelimited" for c in calls))
    line("failed Slack calls", dict(failed) or 0)
    line("bot CPU time (user+sys)", "n/a" if run.cpu is None else f"{run.cpu:.2f} s")
    hwm = "n/a" if run.hwm_kib is None else f"{run.hwm_kib / 1024:.1f}"
    rss = f"VmHWM {hwm} / sampled max {run.sampler.max_kib / 1024:.1f}"
    line("peak RSS (MiB)", f"{rss} ({run.sampler.samples} samples)")


def print_verdict(args: argparse.Namespace, run: Measured) -> bool:
    """PASS/FAIL against each target; True when all pass."""
    acks, hwm_kib = run.acks, run.hwm_kib
    ms = [a.seconds * 1000 for a in acks]
    checks = {
        f"every ack 200 and < {ACK_LIMIT_S:.0f} s": all(a.status == 200 for a in acks)
        and max(ms) < ACK_LIMIT_S * 1000,
        f"ack p99 < {P99_LIMIT_MS:.0f} ms": percentile(ms, 99) < P99_LIMIT_MS,
        f"{args.n}/{args.n} answers complete": run.done.complete == args.n,
        f"peak RSS (VmHWM) < {RSS_LIMIT_MIB:.0f} MiB": hwm_kib is not None and hwm_kib / 1024 < RSS_LIMIT_MIB,
    }
    for name, ok in checks.items():
        print(f"  [{'PASS' if ok else 'FAIL'}] {name}")
    print(f"RESULT: {'PASS' if all(checks.values()) else 'FAIL'}")
    return all(checks.values())


def show_log(path: Path, lines: int = 15) -> None:
    """The last ``lines`` of the bot's stderr (and stdout)."""
    text = path.read_text(errors="replace").splitlines()
    print(f"bot stderr: {len(text)} lines ({path})")
    for entry in text[-lines:]:
        print(f"  | {entry}")


# ----- main -------------------------------------------------------------------------------


async def load(
    args: argparse.Namespace, proc: subprocess.Popen[bytes], port: int, slack: FakeSlackAPI, expected: str
) -> Measured:
    """Wait for the bot, send the commands, wait for the answers; read the bot's figures."""
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    sampler = RssSampler(proc.pid)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        healthy = await wait_healthy(proc, base, session)
        print(f"bot healthy after {healthy:.2f} s; sending {args.n} x /ask to the fresh process")
        sender = SlackSender(f"{base}/slack/events", f"{slack.url}/response/", session)
        sampler.start()
        try:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                started = time.perf_counter()
                acks = await send_all(sender, port, pool, asks(args.n))
                want = sum(a.status == 200 for a in acks)
                native = args.mode == "native"
                done = await wait_complete(slack, proc, want, expected, native, started, args.timeout)
            alive = proc.poll() is None
            hwm, cpu = proc_status_kib(proc.pid, "VmHWM"), proc_cpu_seconds(proc.pid)
        finally:
            await sampler.stop()
    return Measured(acks, done, alive, hwm, cpu, sampler)


async def run(args: argparse.Namespace) -> int:
    """Fakes up, bot up, load, report; the bot and the fakes are stopped however it ends."""
    # The fake OpenAI logs a traceback for every stream the bot drops when it is stopped mid-answer.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    ai = FakeOpenAI(chunks=answer_chunks(args.chunks), chunk_delay=args.delay)
    slack = FakeSlackAPI()
    with tempfile.TemporaryDirectory(prefix="slack-bench-") as tmpdir:
        log_path = Path(tmpdir) / "bot-stderr.log"
        async with running_fakes(ai, slack):
            print(f"code under test: {code_version()}")
            port = free_port()
            proc = start_bot(port, bot_env(ai, slack, args.mode, tmpdir), log_path)
            measured = None
            try:
                measured = await load(args, proc, port, slack, "".join(ai.chunks))
            except BotDown as exc:
                print(f"BOT NOT HEALTHY: {exc}")
            finally:
                await stop_bot(proc)
            if measured is not None:  # reported after the stop, so calls made while draining count too
                print_figures(args, measured, slack)
                print_verdict(args, measured)
                if not measured.alive:
                    print("BOT DIED during the run")
            print(f"OpenAI requests: {len(ai.requests)}; bot exit status: {proc.returncode}")
            show_log(log_path)
    return 0 if measured is not None and measured.alive else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--n", type=int, default=200, help="concurrent /ask commands (default 200)")
    parser.add_argument("--chunks", type=int, default=40, help="chunks per answer (default 40)")
    parser.add_argument("--delay", type=float, default=0.025, help="seconds between chunks (default 0.025)")
    parser.add_argument("--mode", choices=("native", "update"), default="native", help="SLACK_STREAMING")
    parser.add_argument("--timeout", type=float, default=120.0, help="max seconds to wait for all answers")
    args = parser.parse_args(argv)
    if args.n < 1 or args.chunks < 1:
        parser.error("--n and --chunks must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
