"""Shared fixtures, and the guard that keeps every test offline and unbilled.

Any connection to a non-loopback address fails the test, and credentials are
removed from the environment before each test.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator

import openai
import pytest

from core.ai import AIService
from core.store.base import Store
from core.store.memory import MemoryStore
from core.store.sqlite import SQLiteStore
from tests.fakes.openai_server import FakeOpenAI

CREDENTIALS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "OPENAI_ADMIN_KEY",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "DISCORD_TOKEN",
    "DISCORD_GUILD_ID",
    "STORE_URL",
    "REDIS_URL",
)

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # a Unix socket path
        return True
    host = str(address[0]) if isinstance(address, tuple) else ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guarded(real):  # type: ignore[no-untyped-def]
    def connect(self: socket.socket, address: object):  # type: ignore[no-untyped-def]
        if not _is_local(address):
            raise AssertionError(f"test tried to reach {address!r}; tests must stay on loopback")
        return real(self, address)

    return connect


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any non-loopback connection and clear credentials from the environment."""
    monkeypatch.setattr(socket.socket, "connect", _guarded(_real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded(_real_connect_ex))
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def ai(fake_openai: FakeOpenAI) -> AsyncIterator[AIService]:
    """The real service over the real client, pointed at the fake server (no retries)."""
    async with openai.AsyncOpenAI(api_key="sk-test", base_url=fake_openai.url, max_retries=0) as client:
        yield AIService(client, chat_model="test-chat", image_model="test-image", system_prompt="Be brief.")


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:  # type: ignore[no-untyped-def]
    """Every backend, so one contract suite runs against each."""
    backend: Store = (
        MemoryStore() if request.param == "memory" else await SQLiteStore.open(tmp_path / "bot.db")
    )
    yield backend
    await backend.close()
