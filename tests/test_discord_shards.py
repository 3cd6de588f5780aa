"""Shard ranges per process: ``DISCORD_SHARD_IDS`` / ``DISCORD_SHARD_COUNT`` reach the gateway."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
READY_WITHIN = 20.0


def _env(fake: FakeDiscordAPI, ai: FakeOpenAI, shard_ids: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "BENCH_DISCORD_API_URL": fake.api_url,
        "BENCH_DISCORD_GATEWAY_URL": fake.gateway_url,
        "DISCORD_TOKEN": fake.token,
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": ai.url,
        "STORE_URL": "memory://",
        "DISCORD_SHARD_IDS": shard_ids,
        "DISCORD_SHARD_COUNT": str(fake.shards),
        "LOG_LEVEL": "WARNING",
    }


def _start(fake: FakeDiscordAPI, ai: FakeOpenAI, shard_ids: str, log: Path) -> subprocess.Popen[bytes]:
    """``python -m bot discord`` (through the launcher that points discord.py at the fake)."""
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bench.discord_bot_process"],
            cwd=ROOT,
            env=_env(fake, ai, shard_ids),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _ready(fake: FakeDiscordAPI, procs: list[subprocess.Popen[bytes]], want: list[int]) -> list[int]:
    deadline = time.monotonic() + READY_WITHIN
    while fake.ready_shards != want and time.monotonic() < deadline:
        assert all(proc.poll() is None for proc in procs), "a bot process exited"
        await asyncio.sleep(0.1)
    return fake.ready_shards


async def test_two_processes_run_the_shard_ranges_they_are_given(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """Shards 0-1 in one process, 2-3 in the other: each identifies only its own, with the total count."""
    fake = FakeDiscordAPI(shards=4)
    fake.identify_interval = 0.0
    async with fake:
        procs = [_start(fake, fake_openai, ids, tmp_path / f"bot-{n}.log") for n, ids in enumerate(("0-1", "2,3"))]
        try:
            assert await _ready(fake, procs, [0, 1, 2, 3]) == [0, 1, 2, 3]
            await asyncio.sleep(0.5)
            assert fake.ready_shards == [0, 1, 2, 3]  # no shard twice, nothing joins later
            assert sorted(identify["shard"] for identify in fake.identifies) == [[0, 4], [1, 4], [2, 4], [3, 4]]
        finally:
            for proc in procs:
                proc.terminate()
            codes = [await asyncio.to_thread(proc.wait, 20) for proc in procs]
        logs = [(tmp_path / f"bot-{n}.log").read_text() for n in range(2)]
        assert codes == [0, 0], logs
