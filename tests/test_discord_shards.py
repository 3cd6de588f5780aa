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


async def _ready(fake: FakeDiscordAPI, proc: subprocess.Popen[bytes], want: list[int]) -> list[int]:
    deadline = time.monotonic() + READY_WITHIN
    while fake.ready_shards != want and time.monotonic() < deadline:
        assert proc.poll() is None, "the bot process exited"
        await asyncio.sleep(0.1)
    return fake.ready_shards


async def test_a_process_runs_only_the_shards_it_is_given(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    """Shards 1 and 3 of 4 connect; 0 and 2 are left to another process (a wrong count would be 4010)."""
    fake = FakeDiscordAPI(shards=4)
    fake.identify_interval = 0.0
    async with fake:
        with open(tmp_path / "bot.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.discord_bot_process"],
                cwd=ROOT,
                env=_env(fake, fake_openai, "1,3"),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            assert await _ready(fake, proc, [1, 3]) == [1, 3]
            await asyncio.sleep(0.5)
            assert fake.ready_shards == [1, 3]  # and nothing else joins later
            assert sorted(identify["shard"] for identify in fake.identifies) == [[1, 4], [3, 4]]
        finally:
            proc.terminate()
            assert proc.wait(timeout=20) == 0, (tmp_path / "bot.log").read_text()
