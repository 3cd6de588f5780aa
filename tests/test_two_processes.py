"""Two bot processes behind one Slack request URL, sharing one Redis: they act as one bot.

Two real ``python -m bot slack --http`` processes (A and B) share a Redis database
(``STORE_URL``), one fake Slack Web API and one fake OpenAI, both running in this
test process. The test signs requests as Slack would and sends each to A, to B or
to both: a game goes on across processes, a click or an event delivered twice is
answered once, and a conversation started on one continues on the other. The two
processes start once for the module; each test plays in a channel of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import aiohttp
import pytest
import pytest_asyncio

from core.store.base import PlayerKey
from core.store.redis import RedisStore
from tests.conftest import flushed
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI, Message
from tests.fakes.slack_client import FORM, SIGNING_SECRET, SlackSender, until
from tests.redis_server import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parent.parent
TEAM = "T1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 25.0


@dataclass
class LoggedProcess:
    """One ``python -m bot ...`` process and its log lines so far."""

    proc: asyncio.subprocess.Process
    log: list[str] = field(default_factory=list, kw_only=True)

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.log)

    async def read_log(self) -> None:
        """Keep the stderr pipe drained (a full pipe would stall the bot), line by line."""
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.log.append(line.decode(errors="replace").rstrip())


@dataclass
class BotProcess(LoggedProcess):
    """One ``python -m bot slack --http`` process, its signed sender, and its log lines so far."""

    sender: SlackSender

    def sender_in(self, channel: str) -> SlackSender:
        return replace(self.sender, channel=channel)


@dataclass
class Cluster:
    a: BotProcess
    b: BotProcess
    slack: FakeSlackAPI
    openai: FakeOpenAI
    store: RedisStore  # the test's own client of the processes' Redis

    def response_url(self) -> str:
        return f"{self.slack.url}/response/{uuid.uuid4().hex}"

    def either_logged(self, text: str) -> bool:
        return self.a.logged(text) or self.b.logged(text)

    def boards(self, channel: str) -> list[Message]:
        return [
            m for m in self.slack.messages.values() if m.channel == channel and m.blocks and not m.deleted
        ]

    def board_edits(self, board: Message) -> int:
        return sum(c.args.get("ts") == board.ts for c in self.slack.calls_to("chat.update"))

    def answers(self, channel: str) -> list[Message]:
        """The bot's finished answers in threads of ``channel``."""
        return [
            m
            for m in self.slack.messages.values()
            if m.channel == channel and m.thread_ts and m.user == "UBOT" and not m.deleted and not m.streaming
        ]

    async def rounds(self, user: str) -> int:
        stats = await self.store.get_stats(PlayerKey("slack", TEAM, user))
        return stats.wins + stats.losses + stats.draws


