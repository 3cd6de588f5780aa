"""Hostile HTTP at the Slack front door: forged, junk, oversized and slow requests, on real sockets.

The server is the one ``serve_http`` runs (``http_guard.start_runner`` + ``listen`` around
``server.web_app``) over the real Bolt app, with Slack's Web API faked on a local
port. The fake records every Web API call and every ``response_url`` POST, so "nothing
was sent" is checked, not assumed; the forged requests carry a ``response_url`` that
points at the fake, where anything sent on their behalf would be recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web

from bot import http_guard
from bot.http_guard import HttpLimits
from bot.slack_app import server
from tests.fakes.slack_client import FORM, SIGNING_SECRET, SlackSender, until, until_healthy
from tests.slack_harness import SlackBot, start_bot

JSON = "application/json"
SLOW = HttpLimits(read_timeout=1.0)


@pytest.fixture
async def bot() -> AsyncIterator[SlackBot]:
    async for running in start_bot():
        yield running


@pytest.fixture(autouse=True)
def log_everything(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


@dataclass
class Door:
    """The front door on a local port, and what the test needs to look at."""

    port: int
    application: web.Application
    runner: web.AppRunner

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{server.EVENTS_PATH}"


@contextlib.asynccontextmanager
async def front_door(bot: SlackBot, limits: HttpLimits = http_guard.DEFAULT_LIMITS) -> AsyncIterator[Door]:
    """``serve_http``'s server for ``bot.app`` on a free port, with ``limits``."""
    application = server.web_app(bot.app, signing_secret=SIGNING_SECRET, limits=limits)
    runner = await http_guard.start_runner(application, limits)
    try:
        listener = await http_guard.listen(runner, "127.0.0.1", 0, limits)
        try:
            yield Door(listener.sockets[0].getsockname()[1], application, runner)
        finally:
            listener.close()
    finally:
        await runner.cleanup()


# --- raw HTTP ---


