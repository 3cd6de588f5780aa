"""Load benchmark for the Slack bot over HTTP: N concurrent ``/ask`` slash commands.

What it measures
    * ack latency of each signed ``/ask`` POST to ``/slack/events`` (p50 / p99 / max), timed
      from writing the request to reading the answer, and how many were not answered 200;
    * whether every answer is complete in Slack (its thread messages, stopped if streamed,
      add up to the whole model answer), and the wall time until all were;
    * edits per answer (``chat.appendStream`` per stream, or ``chat.update`` per answer),
      total Slack API calls, and the 429s Slack answered, by method;
    * per answer, from the moment that user's ``/ask`` was written: "first visible text", until
      the first Slack call that put part of the answer into the user's thread (a
      ``chat.startStream`` or ``chat.postMessage`` with answer text, or the first edit that added
      some), and "completion", until the last write to that thread of an answer that ended
      complete; whether the first text was only part of the answer (it streamed); and how many
      answers were complete within 60 s of the last request. The fake records each call's
      wall-clock arrival and the sending process each request's, so the two compare directly;
    * the bot's peak RSS: VmRSS sampled every 50 ms and VmHWM read just before stopping it,
      and the CPU time it used (with several bots: the highest RSS, the CPU time added up).

How
    The fake OpenAI (streaming ``--chunks`` chunks ``--delay`` s apart, so ~1 s answers by
    default; ``--answer-seconds`` sets the delay from a total) and the fake Slack Web API run
    inside this process, on their own event loop in a daemon thread. With ``--tiers`` the fake
    Slack enforces Slack's published rate limits (per method, per workspace: Tier 2 = 20 a
    minute for chat.startStream/stopStream, ~1 chat.postMessage a second per channel, ...)
    and answers 429 + Retry-After as Slack does; without it, it accepts every call. The bot
    runs as a separate process, ``python -m bot slack --http --port <free port>``, exactly
    as deployed, and is sent the burst as soon as it is healthy. The burst comes from a
    third process: every connection opened first, then all N prepared requests written at
    once, so neither the fakes' work nor the client's own shows up in the timing. The N users
    ask from ``--channels`` channels of one workspace (one bot token).

    ``--processes P`` runs P bots on P ports for that one workspace, as a deployment with
    several processes would, and spreads the burst over them in turn. They share a Redis
    store (``REDIS_URL``, else a ``redis-server`` the bench starts: ``bench/slack_processes.py``),
    and with it Slack's rate budgets, since Slack counts per workspace, not per process.
    One process keeps the SQLite store, as before.

Run it by hand (it is a report, not a test)::

    .venv/bin/python -m bench.slack_load [--n 200] [--channels 10] [--chunks 40] [--delay 0.025]
                                         [--answer-seconds S] [--mode native|update]
                                         [--tiers] [--processes 1] [--timeout 120]

The two runs with Slack's limits on, and their targets (printed as PASS/FAIL)::

    # 20 at once, each in a channel of its own (n <= channels): 20/20 complete, no 429 at all,
    # every answer streamed, first visible text p90 <= 1 s, completion p99 <= 12 s
    .venv/bin/python -m bench.slack_load --n 20 --channels 20 --tiers
    # 200 at once in 10 channels: 200/200 complete within 60 s of the last request, at most 2 x 429
    .venv/bin/python -m bench.slack_load --n 200 --channels 10 --tiers
    # either one with two bot processes for the workspace: the same targets
    .venv/bin/python -m bench.slack_load --n 20 --channels 20 --tiers --processes 2

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

from bench.slack_processes import Bots, bench_store, peak, total
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import Call, FakeSlackAPI, Message
from tests.fakes.slack_client import FORM, SIGNING_SECRET, SlackSender

ROOT = Path(__file__).resolve().parent.parent

_T = TypeVar("_T")
START: asyncio.Event  # the burst's starting gun, in the sending process
CHANNELS = 10  # default for --channels
BOT_TOKEN = "xoxb-bench"
HEALTH_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
RSS_EVERY = 0.05
POLL_EVERY = 0.2
ACK_LIMIT_S = 3.0
P99_LIMIT_MS = 100.0
RSS_LIMIT_MIB = 200.0
FIRST_TEXT_P90_S = 1.0
COMPLETION_P99_S = 12.0
AFTER_LAST_REQUEST_S = 60.0
CROWDED_MAX_429 = 2
_MENTION = re.compile(r"<@(\w+)>")
EDIT_METHOD = {"native": "chat.appendStream", "update": "chat.update"}
PACED_METHODS = (
    "chat.postMessage",
    "chat.startStream",
    "chat.appendStream",
    "chat.stopStream",
    "chat.update",
)
THREAD_POSTS = ("chat.postMessage", "chat.startStream")  # write into a thread named by thread_ts
MESSAGE_WRITES = ("chat.appendStream", "chat.stopStream", "chat.update", "chat.delete")  # write to a ts


class BotDown(Exception):
    """The bot process never became healthy, or exited while under load."""


@dataclass
class Ack:
    """One slash command as the client saw it."""

    user: str
    channel: str
    status: int
    seconds: float
    sent_at: float  # time.time() when the request was written, in the sending process


@dataclass
class Completion:
    """How far the answers got by the end of the wait."""

    complete: int
    wall: float | None  # seconds from the first request until all were complete
    last_seen: float  # seconds from the first request to the last new completion
    answer_ts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # user -> [(channel, ts)]
    users: set[str] = field(default_factory=set)  # whose answer is complete


@dataclass
class Timeline:
    """One user's answer as Slack showed it, in seconds after their request was written."""

    sent_at: float  # time.time() when the user's /ask was written
    first_text: float | None = None  # first call that put answer text into the thread
    completed: float | None = None  # last write to the thread, if the answer ended complete
    streamed: bool = False  # that first text was a strict prefix of the answer


