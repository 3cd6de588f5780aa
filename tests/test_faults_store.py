"""The store failing under the bot: Redis not there at start-up, lost while running, back again.

Each test that loses Redis runs its own ``redis-server`` on a free loopback port, so it
can stop it and start it again on the same port while the bot keeps running. The bot
runs as users and operators run it: ``python -m bot console`` and ``python -m bot
slack --http`` in subprocesses, against the fake Slack Web API.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio
from aiohttp import web

from bot.slack_app import server
from core.messages import text
from core.store.redis import RedisStore
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import SIGNING_SECRET, SlackSender, until, until_healthy
from tests.redis_server import RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent
STORE_UNAVAILABLE = text("store_unavailable")
HANG_GUARD = 30.0
"""Seconds any one wait may take before the test fails instead of hanging."""


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_", "DISCORD_"))}
    env.pop("REDIS_URL", None)
    env.update(PYTHONPATH=str(ROOT), PYTHONIOENCODING="utf-8", **extra)
    return env


# ----- Redis not there at start-up -----------------------------------------------------------------


async def test_an_unreachable_redis_at_start_up_stops_with_one_line_naming_store_url(tmp_path: Path) -> None:
    url = f"redis://bot:s3cret-pw@127.0.0.1:{free_port()}/0"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", cwd=tmp_path, env=environment(STORE_URL=url),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(b"/janken rock\n"), HANG_GUARD)
    lines = err.decode().strip().splitlines()
    assert proc.returncode != 0 and out == b""
    assert len(lines) == 1 and lines[0].startswith("configuration error: STORE_URL="), lines
    assert "s3cret-pw" not in err.decode() and "Traceback" not in err.decode()


# ----- Redis lost while the console runs -----------------------------------------------------------


class Repl:
    """``python -m bot console`` on a pipe: one command at a time, its output read back."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._sent = 0

    async def run(self, line: str) -> str:
        """Send ``line`` and return what it printed (up to a marker command's answer)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._sent += 1
        marker = f"/marker{self._sent}"
        self.proc.stdin.write(f"{line}\n{marker}\n".encode())
        await self.proc.stdin.drain()
        printed: list[str] = []
        while True:
            got = (await asyncio.wait_for(self.proc.stdout.readline(), HANG_GUARD)).decode()
            assert got, f"the console ended; it printed {printed}"
            if marker in got:
                return "".join(printed)
            printed.append(got)


@pytest.fixture
async def repl(own_redis: RedisServer, tmp_path: Path) -> AsyncIterator[Repl]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "console", cwd=tmp_path, env=environment(STORE_URL=own_redis.url),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield Repl(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


def played(out: str) -> bool:
    return "You threw ✊ rock" in out or "You both threw ✊ rock" in out


async def test_the_console_says_the_store_is_unavailable_and_recovers_when_redis_returns(
    own_redis: RedisServer, repl: Repl
) -> None:
    assert played(await repl.run("/janken rock"))
    own_redis.stop()
    assert (await repl.run("/janken rock")).splitlines() == [STORE_UNAVAILABLE]
    assert repl.proc.returncode is None  # still running
    own_redis.start()  # the same port, empty: no restart of the bot
    assert played(await repl.run("/janken rock"))
    assert repl.proc.stdin is not None
    repl.proc.stdin.close()
    assert await asyncio.wait_for(repl.proc.wait(), HANG_GUARD) == 0
    assert repl.proc.stderr is not None
    assert b"Traceback" not in await repl.proc.stderr.read()


async def test_the_console_works_at_once_after_redis_restarts_while_it_is_idle(
    own_redis: RedisServer, repl: Repl
) -> None:
    assert played(await repl.run("/janken rock"))
    own_redis.stop()
    own_redis.start()  # restarted (a failover, a maintenance) while nobody typed anything
    assert played(await repl.run("/janken rock"))


# ----- Redis lost while Slack runs (over HTTP) -----------------------------------------------------


async def health(session: aiohttp.ClientSession, base: str) -> tuple[int, Any]:
    async with session.get(f"{base}/healthz") as response:
        return response.status, await response.json()


async def test_slack_says_the_store_is_unavailable_healthz_tells_and_both_recover_when_redis_returns(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        env = environment(
            STORE_URL=own_redis.url,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            PORT=str(port),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "slack", "--http", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        sender = SlackSender(f"{base}/slack/events", f"{slack.url}/response/", session)

        def boards() -> list[Any]:
            return [m for m in slack.messages.values() if m.blocks]

        def private() -> list[str]:
            return [str(c.args["text"]) for c in slack.calls_to("response_url") if c.args.get("text")]

        try:
            await until_healthy(session, base, timeout=HANG_GUARD, process=proc)
            assert await health(session, base) == (200, {"ok": True, "store": "ok"})
            await sender.slash("/janken", "rock")
            await until(boards, timeout=HANG_GUARD)

            own_redis.stop()
            assert await health(session, base) == (503, {"ok": False, "store": "unavailable"})
            status, _ = await sender.slash("/janken", "rock")
            assert status == 200  # acknowledged, then told privately
            assert await until(private, timeout=HANG_GUARD) == [STORE_UNAVAILABLE]
            assert len(boards()) == 1 and proc.returncode is None

            own_redis.start()  # the same port: the bot reconnects by itself
            assert await health(session, base) == (200, {"ok": True, "store": "ok"})
            await sender.slash("/janken", "rock")
            await until(lambda: len(boards()) == 2, timeout=HANG_GUARD)
            assert private() == [STORE_UNAVAILABLE]
        finally:
            if proc.returncode is None:
                proc.terminate()
            _, err = await asyncio.wait_for(proc.communicate(), HANG_GUARD)
        assert proc.returncode == 0, err  # SIGTERM still stops it cleanly


# ----- /healthz is bounded -------------------------------------------------------------------------


async def test_healthz_calls_a_store_that_does_not_answer_in_time_unavailable(own_redis: RedisServer) -> None:
    store = await RedisStore.open(own_redis.url)

    async def store_ok() -> bool:
        await store.ping()
        return True

    bolt: Any = None  # /healthz never reaches the Bolt app
    application = server.web_app(bolt, signing_secret=SIGNING_SECRET, store_ok=store_ok)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    pauser = redis.asyncio.Redis.from_url(own_redis.url)
    try:
        async with aiohttp.ClientSession() as session:
            assert await health(session, base) == (200, {"ok": True, "store": "ok"})
            pause_ms = int((server.HEALTH_TIMEOUT + 1) * 1000)
            await pauser.execute_command("CLIENT", "PAUSE", str(pause_ms), "ALL")  # Redis hangs, still up
            status, body = await asyncio.wait_for(health(session, base), HANG_GUARD)
            assert (status, body) == (503, {"ok": False, "store": "unavailable"})
    finally:
        await pauser.aclose()
        await runner.cleanup()
        await store.close()
