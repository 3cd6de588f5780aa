"""Shared fixtures, and the guard that keeps every test offline and unbilled.

Any connection to a non-loopback address fails the test, and credentials are
removed from the environment before each test.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator

import openai
import pytest
import redis

from core.ai import AIService
from core.store.base import Store
from core.store.memory import MemoryStore
from core.store.redis import RedisStore
from core.store.sqlite import SQLiteStore
from tests.fakes.openai_server import FakeOpenAI
from tests.redis_server import RedisServer, RedisServerError

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

REDIS_URL_AT_START = os.environ.get("REDIS_URL")
"""Read before any test runs: the ``offline`` fixture removes ``REDIS_URL`` from each test's environment."""

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


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis for the session: ``REDIS_URL`` if set when the run started, else a ``redis-server``
    started on a free loopback port (no persistence) and stopped at the end, else the Redis
    tests are skipped. Tests that use it flush its database first (see :func:`redis_db`)."""
    if REDIS_URL_AT_START:
        yield REDIS_URL_AT_START
        return
    try:
        server = RedisServer()
    except FileNotFoundError:
        pytest.skip("Redis tests need REDIS_URL or redis-server on PATH")
    try:
        server.start()
    except RedisServerError as exc:
        pytest.skip(str(exc))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A ``redis-server`` of this test's own, which it may stop or kill and start again on its port."""
    try:
        server = RedisServer()
    except FileNotFoundError:
        pytest.skip("this test stops and restarts Redis: it needs redis-server on PATH")
    with server:
        yield server


def flushed(url: str) -> str:
    """``url``, its Redis database emptied, so no test sees another's keys."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
def redis_db(redis_url: str) -> str:
    """The session's Redis URL, its database emptied, so no test sees another's keys."""
    return flushed(redis_url)


async def open_backend(
    name: str,
    request: pytest.FixtureRequest,
    tmp_path,
    **options: int,  # type: ignore[no-untyped-def]
) -> Store:
    """A fresh store of backend ``name`` ("memory", "sqlite" or "redis")."""
    if name == "memory":
        return MemoryStore(**options)
    if name == "sqlite":
        return await SQLiteStore.open(tmp_path / "bot.db", **options)
    return await RedisStore.open(request.getfixturevalue("redis_db"), **options)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Store]:  # type: ignore[no-untyped-def]
    """Every backend, so one contract suite runs against each."""
    backend = await open_backend(request.param, request, tmp_path)
    yield backend
    await backend.close()