@dataclass
class Measured:
    """What one run measured on the client side and in the bot process."""

    acks: list[Ack]
    done: Completion
    alive: bool  # the bot was still running when the wait ended
    hwm_kib: int | None  # the highest of the bots'
    cpu: float | None  # the bots' added up
    samplers: list[RssSampler]  # one per bot
    timelines: dict[str, Timeline] = field(default_factory=dict)  # user -> their answer's timeline

    @property
    def first_texts(self) -> list[float]:
        """Seconds to each answer's first visible text (answers that showed any)."""
        return [t.first_text for t in self.timelines.values() if t.first_text is not None]

    @property
    def completions(self) -> list[float]:
        """Seconds to each complete answer's last write."""
        return [t.completed for t in self.timelines.values() if t.completed is not None]


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


def bot_env(ai: FakeOpenAI, slack: FakeSlackAPI, mode: str, store_url: str) -> dict[str, str]:
    """A clean environment: only what the bot needs, pointed at the fakes."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {
        **keep,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "OPENAI_API_KEY": "sk-bench",
        "OPENAI_BASE_URL": ai.url,
        "STORE_URL": store_url,
        "SLACK_STREAMING": mode,
        "LOG_LEVEL": "WARNING",
    }


def start_bot(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m bot slack --http``, its stdout and stderr going to ``log_path``."""
    command = [sys.executable, "-m", "bot", "slack", "--http", "--port", str(port)]
    with open(log_path, "w") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def start_bots(count: int, env: dict[str, str], logs: Path) -> Bots:
    """``count`` bots for the one workspace, each on a free port, logging into ``logs``."""
    ports = [free_port() for _ in range(count)]
    names = ["bot-stderr.log"] if count == 1 else [f"bot{i + 1}-stderr.log" for i in range(count)]
    paths = [logs / name for name in names]
    return Bots([start_bot(port, env, path) for port, path in zip(ports, paths)], ports, paths)


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


