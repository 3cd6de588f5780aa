"""Two Slack Socket Mode processes serving one workspace, sharing one Redis: they act as one bot.

Slack spreads an app's Socket Mode envelopes over its open connections (up to 10) and
redelivers an event it thinks was missed, with the same ``event_id`` and a ``retry_attempt``,
possibly over another connection. Two real ``python -m bot slack`` processes (A, then B) each
hold one connection to the fake Slack, which runs in this test process, with one Redis
database as their store; each has a fake OpenAI of its own that answers "answered by A" (or
B), so an answer shows which process made it. The processes start once for the module.

``apps.connections.open`` is Tier 1 (about one call a minute per app), and the fake enforces
it: B is started a minute after A on the fake's clock, as an operator adding a process would.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import redis
from slack_sdk.web.async_client import AsyncWebClient

from tests.conftest import flushed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI, Message
from tests.fakes.slack_client import until
from tests.fakes.slack_socket import MAX_CONNECTIONS
from tests.test_two_processes import (
    ROOT,
    START_TIMEOUT,
    STOP_TIMEOUT,
    TEAM,
    LoggedProcess,
    bot_env,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP_TOKEN = "xapp-1-A1-test"
TIER_1_WINDOW = 60.0
"""Seconds the fake's Tier 1 window for ``apps.connections.open`` lasts."""


class FakeClock:
    """The fake Slack's clock: monotonic time, plus however far a test moved it on."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.ahead


@dataclass
class SocketBot(LoggedProcess):
    """One ``python -m bot slack`` process, its own fake OpenAI and (once up) its connection's number."""

    ai: FakeOpenAI
    connection: int = -1


@dataclass
class SocketCluster:
    a: SocketBot
    b: SocketBot
    slack: FakeSlackAPI
    clock: FakeClock

    def answers(self, channel: str) -> list[Message]:
        """The bot's finished answers in threads of ``channel``."""
        return [
            m
            for m in self.slack.messages.values()
            if m.channel == channel and m.thread_ts and m.user == "UBOT" and not m.deleted and not m.streaming
        ]

    def chat_calls(self) -> int:
        return len(self.a.ai.calls("chat")) + len(self.b.ai.calls("chat"))


async def _start(name: str, slack: FakeSlackAPI, ai: FakeOpenAI, store_url: str) -> SocketBot:
    """Start ``python -m bot slack`` on ``store_url``, with an OpenAI that answers "answered by <name>"."""
    ai.chunks = ["answered ", "by ", name]
    env = {**bot_env(slack, ai, store_url), "SLACK_APP_TOKEN": APP_TOKEN}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "slack",
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    return SocketBot(proc, ai=ai)


async def _connected(bot: SocketBot, slack: FakeSlackAPI, before: list[int], timeout: float) -> None:
    """Wait for the one connection opened since ``before``: ``bot``'s."""
    deadline = time.monotonic() + timeout
    while not (new := [c for c in slack.open_socket_connections if c not in before]):
        assert bot.proc.returncode is None, "the bot stopped:\n" + "\n".join(bot.log)
        assert time.monotonic() < deadline, f"no connection within {timeout} s:\n" + "\n".join(bot.log)
        await asyncio.sleep(0.05)
    [bot.connection] = new


async def _stop(bots: list[SocketBot], readers: list[asyncio.Task[None]]) -> list[int]:
    """SIGTERM each bot still running; their exit codes, once their logs are read to the end."""
    for bot in bots:
        if bot.proc.returncode is None:
            bot.proc.terminate()
    codes = [await asyncio.wait_for(bot.proc.wait(), STOP_TIMEOUT) for bot in bots]
    await asyncio.gather(*readers, return_exceptions=True)
    return codes


