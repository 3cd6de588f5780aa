"""How Slack is started: Socket Mode with the same app, and ``python -m bot slack --http`` as a process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest

from bot.slack_app import server
from bot.slack_app.listeners import COMMANDS
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import SIGNING_SECRET, SlackSender, mention, until, until_healthy
from tests.redis_server import free_port
from tests.slack_harness import start_bot

ROOT = Path(__file__).resolve().parent.parent


async def test_socket_mode_hands_the_same_app_to_the_handler_and_answers_commands() -> None:
    async for bot in start_bot():
        app = bot.app
        serving = asyncio.create_task(
            server.serve_socket_mode(app, "xapp-test", drain=lambda: asyncio.sleep(0))
        )
        try:
            await bot.slack.wait_for_socket()
            payload = {
                "token": "legacy",
                "team_id": "T1",
                "team_domain": "fake",
                "channel_id": "C1",
                "channel_name": "g",
                "user_id": "U1",
                "user_name": "ada",
                "command": "/janken",
                "text": "rock",
                "api_app_id": "A1",
                "response_url": f"{bot.slack.url}/response/{uuid.uuid4().hex}",
                "trigger_id": "trig-1",
            }
            ack = await bot.slack.send_envelope("slash_commands", payload)
            assert "envelope_id" in ack
            board = await until(lambda: [m for m in bot.slack.messages.values() if m.blocks])
            assert "You threw ✊ rock" in board[0].text or "You both threw ✊ rock" in board[0].text
            opened = bot.slack.calls_to("apps.connections.open")[0]
            assert opened.headers["Authorization"] == "Bearer xapp-test"
            event = {"type": "event_callback", "team_id": "T1", "event_id": "Ev9", "event": mention()}
            await bot.slack.send_envelope("events_api", event)  # a first delivery: retry_attempt 0
            await until(bot.answers)
            assert len(bot.openai.calls("chat")) == 1
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SLACK_", "DISCORD_"))}
    env.update(PYTHONPATH=str(ROOT), STORE_URL=f"sqlite:///{tmp_path}/bot.db", **extra)
    return env


async def test_python_m_bot_slack_http_serves_healthz_and_commands(tmp_path: Path) -> None:
    port = free_port()
    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        env = _env(
            tmp_path,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url,
            PORT=str(port),
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "slack",
            "--http",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            await until_healthy(session, base, process=proc)
            sender = SlackSender(f"{base}/slack/events", f"{slack.url}/response/", session)
            status, _ = await sender.slash("/janken", "")
            assert status == 200
            await until(lambda: [m for m in slack.messages.values() if m.blocks])
            status, body = await sender.slash("/ask", "hello")
            responses = await until(lambda: [c for c in slack.calls_to("response_url") if c.args.get("text")])
            assert "OPENAI_API_KEY" in responses[0].args["text"]  # no key: one clear private line
        finally:
            proc.terminate()
            _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0, err  # SIGTERM shuts down cleanly
        assert b"Traceback" not in err and b"xoxb-test" not in err


async def test_slack_without_its_credentials_stops_with_one_line(tmp_path: Path) -> None:
    for args, env, missing in [
        (("slack",), {"SLACK_BOT_TOKEN": "xoxb-x"}, "SLACK_APP_TOKEN"),
        (("slack", "--http"), {"SLACK_BOT_TOKEN": "xoxb-x"}, "SLACK_SIGNING_SECRET"),
        (("slack",), {}, "SLACK_BOT_TOKEN"),
    ]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=tmp_path,
            env=_env(tmp_path, **env),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        lines = err.decode().strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and missing in lines[0], lines


def test_the_manifest_declares_what_the_app_listens_to() -> None:
    manifest = json.loads((ROOT / "slack-manifest.json").read_text())
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == {f"/{name}" for name in COMMANDS}
    assert all(c["url"].endswith(server.EVENTS_PATH) for c in manifest["features"]["slash_commands"])
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert settings["interactivity"]["is_enabled"]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "files:write", "app_mentions:read", "im:history"} <= scopes


async def test_a_busy_port_a_stray_port_flag_or_a_refused_token_stops_start_up_with_one_line(
    tmp_path: Path,
) -> None:
    creds = {"SLACK_BOT_TOKEN": "xoxb-x", "SLACK_SIGNING_SECRET": "s"}
    async with FakeSlackAPI() as slack:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = str(busy.getsockname()[1])
            for args, env, expected in [
                (("slack", "--http", "--port", port), {}, f"{port} cannot be used"),
                (("console", "--port", port), {}, "--port only applies"),
                (("slack", "--http"), {"SLACK_BOT_TOKEN": "xoxz-revoked"}, "refused by Slack: invalid_auth"),
                (("slack",), {"SLACK_APP_TOKEN": "xoxz-revoked"}, "SLACK_APP_TOKEN was refused by Slack"),
                (
                    ("slack", "--http"),
                    {"SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"},
                    "cannot be reached",
                ),
            ]:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "bot", *args, cwd=tmp_path,
                    env=_env(tmp_path, **{**creds, "SLACK_API_URL": slack.api_url, **env}),
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
                lines = err.decode().strip().splitlines()
                assert proc.returncode == 2 and expected in lines[-1] and "Traceback" not in err.decode(), (
                    lines
                )
                assert "xoxz-revoked" not in err.decode()


async def test_bolt_does_not_say_the_token_from_the_environment_goes_unused(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt reads SLACK_BOT_TOKEN itself and, given our client, warns it "will be unused": it is used
    (by the client), so the line would only mislead an operator. Bolt's other warnings still show."""
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    caplog.set_level(logging.WARNING, logger="bot.slack.bolt")
    async for bot in start_bot():
        await bot.send.slash("/janken", "")
        await until(lambda: [m for m in bot.slack.messages.values() if m.blocks])  # noqa: B023
        logging.getLogger("bot.slack.bolt").warning("another warning")
    shown = [r.getMessage() for r in caplog.records if r.name == "bot.slack.bolt"]
    assert shown == ["another warning"]