async def send_one(request: bytes, port: int) -> tuple[int, float, float]:
    """One prepared request on an open connection: status, seconds to the answer, time.time() at write."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await START.wait()
    started, sent_at = time.perf_counter(), time.time()
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
    return status, time.perf_counter() - started, sent_at


async def _burst(requests: list[tuple[bytes, int]]) -> list[tuple[int, float, float]]:
    global START
    START = asyncio.Event()
    sending = [asyncio.ensure_future(send_one(request, port)) for request, port in requests]
    await asyncio.sleep(1)  # every connection open first, as at Slack's edge
    START.set()
    return list(await asyncio.gather(*sending))


def burst(requests: list[tuple[bytes, int]]) -> list[tuple[int, float, float]]:
    """Send every ``(request, port)`` at once, from a process of its own: the fakes' work cannot delay
    the timing."""
    return asyncio.run(_burst(requests))


async def send_all(
    sender: SlackSender, ports: Sequence[int], pool: ProcessPoolExecutor,
    commands: Sequence[tuple[str, str, str, str]],
) -> list[Ack]:  # fmt: skip
    """Every ``(command, text, user, channel)`` at once, to each of the bots' ``ports`` in turn.

    Requests are signed and connections open before the burst, and the client is a
    thin HTTP/1.1 writer in its own process, so the latency measured is the bot's
    time to acknowledge rather than the load generator's own work.
    """
    requests = []
    for i, (command, text, user, channel) in enumerate(commands):
        port = ports[i % len(ports)]
        body = sender.slash_body(command, text, user=user, channel_id=channel)
        headers = {**sender.signed(body, FORM), "Host": f"127.0.0.1:{port}", "Content-Length": str(len(body))}
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        requests.append((f"POST /slack/events HTTP/1.1\r\n{head}\r\n{body}".encode(), port))
    answered = await asyncio.get_running_loop().run_in_executor(pool, burst, requests)
    return [Ack(c[2], c[3], *answer) for c, answer in zip(commands, answered)]


def asks(n: int, channels: int) -> list[tuple[str, str, str, str]]:
    """N ``/ask``, each from its own user, spread over ``channels`` channels."""
    return [("/ask", f"question number {i}", f"UB{i:05d}", f"CB{i % channels:02d}") for i in range(n)]


def find_answers(
    messages: dict[tuple[str, str], Message], expected: str, native: bool
) -> tuple[dict[str, list[tuple[str, str]]], set[str]]:
    """Per asking user: their answer's messages (channel, ts), and the users whose answer is complete.

    The question is the top-level message mentioning the user; the answer is in its thread,
    in one message or, past a message's limit, several (compared ignoring where they split).
    """
    question_of = questions(messages)
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


def questions(messages: dict[tuple[str, str], Message]) -> dict[tuple[str, str], str]:
    """(channel, ts) of each question, the top-level message mentioning the user who asked -> that user."""
    question_of: dict[tuple[str, str], str] = {}
    for (channel, ts), message in messages.items():
        mention = _MENTION.search(message.text)
        if message.thread_ts is None and mention:
            question_of[(channel, ts)] = mention.group(1)
    return question_of


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


async def wait_complete(
    slack: FakeSlackAPI,
    bots: Bots,
    want: int,
    expected: str,
    native: bool,
    started: float,
    timeout: float,
) -> Completion:
    """Poll the fake Slack until ``want`` answers are complete, the timeout passes, or a bot dies."""
    last_count, last_seen = -1, 0.0
    while True:
        answers, complete = find_answers(slack.messages, expected, native)
        elapsed = time.perf_counter() - started
        if len(complete) != last_count:
            last_count, last_seen = len(complete), elapsed
        if len(complete) >= want:
            return Completion(len(complete), elapsed, last_seen, answers, complete)
        if elapsed > timeout or bots.poll() is not None:
            return Completion(len(complete), None, last_seen, answers, complete)
        await asyncio.sleep(POLL_EVERY)


# ----- answer timelines -----------------------------------------------------------------------


def carried_text(args: dict[str, object]) -> str:
    """The text a write puts into a message: ``text`` or ``markdown_text``, plus markdown chunks."""
    chunks = args.get("chunks")
    pieces = [c.get("text", "") for c in chunks if isinstance(c, dict)] if isinstance(chunks, list) else []
    return " ".join([str(args.get("markdown_text") or args.get("text") or ""), *map(str, pieces)])


def _writer_for(
    call: Call, question_of: dict[tuple[str, str], str], in_thread: dict[tuple[str, str], str]
) -> str | None:
    """The user into whose answer thread a call writes, if any."""
    channel = str(call.args.get("channel"))
    if call.method in THREAD_POSTS:
        return question_of.get((channel, str(call.args.get("thread_ts"))))
    if call.method in MESSAGE_WRITES:
        return in_thread.get((channel, str(call.args.get("ts"))))
    return None


def _leading_match(shown: Sequence[str], words: Sequence[str]) -> int:
    """How many of ``words`` ``shown`` starts with."""
    count = 0
    while count < min(len(shown), len(words)) and shown[count] == words[count]:
        count += 1
    return count


def answer_timelines(
    calls: Sequence[Call], messages: dict[tuple[str, str], Message], acks: Sequence[Ack], expected: str,
    complete: set[str],
) -> dict[str, Timeline]:  # fmt: skip
    """Each asking user's Timeline, replayed from the fake's successful calls in arrival order."""
    question_of = questions(messages)
    in_thread = {(m.channel, m.ts): question_of[(m.channel, m.thread_ts or "")] for m in messages.values()
                 if (m.channel, m.thread_ts or "") in question_of}  # fmt: skip
    words = expected.split()
    timelines = {a.user: Timeline(a.sent_at) for a in acks}
    last_write: dict[str, float] = {}
    for call in calls:
        user = None if call.failed else _writer_for(call, question_of, in_thread)
        if user not in timelines:
            continue
        timeline, shown = timelines[user], carried_text(call.args).split()
        last_write[user] = call.time
        if timeline.first_text is None and set(words).intersection(shown):
            timeline.first_text = call.time - timeline.sent_at
            timeline.streamed = 0 < _leading_match(shown, words) < len(words)
    for user in complete & last_write.keys():
        timelines[user].completed = last_write[user] - timelines[user].sent_at
    return timelines


def complete_soon_after_last_request(timelines: dict[str, Timeline], acks: Sequence[Ack]) -> int:
    """Answers complete within AFTER_LAST_REQUEST_S of the last request written."""
    deadline = max(a.sent_at for a in acks) + AFTER_LAST_REQUEST_S
    return sum(t.completed is not None and t.sent_at + t.completed <= deadline for t in timelines.values())


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


def spread(values: Sequence[float], low: float, high: float, n: int) -> str:
    """``p<low> / p<high>`` of some answers' seconds, and how many of the N had one."""
    if not values:
        return f"n/a (0/{n} answers)"
    low_s, high_s = percentile(values, low), percentile(values, high)
    return f"p{low:.0f} {low_s:.2f} / p{high:.0f} {high_s:.2f} ({len(values)}/{n} answers)"


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
    limited = dict(sorted(Counter(c.method for c in calls if c.status == 429).items()))
    limits = "Slack's rate limits ON" if args.tiers else "no rate limits"
    bots = f", {args.processes} bot processes sharing Redis" if args.processes > 1 else ""
    print(f"\n=== Slack load: N={args.n} in {args.channels} channels, mode={args.mode}, "
          f"{args.chunks} chunks x {args.delay:g} s, {limits}{bots} ===")  # fmt: skip
    line("ack latency (ms)", f"p50 {p50:.1f} / p99 {p99:.1f} / max {max(ms):.1f}")
    line("non-200 acks", sum(a.status != 200 for a in run.acks))
    line("answers complete", f"{run.done.complete}/{args.n}")
    line("wall time to all complete", wall_time(run.done, args.timeout))
    line(f"edits per answer ({method})", f"mean {sum(edits) / len(edits):.2f} / max {max(edits)}")
    line("Slack API calls", f"{len(calls)} total; {dict(sorted(Counter(c.method for c in calls).items()))}")
    line("busiest 60 s, calls per method", peaks)
    line("429 responses", f"{sum(limited.values())}; by method {limited}")
    line("failed Slack calls", dict(failed) or 0)
    line("first visible text (s)", spread(run.first_texts, 50, 90, args.n))
    line("completion (s)", spread(run.completions, 50, 99, args.n))
    streamed = sum(t.streamed for t in run.timelines.values())
    line("answers shown partially before whole", f"{streamed}/{args.n}")
    soon = complete_soon_after_last_request(run.timelines, run.acks)
    line(f"complete <= {AFTER_LAST_REQUEST_S:.0f} s after last request", f"{soon}/{args.n}")
    each = f", {args.processes} bots" if args.processes > 1 else ""
    line(f"bot CPU time (user+sys{each})", "n/a" if run.cpu is None else f"{run.cpu:.2f} s")
    hwm = "n/a" if run.hwm_kib is None else f"{run.hwm_kib / 1024:.1f}"
    sampled = max(s.max_kib for s in run.samplers) / 1024
    rss = f"VmHWM {hwm} / sampled max {sampled:.1f}"
    line(f"peak RSS (MiB{', highest bot' if each else ''})",
         f"{rss} ({sum(s.samples for s in run.samplers)} samples)")  # fmt: skip