def head(headers: list[tuple[str, str]], *, length: int | None, close: bool = True) -> bytes:
    lines = [f"POST {server.EVENTS_PATH} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"Content-Length: {length}"] if length is not None else []
    lines += ["Connection: close"] if close else []
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def post(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    return head(headers, length=len(body)) + body


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else None


async def exchange(door: Door, request: bytes, timeout: float = 5.0) -> tuple[int | None, bytes]:
    """Send ``request`` on a new connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    try:
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return status_of(answer), answer


def signed(sender: SlackSender, body: str, content_type: str, **signing: Any) -> list[tuple[str, str]]:
    return list(sender.signed(body, content_type, **signing).items())


def signed_bytes(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """Slack's signature over raw bytes (which need not be UTF-8)."""
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return [
        ("Content-Type", content_type),
        ("X-Slack-Request-Timestamp", ts),
        ("X-Slack-Signature", f"v0={digest.hexdigest()}"),
    ]


# --- what "nothing happened" means ---


class Quiet:
    """Whether a request left anything behind: Slack or OpenAI calls, log lines."""

    def __init__(self, bot: SlackBot, caplog: pytest.LogCaptureFixture) -> None:
        self.bot, self.caplog = bot, caplog
        self.calls = len(bot.slack.calls)
        caplog.clear()

    async def assert_refused_once(self, status: int, settle: float = 0.3) -> None:
        """Nothing sent anywhere, and exactly one log line, naming ``status``, without a traceback."""
        await asyncio.sleep(settle)  # time for any work wrongly started to show
        assert self.bot.slack.calls[self.calls :] == [] and self.bot.openai.requests == []
        records = self.caplog.records
        assert len(records) == 1, [r.getMessage() for r in records]
        assert records[0].name == "bot.http_guard" and f": {status}," in records[0].getMessage()
        assert records[0].exc_info is None and "Traceback" not in self.caplog.text


def slash(sender: SlackSender) -> str:
    """A real /ask body; its response_url points at the fake, which records any POST to it."""
    return sender.slash_body("/ask", "hello")


# --- 1. unverified requests: 401, one line, nothing sent ---


def now() -> str:
    return str(int(time.time()))


UNVERIFIED: dict[str, Callable[[SlackSender], bytes]] = {
    "timestamp abc": lambda s: post(
        slash(s).encode(),
        [("Content-Type", FORM), ("X-Slack-Request-Timestamp", "abc"), ("X-Slack-Signature", "v0=00")],
    ),
    "5000-digit timestamp": lambda s: post(
        slash(s).encode(),
        [("Content-Type", FORM), ("X-Slack-Request-Timestamp", "9" * 5000), ("X-Slack-Signature", "v0=0")],
    ),
    "non-ASCII signature, current timestamp": lambda s: post(
        slash(s).encode(),
        [
            ("Content-Type", FORM),
            ("X-Slack-Request-Timestamp", now()),
            ("X-Slack-Signature", "v0=" + "é" * 64),
        ],
    ),
    "stale timestamp, right signature": lambda s: post(
        slash(s).encode(), signed(s, slash(s), FORM, timestamp=int(time.time()) - 301)
    ),
    "future timestamp, right signature": lambda s: post(
        slash(s).encode(), signed(s, slash(s), FORM, timestamp=int(time.time()) + 301)
    ),
    "another app's secret": lambda s: post(
        slash(s).encode(),
        list(SlackSender(s.events_url, "", s.session, secret="other").signed(slash(s), FORM).items()),
    ),
    "no signature at all": lambda s: post(slash(s).encode(), [("Content-Type", FORM)]),
    "a second timestamp header": lambda s: post(
        body := slash(s).encode(), [*signed(s, body.decode(), FORM), ("X-Slack-Request-Timestamp", "abc")]
    ),
    "timestamp with underscores, right signature": lambda s: post(  # int() takes it; Slack never sends it
        slash(s).encode(),
        signed(s, slash(s), FORM, timestamp=f"{now()[:4]}_{now()[4:]}"),
    ),
    "unsigned JSON array": lambda s: post(
        json.dumps([{"response_url": f"{s.response_url_base}x"}]).encode(), [("Content-Type", JSON)]
    ),
    "unsigned invalid UTF-8": lambda s: post(b"command=/ask&text=\xff\xfe", [("Content-Type", FORM)]),
    "unsigned payload that is not JSON": lambda s: post(b"payload=%7Bnot+json", [("Content-Type", FORM)]),
    "unsigned wrong content type": lambda s: post(slash(s).encode(), [("Content-Type", "text/plain")]),
    "invalid UTF-8 signed over its bytes": lambda s: post(
        b"text=\xff\xfe", signed_bytes(b"text=\xff\xfe", FORM)
    ),
}


@pytest.mark.parametrize("make", UNVERIFIED.values(), ids=UNVERIFIED.keys())
async def test_an_unverified_request_gets_401_one_log_line_and_sends_nothing(
    bot: SlackBot, caplog: pytest.LogCaptureFixture, make: Callable[[SlackSender], bytes]
) -> None:
    async with front_door(bot) as door:
        quiet = Quiet(bot, caplog)
        status, _ = await exchange(door, make(bot.send))
        assert status == 401
        await quiet.assert_refused_once(401)
        assert door.application[server.ACK_FIRST].pending == 0


# --- 2. signed junk: 4xx, one line, nothing sent ---

SIGNED_JUNK: dict[str, tuple[str, str, int]] = {
    "JSON array": (json.dumps([{"response_url": "R"}]), JSON, 400),
    "JSON string": ('"hello"', JSON, 400),
    "JSON null": ("null", JSON, 400),
    "payload that is not JSON": ("payload=%7Bnot+json", FORM, 400),
    "payload that is a JSON array": (urlencode({"payload": "[1, 2]"}), FORM, 400),
    "authorizations that are not a list": (json.dumps({"authorizations": 5, "response_url": "R"}), JSON, 400),
    "empty body": ("", FORM, 400),
    "a slash command as text/plain": ("SLASH", "text/plain", 415),
    "a slash command as multipart": ("SLASH", "multipart/form-data; boundary=x", 415),
}


@pytest.mark.parametrize(("body", "content_type", "expected"), SIGNED_JUNK.values(), ids=SIGNED_JUNK.keys())
async def test_signed_junk_gets_4xx_one_log_line_and_sends_nothing(
    bot: SlackBot, caplog: pytest.LogCaptureFixture, body: str, content_type: str, expected: int
) -> None:
    body = body.replace("SLASH", slash(bot.send)).replace('"R"', json.dumps(f"{bot.slack.url}/response/x"))
    async with front_door(bot) as door:
        quiet = Quiet(bot, caplog)
        status, _ = await exchange(door, post(body.encode(), signed(bot.send, body, content_type)))
        assert status == expected
        await quiet.assert_refused_once(expected)


async def test_malformed_http_gets_400_and_no_traceback(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    async with front_door(bot) as door:
        caplog.clear()
        status, _ = await exchange(door, b"POST /slack/events HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        assert status == 400
        await asyncio.sleep(0.1)
        shown = [r for r in caplog.records if r.levelno >= logging.INFO]
        assert len(shown) == 1 and shown[0].name == "aiohttp.access", [r.getMessage() for r in shown]
        assert all(r.exc_info is None for r in shown) and "Traceback" not in caplog.text


async def test_a_client_gone_mid_body_leaves_one_line_and_no_traceback(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    async with front_door(bot) as door:
        quiet = Quiet(bot, caplog)
        _, writer = await asyncio.open_connection("127.0.0.1", door.port)
        writer.write(head([("Content-Type", FORM)], length=1000) + b"command=/ask")
        await writer.drain()
        await asyncio.sleep(0.1)  # the handler is reading the body
        writer.close()
        await until(lambda: caplog.records)
        await quiet.assert_refused_once(400)


# --- 3. size ---


@pytest.mark.parametrize("signing", ["unsigned", "signed"])
async def test_a_declared_body_over_1_mib_gets_413_without_being_waited_for(
    bot: SlackBot, caplog: pytest.LogCaptureFixture, signing: str
) -> None:
    assert http_guard.DEFAULT_LIMITS.max_body == 1024 * 1024
    headers = signed(bot.send, "", FORM) if signing == "signed" else [("Content-Type", FORM)]
    async with front_door(bot) as door:
        quiet = Quiet(bot, caplog)
        status, _ = await exchange(door, head(headers, length=1024 * 1024 + 1), timeout=8)
        assert status == 413  # answered, not left to the 10 s a body may take
        await quiet.assert_refused_once(413)


async def test_a_chunked_body_over_1_mib_gets_413(bot: SlackBot, caplog: pytest.LogCaptureFixture) -> None:
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(17)) + b"0\r\n\r\n"
    async with front_door(bot) as door:
        quiet = Quiet(bot, caplog)
        headers = [("Content-Type", FORM), ("Transfer-Encoding", "chunked")]
        status, _ = await exchange(door, head(headers, length=None) + body)
        assert status == 413
        await quiet.assert_refused_once(413)


# --- 3. slow clients ---


async def janken_through(url: str, bot: SlackBot) -> None:
    """A normal signed command sent to ``url``: acked 200 and its work (a board) done."""
    boards = len([m for m in bot.slack.messages.values() if m.blocks])
    body = bot.send.slash_body("/janken", "")
    async with aiohttp.ClientSession() as session:
        headers = bot.send.signed(body, FORM)
        async with session.post(url, data=body.encode(), headers=headers) as response:
            assert response.status == 200
    await until(lambda: len([m for m in bot.slack.messages.values() if m.blocks]) > boards, timeout=3)


async def closed_after(
    reader: asyncio.StreamReader, started: float, limit: float = 8.0
) -> tuple[bytes, float]:
    """What the server sent before closing the connection, and when it closed (since ``started``)."""
    answer = await asyncio.wait_for(reader.read(), limit)
    return answer, time.monotonic() - started


async def trickle(writer: asyncio.StreamWriter, piece: bytes, every: float = 0.1) -> None:
    """Send ``piece`` every ``every`` seconds until the server hangs up."""
    with contextlib.suppress(ConnectionError):
        while not writer.is_closing():
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(every)


@pytest.mark.parametrize("sending", ["nothing", "a header line every 0.1 s"])
async def test_a_request_head_not_complete_in_time_is_closed_while_others_are_answered(
    bot: SlackBot, sending: str
) -> None:
    async with front_door(bot, SLOW) as door:
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
        if sending != "nothing":
            writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
        slow = asyncio.create_task(trickle(writer, b"X-Slow: 1\r\n" if sending != "nothing" else b""))
        try:
            await janken_through(door.url, bot)
            assert not reader.at_eof()  # still open while the normal request was served
            answer, closed = await closed_after(reader, started)
        finally:
            writer.close()
            await slow
        assert answer == b"" and SLOW.read_timeout * 0.8 < closed < SLOW.read_timeout + 5


async def test_a_body_not_complete_in_time_gets_408_and_holds_no_one_back(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    limits = SLOW
    body = slash(bot.send).encode()
    async with front_door(bot, limits) as door:
        reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
        writer.write(head(signed(bot.send, body.decode(), FORM), length=len(body)) + body[:10])
        started = time.monotonic()
        slow = asyncio.create_task(trickle(writer, b"x"))
        try:
            await asyncio.sleep(0.1)
            assert door.application[server.ACK_FIRST].pending == 0  # not counted before its body
            await janken_through(door.url, bot)
            assert not reader.at_eof()  # still waiting for its body while the other was served
            caplog.clear()
            answer, closed = await closed_after(reader, started)
        finally:
            writer.close()
            await slow
        assert status_of(answer) == 408 and limits.read_timeout * 0.9 < closed < limits.read_timeout + 5
        refusals = [r for r in caplog.records if r.name == "bot.http_guard"]
        assert len(refusals) == 1 and ": 408," in refusals[0].getMessage() and "Traceback" not in caplog.text
        assert bot.slack.calls_to("response_url") == []


# --- 3. connections ---


async def test_connections_over_the_cap_get_503_and_one_log_line(
    bot: SlackBot, caplog: pytest.LogCaptureFixture
) -> None:
    limits = HttpLimits(read_timeout=5.0, max_connections=3)
    async with front_door(bot, limits) as door:
        held = [await asyncio.open_connection("127.0.0.1", door.port) for _ in range(limits.max_connections)]
        await until(lambda: len(door.runner.server.connections) == 3)  # type: ignore[union-attr]
        caplog.clear()
        for _ in range(2):
            status, _ = await exchange(door, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status == 503
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 1 and "3 are open" in lines[0], lines  # then quiet for a minute
        held[0][1].close()
        await until(lambda: len(door.runner.server.connections) < 3)  # type: ignore[union-attr]
        await janken_through(door.url, bot)
        for _, writer in held[1:]:
            writer.close()


async def test_serve_http_serves_through_the_guard_and_drains_once_cancelled(bot: SlackBot) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    drained: list[bool] = []

    async def drain() -> None:  # no new connection is taken while answers finish
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            drained.append(True)
        else:
            writer.close()
            drained.append(False)

    serving = asyncio.create_task(
        server.serve_http(bot.app, port, drain=drain, signing_secret=SIGNING_SECRET)
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:
            await until_healthy(session, base, timeout=5.0)
            forged = slash(bot.send)
            async with session.post(
                f"{base}{server.EVENTS_PATH}", data=forged, headers={"Content-Type": FORM}
            ) as r:
                assert r.status == 401
        await janken_through(f"{base}{server.EVENTS_PATH}", bot)
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    assert drained == [True]


TRUSTED_BY_BOLT: dict[str, tuple[dict[str, Any], str]] = {
    "an event that is a number": ({"type": "event_callback", "team_id": "T1", "event": 5}, JSON),
    "a null event": ({"type": "event_callback", "team_id": "T1", "event": None}, JSON),
    "a function_executed event whose function is a number": (
        {"type": "event_callback", "event": {"type": "function_executed", "function_execution_id": "F1",
                                             "function": 5}}, JSON),
    "block actions that are text": ({"type": "block_actions", "actions": "x", "team": 5}, FORM),
    "a first action without action_id": (
        {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "channel": {"id": "C1"},
         "message": {"ts": "1.2"}, "actions": [{"value": "x"}]}, FORM),
    "an action that is a number": ({"type": "block_actions", "actions": [5]}, FORM),
    "no action at all": ({"type": "block_actions", "actions": []}, FORM),
    "an action_id that is a list": ({"type": "block_actions", "actions": [{"action_id": ["janken_rock"]}]}, FORM),
    "a view that is a number": ({"type": "view_submission", "view": 5}, FORM),
    "a view that is a list": ({"view": []}, FORM),
    "an attachment action without actions": ({"type": "interactive_message", "callback_id": "c"}, FORM),
    "a callback_id that is a number": ({"type": "interactive_message", "callback_id": 5, "actions": [{}]}, FORM),
    "a workflow step edit without its step": ({"type": "workflow_step_edit", "callback_id": "c"}, FORM),
    "a block suggestion whose action_id is a number": ({"type": "block_suggestion", "action_id": 5}, FORM),
    "a click whose response_url is a number": (
        {"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "channel": {"id": "C1"},
         "message": {"ts": "1.2"}, "response_url": 5, "actions": [{"action_id": "janken_rock", "value": "x"}]}, FORM),
}  # fmt: skip
"""Signed payloads with a field Bolt reads on trust, of a shape Slack never sends: each was a
500 inside Bolt's dispatch, and some an apology posted to the payload's response_url."""


@pytest.mark.parametrize(("payload", "content_type"), TRUSTED_BY_BOLT.values(), ids=TRUSTED_BY_BOLT.keys())
async def test_a_signed_payload_bolt_would_read_on_trust_gets_400_one_log_line_and_sends_nothing(
    bot: SlackBot, caplog: pytest.LogCaptureFixture, payload: dict[str, Any], content_type: str
) -> None:
    if not isinstance(payload.get("response_url"), int):  # an apology would be recorded there
        payload = {**payload, "response_url": f"{bot.slack.url}/response/x"}
    body = json.dumps(payload) if content_type == JSON else urlencode({"payload": json.dumps(payload)})
    async with front_door(bot) as door:
        quiet = Quiet(bot, caplog)
        status, answer = await exchange(door, post(body.encode(), signed(bot.send, body, content_type)))
        assert status == 400 and b"Traceback" not in answer
        await quiet.assert_refused_once(400)
        assert door.application[server.ACK_FIRST].pending == 0