def _forget_connection_turns(url: str) -> None:
    """The shared budget's ``apps.connections.open`` turns, gone as they would be a minute on."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter("bot:rate:*apps.connections.open*"):
            client.delete(key)
    finally:
        client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(redis_url: str) -> AsyncIterator[SocketCluster]:
    url, clock = flushed(redis_url), FakeClock()
    async with FakeSlackAPI(clock=clock) as slack, FakeOpenAI() as ai_a, FakeOpenAI() as ai_b:
        bots: list[SocketBot] = []
        readers: list[asyncio.Task[None]] = []
        try:
            for name, ai in (("A", ai_a), ("B", ai_b)):  # one at a time, so A holds connection 0
                if bots:  # B comes a minute later (Tier 1), for Slack and for the budget A and B share
                    clock.ahead += TIER_1_WINDOW
                    _forget_connection_turns(url)
                before = slack.open_socket_connections
                bots.append(await _start(name, slack, ai, url))
                readers.append(asyncio.create_task(bots[-1].read_log()))
                await _connected(bots[-1], slack, before, START_TIMEOUT)
            yield SocketCluster(bots[0], bots[1], slack, clock)
        finally:
            codes = await _stop(bots, readers)
        logs = "\n".join(line for bot in bots for line in bot.log)
        assert codes == [0, 0] and "Traceback" not in logs, logs  # SIGTERM stops both cleanly


def slash(channel: str, command: str, text: str, slack: FakeSlackAPI) -> dict[str, Any]:
    return {
        "token": "legacy", "team_id": TEAM, "team_domain": "fake", "channel_id": channel,
        "channel_name": "general", "user_id": f"U{channel}", "user_name": "ada", "command": command,
        "text": text, "api_app_id": "A1", "is_enterprise_install": "false",
        "response_url": f"{slack.url}/response/{uuid.uuid4().hex}", "trigger_id": uuid.uuid4().hex,
    }  # fmt: skip


def new_acks(before: dict[int, list[dict[str, Any]]], slack: FakeSlackAPI) -> dict[int, list[str]]:
    """The envelope ids acked since ``before``, by the connection each ack came back on."""
    now = slack.socket_acks_by_connection
    new = {c: [a["envelope_id"] for a in acks[len(before.get(c, [])) :]] for c, acks in now.items()}
    return {c: ids for c, ids in new.items() if ids}


async def test_both_processes_hold_a_connection_at_once(cluster: SocketCluster) -> None:
    assert (cluster.a.connection, cluster.b.connection) == (0, 1)
    assert cluster.slack.open_socket_connections == [0, 1] and cluster.slack.socket_connections == 2
    opened = cluster.slack.calls_to("apps.connections.open")
    assert [c.status for c in opened] == [200, 200]  # one URL each, none rate limited


async def test_each_process_answers_the_command_sent_to_its_connection(cluster: SocketCluster) -> None:
    slack, before = cluster.slack, cluster.slack.socket_acks_by_connection
    asks = {
        bot.connection: (f"CASK{bot.connection}", f"question {bot.connection}")
        for bot in (cluster.a, cluster.b)
    }
    acks = await asyncio.gather(
        *(
            slack.send_envelope("slash_commands", slash(channel, "/ask", text, slack), connection=connection)
            for connection, (channel, text) in asks.items()
        )
    )
    for bot in (cluster.a, cluster.b):
        channel, question = asks[bot.connection]
        [answer] = await until(functools.partial(cluster.answers, channel))
        assert answer.text == "".join(bot.ai.chunks)  # "answered by A" in A's channel, B's in B's
        [call] = bot.ai.calls("chat")  # and each OpenAI was asked only its own process's question
        assert call.body["messages"][-1] == {"role": "user", "content": question}
    assert new_acks(before, slack) == {0: [acks[0]["envelope_id"]], 1: [acks[1]["envelope_id"]]}


async def test_an_event_redelivered_over_the_other_connection_is_answered_once(
    cluster: SocketCluster,
) -> None:
    slack, channel, event_id = cluster.slack, "CEVENT", f"Ev{uuid.uuid4().hex[:10].upper()}"
    asked, before = cluster.chat_calls(), slack.socket_acks_by_connection
    mention = {"type": "app_mention", "user": "UEVENT", "text": "<@UBOT> hi", "ts": "1800000000.000100",
               "channel": channel, "event_ts": "1800000000.000100"}  # fmt: skip
    event = {"token": "legacy", "team_id": TEAM, "api_app_id": "A1", "event": mention,
             "type": "event_callback", "event_id": event_id, "event_time": 1800000000}  # fmt: skip
    first = await slack.send_envelope("events_api", event, connection=0)
    again = await slack.send_envelope(
        "events_api", event, connection=1, retry_attempt=1, retry_reason="timeout"
    )
    # each envelope is acked, on the connection that got it
    assert new_acks(before, slack) == {0: [first["envelope_id"]], 1: [again["envelope_id"]]}

    repeated = f"ignoring a repeated delivery slack:event:{TEAM}:{event_id}"
    stood_down = await until(lambda: [bot for bot in (cluster.a, cluster.b) if bot.logged(repeated)])
    [answerer] = [bot for bot in (cluster.a, cluster.b) if bot not in stood_down]
    [answer] = await until(lambda: cluster.answers(channel))
    assert answer.thread_ts == mention["ts"] and answer.text == "".join(answerer.ai.chunks)
    await asyncio.sleep(0.3)  # nothing more comes late
    assert len(cluster.answers(channel)) == 1 and cluster.chat_calls() == asked + 1


async def test_a_process_started_within_the_minute_waits_its_turn_instead_of_exiting(
    cluster: SocketCluster,
) -> None:
    """A third process while the Tier 1 window is still full: Slack says 429.

    It waits its turn (Retry-After, then its own Tier 1 budget: about a minute, too long to
    sit out here) instead of stopping with "SLACK_APP_TOKEN was refused", as it did when the
    connection was opened outside the paced client. It gets its own store, so the wait is
    not a turn in A's and B's shared budget.
    """
    slack = cluster.slack
    since_b = time.time() - slack.calls_to("apps.connections.open")[-1].time
    cluster.clock.ahead += TIER_1_WINDOW - 30 - since_b  # B's call is still in Slack's window
    async with FakeOpenAI() as ai:
        bot = await _start("C", slack, ai, "memory://")
        reader = asyncio.create_task(bot.read_log())
        try:
            await until(lambda: bot.logged("Slack rate limited apps.connections.open"), timeout=15)
            assert slack.calls_to("apps.connections.open")[2].status == 429
            await asyncio.sleep(1.0)
            assert bot.proc.returncode is None, "\n".join(bot.log)  # still up, waiting its turn
        finally:
            [code] = await _stop([bot], [reader])
        assert code == 0 and "Traceback" not in "\n".join(bot.log), bot.log


async def test_the_fake_holds_ten_connections_and_turns_the_eleventh_away() -> None:
    async with FakeSlackAPI(rate_limits=False) as slack, aiohttp.ClientSession() as http:
        web = AsyncWebClient(base_url=slack.api_url)
        urls = [
            (await web.apps_connections_open(app_token=APP_TOKEN))["url"] for _ in range(MAX_CONNECTIONS + 1)
        ]
        sockets = [await http.ws_connect(url) for url in urls[:MAX_CONNECTIONS]]
        hellos = [await ws.receive_json() for ws in sockets]
        assert [h["num_connections"] for h in hellos] == list(range(1, MAX_CONNECTIONS + 1))
        assert slack.open_socket_connections == list(range(MAX_CONNECTIONS))

        async with http.ws_connect(urls[-1]) as eleventh:
            told = await eleventh.receive_json()
            assert told["type"] == "disconnect" and told["reason"] == "too_many_websockets"
            assert (await eleventh.receive()).type is aiohttp.WSMsgType.CLOSE
        assert slack.socket_refusals == 1 and slack.socket_connections == MAX_CONNECTIONS

        async def ack_on(i: int) -> None:
            envelope = await sockets[i].receive_json()
            await sockets[i].send_json({"envelope_id": envelope["envelope_id"]})

        acked, _ = await asyncio.gather(slack.send_envelope("slash_commands", {}, connection=3), ack_on(3))
        assert slack.socket_acks_by_connection == {3: [acked]}
        await sockets[3].close()
        await until(lambda: 3 not in slack.open_socket_connections)
        with pytest.raises(ConnectionError):
            await slack.send_envelope("slash_commands", {}, connection=3)
        newest, _ = await asyncio.gather(slack.send_envelope("interactive", {}), ack_on(MAX_CONNECTIONS - 1))
        assert slack.socket_acks_by_connection[MAX_CONNECTIONS - 1] == [newest]  # the default: the newest
        for ws in sockets:
            await ws.close()
