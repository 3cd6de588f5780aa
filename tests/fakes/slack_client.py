"""Slack's side of the conversation: signed slash commands, clicks and events sent to the bot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "test-signing-secret"
FORM = "application/x-www-form-urlencoded"


@dataclass
class SlackSender:
    """Sends requests to the bot's ``/slack/events`` as Slack would, signed with the test secret."""

    events_url: str
    response_url_base: str
    session: aiohttp.ClientSession
    team: str = "T1"
    channel: str = "C1"
    secret: str = SIGNING_SECRET
    ack_times: list[float] = field(default_factory=list)

    def signed(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        retry: int | None = None,
    ) -> dict[str, str]:
        """Headers Slack would send with ``body``."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        retried = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        return {
            **retried,
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature
            or SignatureVerifier(self.secret).generate_signature(timestamp=ts, body=body),
        }

    async def send(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        """POST a prepared request; its round trip is recorded in ``ack_times``."""
        started = time.perf_counter()
        async with self.session.post(self.events_url, data=body.encode(), headers=headers) as response:
            text = await response.text()
        self.ack_times.append(time.perf_counter() - started)
        return response.status, text

    async def post(self, body: str, content_type: str, **signing: Any) -> tuple[int, str]:
        return await self.send(body, self.signed(body, content_type, **signing))

    async def slash(self, command: str, text: str, *, user: str = "U1", **overrides: Any) -> tuple[int, str]:
        return await self.post(self.slash_body(command, text, user=user, **overrides), FORM)

    def slash_body(self, command: str, text: str, *, user: str = "U1", **overrides: Any) -> str:
        """A slash command's form body, as Slack posts it."""
        form = {
            "token": "legacy",
            "team_id": self.team,
            "team_domain": "fake",
            "channel_id": self.channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": f"user-{user}",
            "command": command,
            "text": text,
            "api_app_id": "A1",
            "is_enterprise_install": "false",
            "response_url": f"{self.response_url_base}{uuid.uuid4().hex}",
            "trigger_id": uuid.uuid4().hex,
        }
        form.update(overrides)
        return urlencode(form)

    async def click(
        self, message: dict[str, Any], action_id: str, *, user: str = "U1", action_ts: str | None = None
    ) -> tuple[int, str]:
        button = next(
            e
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == action_id
        )
        payload = {
            "type": "block_actions",
            "api_app_id": "A1",
            "token": "legacy",
            "team": {"id": self.team, "domain": "fake"},
            "user": {"id": user, "username": f"user-{user}", "name": f"user-{user}", "team_id": self.team},
            "channel": {"id": message["channel"], "name": "general"},
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": message["channel"]},
            "message": {
                "type": "message",
                "ts": message["ts"],
                "text": message.get("text", ""),
                "blocks": message["blocks"],
            },
            "trigger_id": uuid.uuid4().hex,
            "response_url": f"{self.response_url_base}{uuid.uuid4().hex}",
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "janken",
                    "value": button["value"],
                    "action_ts": action_ts or f"{time.time():.6f}",
                }
            ],
        }
        return await self.post(
            urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
        )

    async def event(
        self, event: dict[str, Any], *, retry: int | None = None, event_id: str | None = None
    ) -> tuple[int, str]:
        body = {
            "token": "legacy",
            "team_id": self.team,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
            "event_time": int(time.time()),
            "event": event,
        }
        return await self.post(json.dumps(body), "application/json", retry=retry)


def mention(
    text: str = "<@UBOT> hi", *, user: str = "U1", ts: str = "1.5", channel: str = "C1"
) -> dict[str, str]:
    """An ``app_mention`` event, as Slack puts it in an event callback."""
    return {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel}


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Wait for background work: poll ``condition`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")


async def until_healthy(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    timeout: float = 10.0,
    process: asyncio.subprocess.Process | None = None,
) -> None:
    """Wait until the bot at ``base_url`` answers ``GET /healthz`` with 200 (fail if ``process`` exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.returncode is not None:
            raise AssertionError(f"the bot exited with status {process.returncode} before it was healthy")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base_url}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.05)
    raise AssertionError(f"GET {base_url}/healthz did not answer 200 within {timeout}s")
