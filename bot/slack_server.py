"""Running the Slack app: over HTTP (``POST /slack/events``, ``GET /healthz``) or Socket Mode."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.config import ConfigError
from bot.slack_ack import AFTER_ACK, AckFirst

_log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


ACK_FIRST = web.AppKey("ack_first", AckFirst)


def web_app(app: AsyncApp) -> web.Application:
    """Bolt's request URL plus a health check, as an aiohttp application."""
    ack_first = AckFirst()

    async def events(request: web.Request) -> web.Response:
        turn = ack_first.arrived()
        try:  # whatever happens to the request (a broken body too), it stops being pending
            bolt_request = await to_bolt_request(request)
            bolt_request.context[AFTER_ACK] = turn
            return await to_aiohttp_response(await app.async_dispatch(bolt_request))
        finally:
            turn.sent()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    application = web.Application()
    application[ACK_FIRST] = ack_first
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", healthz)
    return application


async def serve_http(app: AsyncApp, port: int, *, drain: Callable[[], Awaitable[None]]) -> None:
    """Serve until cancelled; then stop taking requests, let answers in progress finish, close."""
    runner = web.AppRunner(web_app(app))
    await runner.setup()
    site = web.TCPSite(runner, "0.0.0.0", port)
    try:
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"PORT (or --port) {port} cannot be used: {exc.strerror}") from exc
        _log.info("Slack over HTTP on port %s (POST %s, GET /healthz)", port, EVENTS_PATH)
        await asyncio.Event().wait()
    finally:
        await site.stop()  # a command arriving now would be acked and then cut off
        await drain()
        await runner.cleanup()


async def serve_socket_mode(app: AsyncApp, app_token: str, *, drain: Callable[[], Awaitable[None]]) -> None:
    """Hold a Socket Mode connection until cancelled; the web client's base URL is reused."""
    try:  # slack_sdk would retry a refused token forever, logging a traceback each time
        opened = await app.client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_APP_TOKEN was refused by Slack: {exc.response.get('error')}") from exc
    handler = AsyncSocketModeHandler(app, app_token)
    handler.client.wss_uri = opened["url"]  # connect there: apps.connections.open is Tier 1
    try:
        await handler.connect_async()
        _log.info("Slack in Socket Mode")
        await asyncio.Event().wait()
    finally:
        await drain()
        await handler.close_async()
