"""SIGTERM while an answer streams, on every platform: the answer in flight ends properly.

Procfile hosts stop a process with SIGTERM (then SIGKILL some seconds later). Slack and
Discord let answers in progress finish before they exit (bounded by the drain's timeout);
the console, with one person at the terminal, stops at once and says so under what it
printed. Slack and the console run as ``python -m bot ...`` subprocesses; Discord runs
``bot.__main__.serve`` in this process (the fake Discord is reached by patching
discord.py's base URLs), and gets a real SIGTERM once serve has installed its handler.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from bot import __main__ as entry
from core.messages import text
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID, EDIT_ORIGINAL, GUILD_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import SIGNING_SECRET, SlackSender, until, until_healthy
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
HANG_GUARD = 30.0
"""Seconds any one wait may take before the test fails instead of hanging."""
STOPPING = text("answer_interrupted", reason=text("bot_stopping"))
WORDS = [f"word{i} " for i in range(24)]
WHOLE = "".join(WORDS)


def slow_answer(fake: FakeOpenAI) -> None:
    """An answer that takes over a second to arrive, so a SIGTERM lands in the middle of it."""
    fake.chunks, fake.chunk_delay = WORDS, 0.05


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", STORE_URL="memory://", **extra)
    return env


async def test_slack_finishes_the_answer_in_flight_then_exits_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeSlackAPI() as slack, FakeOpenAI() as fake_ai, aiohttp.ClientSession() as session:
        slow_answer(fake_ai)
        env = environment(
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            OPENAI_API_KEY="sk-test",
            OPENAI_BASE_URL=fake_ai.url,
            PORT=str(port),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "slack", "--http", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await until_healthy(session, base, timeout=HANG_GUARD, process=proc)
            sender = SlackSender(f"{base}/slack/events", f"{slack.url}/response/", session)
            await sender.slash("/ask", "count slowly")
            await until(lambda: slack.calls_to("chat.appendStream"), timeout=HANG_GUARD)
            proc.terminate()
            at_sigterm = [m.text for m in slack.messages.values() if m.thread_ts]
        finally:
            _, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD)
        [answer] = [m for m in slack.messages.values() if m.thread_ts and m.user == "UBOT"]
        assert at_sigterm != [WHOLE]  # the answer was in flight when SIGTERM came
        assert proc.returncode == 0 and b"Traceback" not in err, err
        assert not answer.streaming and answer.text == WHOLE  # stopped, with every word
        assert len(fake_ai.calls("chat")) == 1


async def test_discord_finishes_the_answer_in_flight_then_stops_on_sigterm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        slow_answer(fake_ai)
        for name, value in {
            "STORE_URL": "memory://",
            "DISCORD_TOKEN": fake_discord.token,
            "DISCORD_GUILD_ID": GUILD_ID,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": fake_ai.url,
        }.items():
            monkeypatch.setenv(name, value)
        settings = entry.Settings.from_env()
        serving = asyncio.create_task(entry.serve(settings, ["discord"], entry.parse_args(["discord"])))
        try:
            await fake_discord.wait_for_ready(timeout=HANG_GUARD)  # serve() has its SIGTERM handler by now
            payload = fake_discord.slash_command("ask", {"question": "count slowly"})
            await fake_discord.dispatch("INTERACTION_CREATE", payload)
            await until(lambda: fake_discord.calls_to(EDIT_ORIGINAL), timeout=HANG_GUARD)
            os.kill(os.getpid(), signal.SIGTERM)
            at_sigterm = [m.content for m in fake_discord.channel_messages(CHANNEL_ID)]
            await asyncio.wait_for(asyncio.gather(serving, return_exceptions=True), HANG_GUARD)
        finally:
            serving.cancel()
        shown = [m.content for m in fake_discord.channel_messages(CHANNEL_ID) if not m.ephemeral]
        assert at_sigterm != [WHOLE]  # the answer was in flight when SIGTERM came
        assert serving.cancelled() and shown == [WHOLE]  # the whole answer, then the bot stopped
        assert len(fake_ai.calls("chat")) == 1


async def test_the_console_prints_what_arrived_and_a_note_then_exits_on_sigterm(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake_ai:
        slow_answer(fake_ai)
        env = environment(tmp_path, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=fake_ai.url)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "console", cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(b"/ask count slowly\n")  # stdin stays open: the console would wait for more
            await proc.stdin.drain()
            first = await asyncio.wait_for(proc.stdout.readexactly(len(WORDS[0])), HANG_GUARD)  # mid-answer
            assert first.decode() == WORDS[0]
            proc.terminate()
        finally:
            rest, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD)
    printed, note = (first + rest).decode().splitlines()
    assert proc.returncode == 0 and b"Traceback" not in err, err
    assert note == STOPPING and WHOLE.startswith(printed) and printed != WHOLE.rstrip()