def tier_targets(args: argparse.Namespace, run: Measured, slack: FakeSlackAPI) -> dict[str, bool]:
    """With Slack's limits on: each asker in a channel of their own (n <= channels), or a crowd."""
    n, limited = args.n, sum(c.status == 429 for c in slack.calls)
    if n > args.channels:
        soon = complete_soon_after_last_request(run.timelines, run.acks)
        return {
            f"{n}/{n} complete within {AFTER_LAST_REQUEST_S:.0f} s of the last request": soon == n,
            f"at most {CROWDED_MAX_429} x 429": limited <= CROWDED_MAX_429,
        }
    firsts, dones = run.first_texts, run.completions
    streamed = sum(t.streamed for t in run.timelines.values())
    return {
        "0 x 429": limited == 0,
        f"{n}/{n} answers streamed (shown partially before whole)": streamed == n,
        f"first visible text p90 <= {FIRST_TEXT_P90_S:.0f} s": len(firsts) == n
        and percentile(firsts, 90) <= FIRST_TEXT_P90_S,
        f"completion p99 <= {COMPLETION_P99_S:.0f} s": len(dones) == n
        and percentile(dones, 99) <= COMPLETION_P99_S,
    }


def print_verdict(args: argparse.Namespace, run: Measured, slack: FakeSlackAPI) -> bool:
    """PASS/FAIL against each target; True when all pass."""
    acks, hwm_kib = run.acks, run.hwm_kib
    ms = [a.seconds * 1000 for a in acks]
    checks = {
        f"every ack 200 and < {ACK_LIMIT_S:.0f} s": all(a.status == 200 for a in acks)
        and max(ms) < ACK_LIMIT_S * 1000,
        f"ack p99 < {P99_LIMIT_MS:.0f} ms": percentile(ms, 99) < P99_LIMIT_MS,
        f"{args.n}/{args.n} answers complete": run.done.complete == args.n,
        f"peak RSS (VmHWM) < {RSS_LIMIT_MIB:.0f} MiB": hwm_kib is not None and hwm_kib / 1024 < RSS_LIMIT_MIB,
        **(tier_targets(args, run, slack) if args.tiers else {}),
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


async def load(args: argparse.Namespace, bots: Bots, slack: FakeSlackAPI, expected: str) -> Measured:
    """Wait for the bots, send the commands, wait for the answers; read the bots' figures."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    samplers = [RssSampler(proc.pid) for proc in bots.procs]
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        healthy = [
            await wait_healthy(proc, f"http://127.0.0.1:{port}", session) for proc, port in zip(bots.procs, bots.ports)
        ]  # fmt: skip
        fresh = "the fresh process" if len(bots.procs) == 1 else f"{len(bots.procs)} fresh processes"
        print(f"bot healthy after {max(healthy):.2f} s; sending {args.n} x /ask to {fresh}")
        sender = SlackSender("", f"{slack.url}/response/", session)  # signs the bodies; send_all sends
        for sampler in samplers:
            sampler.start()
        try:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                started = time.perf_counter()
                acks = await send_all(sender, bots.ports, pool, asks(args.n, args.channels))
                want = sum(a.status == 200 for a in acks)
                native = args.mode == "native"
                done = await wait_complete(slack, bots, want, expected, native, started, args.timeout)
            alive = bots.poll() is None
            hwm = peak([proc_status_kib(proc.pid, "VmHWM") for proc in bots.procs])
            cpu = total([proc_cpu_seconds(proc.pid) for proc in bots.procs])
        finally:
            for sampler in samplers:
                await sampler.stop()
    return Measured(acks, done, alive, hwm, cpu, samplers)


async def run(args: argparse.Namespace) -> int:
    """Fakes up, bot up, load, report; the bot and the fakes are stopped however it ends."""
    # The fake OpenAI logs a traceback for every stream the bot drops when it is stopped mid-answer.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    ai = FakeOpenAI(chunks=answer_chunks(args.chunks), chunk_delay=args.delay)
    slack = FakeSlackAPI(rate_limits=args.tiers)
    with (
        tempfile.TemporaryDirectory(prefix="slack-bench-") as tmpdir,
        bench_store(args.processes, tmpdir, token=BOT_TOKEN) as store_url,
    ):
        async with running_fakes(ai, slack):
            print(f"code under test: {code_version()}")
            bots = start_bots(args.processes, bot_env(ai, slack, args.mode, store_url), Path(tmpdir))
            measured = None
            try:
                measured = await load(args, bots, slack, "".join(ai.chunks))
            except BotDown as exc:
                print(f"BOT NOT HEALTHY: {exc}")
            finally:
                await asyncio.gather(*(stop_bot(proc) for proc in bots.procs))
            if measured is not None:  # reported after the stop, so calls made while draining count too
                measured.timelines = answer_timelines(
                    slack.calls, slack.messages, measured.acks, "".join(ai.chunks), measured.done.users
                )
                print_figures(args, measured, slack)
                print_verdict(args, measured, slack)
                if not measured.alive:
                    print("BOT DIED during the run")
            print(f"OpenAI requests: {len(ai.requests)}; bot exit status: {bots.returncodes}")
            for log_path in bots.logs:
                show_log(log_path)
    return 0 if measured is not None and measured.alive else 1


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--n", type=int, default=200, help="concurrent /ask commands (default 200)")
    parser.add_argument(
        "--channels", type=int, default=CHANNELS, help=f"channels asked in (default {CHANNELS})"
    )
    parser.add_argument("--chunks", type=int, default=40, help="chunks per answer (default 40)")
    parser.add_argument("--delay", type=float, default=0.025, help="seconds between chunks (default 0.025)")
    parser.add_argument(
        "--answer-seconds", type=float, help="seconds per answer; sets --delay to this / --chunks"
    )
    parser.add_argument("--mode", choices=("native", "update"), default="native", help="SLACK_STREAMING")
    parser.add_argument("--tiers", action="store_true", help="the fake Slack enforces Slack's rate limits")
    parser.add_argument(
        "--processes", type=int, default=1, help="bot processes for the workspace, sharing Redis (default 1)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="max seconds to wait for all answers")
    args = parser.parse_args(argv)
    if min(args.n, args.chunks, args.channels, args.processes) < 1:
        parser.error("--n, --channels, --chunks and --processes must be at least 1")
    if args.answer_seconds is not None:
        args.delay = args.answer_seconds / args.chunks
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
