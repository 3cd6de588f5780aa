"""The fake's Socket Mode endpoint, driven by the real slack_sdk SocketModeClient and Bolt's handler."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlackAPI

SLASH_COMMAND = {
    "token": "verification-token", "team_id": "T1", "team_domain": "fake", "channel_id": "C1",
    "channel_name": "general", "user_id": "U1", "user_name": "alice", "command": "/ping", "text": "hello",
    "api_app_id": "A1", "is_enterprise_install": "false",
    "response_url": "https://hooks.slack.com/commands/T1/1/abc", "trigger_id": "1.2.abc",
}  # fmt: skip
BLOCK_ACTIONS = {
    "type": "block_actions", "team": {"id": "T1", "domain": "fake"}, "user": {"id": "U1", "name": "alice"},
    "api_app_id": "A1", "token": "verification-token", "trigger_id": "1.2.def",
    "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1", "is_ephemeral": False},
    "channel": {"id": "C1", "name": "general"}, "response_url": "https://hooks.slack.com/actions/T1/1/def",
    "actions": [{"type": "button", "action_id": "rock", "block_id": "b", "value": "rock",
                 "text": {"type": "plain_text", "text": "Rock"}, "action_ts": "1.3"}],
}  # fmt: skip


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.mark.asyncio
async def test_bolt_socket_mode_handler_round_trip(slack: FakeSlackAPI) -> None:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-test", base_url=slack.api_url), signing_secret="s")
    seen: list[str] = []

    @app.command("/ping")
    async def ping(ack: Any, command: dict[str, Any]) -> None:
        seen.append(command["text"])
        await ack("pong")

    @app.action("rock")
    async def rock(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        seen.append(body["actions"][0]["value"])

    handler = AsyncSocketModeHandler(app, "xapp-test")
    try:
        await handler.connect_async()
        await slack.wait_for_socket(timeout=2)
        assert slack.socket_connections == 1
        (opened,) = slack.calls_to("apps.connections.open")
        assert opened.headers["Authorization"] == "Bearer xapp-test" and not opened.failed

        ack = await slack.send_envelope("slash_commands", SLASH_COMMAND, timeout=2)
        assert ack["payload"] == {"text": "pong"}  # ack("pong") -> text/plain body -> {"text": ...}
        assert set(ack) == {"envelope_id", "payload"} and seen == ["hello"]

        ack2 = await slack.send_envelope("interactive", BLOCK_ACTIONS, accepts_response_payload=False)
        assert set(ack2) == {"envelope_id"} and ack2["envelope_id"] != ack["envelope_id"]  # bare ack()
        assert seen == ["hello", "rock"] and slack.socket_acks == [ack, ack2]
    finally:
        await handler.close_async()


@pytest.mark.asyncio
async def test_raw_client_sees_hello_and_acks_with_payload() -> None:
    """The fake runs on its own thread; send_envelope is awaited from the test's loop."""
    messages: list[dict[str, Any]] = []

    async def on_message(client: Any, message: dict[str, Any], raw: str | None) -> None:
        messages.append(message)

    async def on_request(client: SocketModeClient, req: SocketModeRequest) -> None:
        echo = {"retry": req.retry_attempt, "event": req.payload["event"]["text"]}
        await client.send_socket_mode_response(SocketModeResponse(req.envelope_id, echo))

    with FakeSlackAPI.run_in_thread() as slack:
        client = SocketModeClient("xapp-raw", web_client=AsyncWebClient(base_url=slack.api_url))
        client.message_listeners.append(on_message)
        client.socket_mode_request_listeners.append(on_request)
        try:
            await client.connect()
            await slack.wait_for_socket()
            event = {"type": "event_callback", "event_id": "Ev1",
                     "event": {"type": "app_mention", "text": "hi"}}  # fmt: skip
            ack = await slack.send_envelope("events_api", event, accepts_response_payload=False,
                                            retry_attempt=1)  # fmt: skip
            assert ack["payload"] == {"retry": 1, "event": "hi"}
            hello, envelope = messages
            assert hello == {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
                             "debug_info": hello["debug_info"]}  # fmt: skip
            assert envelope == {"envelope_id": ack["envelope_id"], "type": "events_api", "payload": event,
                                "accepts_response_payload": False, "retry_attempt": 1,
                                "retry_reason": ""}  # fmt: skip
            # the connect-time ping b"sdk-ping-pong:<t>" came back as a pong (before the envelope)
            assert client.last_ping_pong_time is not None
        finally:
            await client.close()
        assert slack.socket_connections == 1


@pytest.mark.asyncio
async def test_bad_app_tokens_and_tickets_are_refused(slack: FakeSlackAPI) -> None:
    refusals = [("xoxb-test", "not_allowed_token_type"), ("nope", "invalid_auth"), ("", "not_authed")]
    for token, error in refusals:
        client = SocketModeClient(token, web_client=AsyncWebClient(base_url=slack.api_url))
        try:
            with pytest.raises(SlackApiError) as err:
                await client.issue_new_wss_url()
            assert err.value.response["error"] == error
        finally:
            await client.close()
    assert [c.error for c in slack.calls_to("apps.connections.open")] == [e for _, e in refusals]
    url = (await AsyncWebClient(base_url=slack.api_url).apps_connections_open(app_token="xapp-1"))["url"]
    assert url.startswith(f"ws://127.0.0.1:{slack.port}/link/?ticket=")
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url.replace("ticket=", "ticket=x"))
        assert refused.value.status == 401
        async with http.ws_connect(url) as ws:  # stop() closes open sockets with 1001
            assert (await ws.receive_json())["type"] == "hello"
            closed, _ = await asyncio.gather(ws.receive(), slack.stop())
            assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 1001
    assert slack.socket_connections == 1 and slack.socket_acks == []