def bot_env(slack: FakeSlackAPI, ai: FakeOpenAI, store_url: str) -> dict[str, str]:
    """The environment of a bot process: the fakes' URLs, the store, Slack's test credentials."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    return {
        **keep,
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": ai.url,
        "STORE_URL": store_url,
        "LOG_LEVEL": "INFO",  # the listeners log a delivery they leave to the other process
    }


async def _start(env: dict[str, str], session: aiohttp.ClientSession, slack: FakeSlackAPI) -> BotProcess:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "slack", "--http", "--port", str(port),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    return BotProcess(proc, SlackSender(f"{base}/slack/events", f"{slack.url}/response/", session))


async def _healthy(bot: BotProcess) -> None:
    base = bot.sender.events_url.rsplit("/slack/", 1)[0]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert bot.proc.returncode is None, "\n".join(bot.log)
        with contextlib.suppress(aiohttp.ClientError):
            async with bot.sender.session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the bot was not healthy within {START_TIMEOUT} s:\n" + "\n".join(bot.log))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(redis_url: str) -> AsyncIterator[Cluster]:
    url = flushed(redis_url)
    async with FakeSlackAPI() as slack, FakeOpenAI() as ai, aiohttp.ClientSession() as session:
        env = bot_env(slack, ai, url)
        bots = [await _start(env, session, slack) for _ in range(2)]
        readers = [asyncio.create_task(bot.read_log()) for bot in bots]
        store = await RedisStore.open(url)
        try:
            await asyncio.gather(*(_healthy(bot) for bot in bots))
            yield Cluster(bots[0], bots[1], slack, ai, store)
        finally:
            await store.close()
            for bot in bots:
                if bot.proc.returncode is None:
                    bot.proc.terminate()
            codes = [await asyncio.wait_for(bot.proc.wait(), STOP_TIMEOUT) for bot in bots]
            await asyncio.gather(*readers, return_exceptions=True)
        logs = "\n".join(line for bot in bots for line in bot.log)
        assert codes == [0, 0] and "Traceback" not in logs, logs  # SIGTERM stops both cleanly


def click_body(board: Message, action_id: str, user: str, response_url: str) -> str:
    """One click on ``board``, as Slack posts it: sent twice, it is the same delivery (same trigger_id)."""
    assert board.blocks is not None
    button = next(
        e
        for b in board.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )
    payload: dict[str, Any] = {
        "type": "block_actions",
        "api_app_id": "A1",
        "token": "legacy",
        "team": {"id": TEAM, "domain": "fake"},
        "user": {"id": user, "username": f"user-{user}", "name": f"user-{user}", "team_id": TEAM},
        "channel": {"id": board.channel, "name": "general"},
        "container": {"type": "message", "message_ts": board.ts, "channel_id": board.channel},
        "message": {"type": "message", "ts": board.ts, "text": board.text, "blocks": board.blocks},
        "trigger_id": uuid.uuid4().hex,
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "janken",
                "value": button["value"],
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def trigger_of(body: str) -> str:
    return str(json.loads(parse_qs(body)["payload"][0])["trigger_id"])


async def test_a_game_started_on_a_continues_on_b_with_its_hp(cluster: Cluster) -> None:
    user, channel = "UGAME", "CGAME"
    status, _ = await cluster.a.sender_in(channel).slash("/janken", "rock", user=user, channel_id=channel)
    assert status == 200
    [board] = await until(lambda: cluster.boards(channel))
    player = PlayerKey("slack", TEAM, user)
    first = await cluster.store.get_game(player)
    assert first is not None and first.rounds_played == 1

    status, _ = await cluster.b.sender.post(
        click_body(board, "janken_paper", user, cluster.response_url()), FORM
    )
    assert status == 200
    await until(lambda: cluster.board_edits(board) == 1)
    second = await cluster.store.get_game(player)
    stats = await cluster.store.get_stats(player)
    assert second is not None and (second.game_id, second.rounds_played) == (first.game_id, 2)
    hp_lost = 2 * second.max_hp - second.player_hp - second.opponent_hp
    assert hp_lost == stats.wins + stats.losses  # B went on with A's HP: every decisive round cost one
    assert len(cluster.boards(channel)) == 1  # the same board, edited by B


async def test_one_click_delivered_to_both_plays_one_round_and_edits_the_board_once(cluster: Cluster) -> None:
    user, channel = "UCLICK", "CCLICK"
    await cluster.b.sender_in(channel).slash("/janken", "", user=user, channel_id=channel)
    [board] = await until(lambda: cluster.boards(channel))
    assert await cluster.rounds(user) == 0

    body = click_body(board, "janken_rock", user, cluster.response_url())
    statuses = await asyncio.gather(cluster.a.sender.post(body, FORM), cluster.b.sender.post(body, FORM))
    assert [s for s, _ in statuses] == [200, 200]
    await until(
        lambda: cluster.either_logged(f"ignoring a repeated delivery slack:click:{TEAM}:{trigger_of(body)}")
    )
    await until(lambda: cluster.board_edits(board) >= 1)
    assert await cluster.rounds(user) == 1
    assert cluster.board_edits(board) == 1  # the process that stood down made no Slack call


async def test_an_event_redelivered_to_b_is_answered_once(cluster: Cluster) -> None:
    channel, event_id = "CEVENT", f"Ev{uuid.uuid4().hex[:10]}"
    asked = len(cluster.openai.calls("chat"))
    mention = {"type": "app_mention", "user": "UEVENT", "text": "<@UBOT> hi", "ts": "1800000000.000100",
               "channel": channel}  # fmt: skip
    assert (await cluster.a.sender.event(mention, event_id=event_id))[0] == 200
    assert (await cluster.b.sender.event(mention, event_id=event_id, retry=1))[0] == 200
    await until(lambda: cluster.either_logged(f"ignoring a repeated delivery slack:event:{TEAM}:{event_id}"))
    [answer] = await until(lambda: cluster.answers(channel))
    assert answer.thread_ts == mention["ts"] and answer.text == "".join(cluster.openai.chunks)
    assert len(cluster.openai.calls("chat")) == asked + 1


async def test_a_conversation_started_on_a_continues_in_its_thread_on_b(cluster: Cluster) -> None:
    user, channel = "UTALK", "CTALK"
    await cluster.a.sender_in(channel).slash("/ask", "what is two plus two", user=user, channel_id=channel)
    [answer] = await until(lambda: cluster.answers(channel))
    asked = len(cluster.openai.calls("chat"))
    follow_up = {"type": "app_mention", "user": user, "text": "<@UBOT> and times three?",
                 "ts": "1800000000.000900", "thread_ts": answer.thread_ts, "channel": channel}  # fmt: skip
    assert (await cluster.b.sender.event(follow_up))[0] == 200
    await until(lambda: len(cluster.answers(channel)) == 2)
    sent = [(m["role"], m["content"]) for m in cluster.openai.calls("chat")[asked].body["messages"][1:]]
    assert sent == [
        ("user", "what is two plus two"),
        ("assistant", answer.text),
        ("user", "and times three?"),
    ]
