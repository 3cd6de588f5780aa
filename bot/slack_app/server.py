"""Running the Slack app: over HTTP (``POST /slack/events``, ``GET /healthz``) or Socket Mode.

Over HTTP, a request reaches Bolt only once its whole body is in, within the
limits of :mod:`bot.http_guard`, and its signature verifies
(:mod:`bot.slack_app.verify`). Anything else gets a 4xx and one log line, and
nothing is sent anywhere on its behalf: no ``response_url``, no Web API call, no work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import ConfigError
from bot.http_guard import DEFAULT_LIMITS, HttpLimits, Refused, listen, read_body, refusal, start_runner
from bot.slack_app.ack import AFTER_ACK, AckFirst
from bot.slack_app.inbound import SlackRequest, misshapen
from bot.slack_app.verify import SlackSignature

_log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
PAYLOAD_TYPES = ("application/json", "application/x-www-form-urlencoded")
"""Events come as JSON; slash commands and clicks as a form."""


ACK_FIRST = web.AppKey("ack_first", AckFirst)

StoreCheck = Callable[[], Awaitable[bool]]
"""Whether the store answers now (``False``, or an error, when it does not)."""
HEALTH_TIMEOUT = 2.0
"""Seconds ``GET /healthz`` waits for the store before calling it unavailable."""


def web_app(
    app: AsyncApp,
    *,
    signing_secret: str,
    limits: HttpLimits = DEFAULT_LIMITS,
    store_ok: StoreCheck | None = None,
) -> web.Application:
    """Bolt's request URL plus a health check, as an aiohttp application.

    ``GET /healthz`` answers 200 ``{"ok": true, "store": "ok"}`` while ``store_ok`` says the
    store answers, 503 ``{"ok": false, "store": "unavailable"}`` otherwise (or after
    :data:`HEALTH_TIMEOUT`); with no ``store_ok``, 200 ``{"ok": true}`` while the process is up.
    """
    if not signing_secret.strip():
        raise ConfigError("SLACK_SIGNING_SECRET is empty; it is needed to verify Slack's HTTP requests")
    signature = SlackSignature(signing_secret)
    ack_first = AckFirst()

    async def events(request: web.Request) -> web.Response:
        try:
            bolt_request = await _verified(request, signature, limits)
        except Refused as refused:
            return refusal(request, refused)
        turn = ack_first.arrived()  # only now: a sender still sending holds no one's work back
        try:
            bolt_request.context[AFTER_ACK] = turn
            return await to_aiohttp_response(await app.async_dispatch(bolt_request))
        finally:
            turn.sent()

    async def healthz(request: web.Request) -> web.Response:
        if store_ok is None:
            return web.json_response({"ok": True})
        if await _answers(store_ok):
            return web.json_response({"ok": True, "store": "ok"})
        return web.json_response({"ok": False, "store": "unavailable"}, status=HTTPStatus.SERVICE_UNAVAILABLE)

    application = web.Application(client_max_size=limits.max_body)
    application[ACK_FIRST] = ack_first
    application.router.add_post(EVENTS_PATH, events)
    application.router.add_get("/healthz", healthz)
    return application


async def _answers(store_ok: StoreCheck) -> bool:
    """``store_ok()``, bounded by :data:`HEALTH_TIMEOUT`; a failure or a timeout is ``False``."""
    try:
        return await asyncio.wait_for(store_ok(), HEALTH_TIMEOUT)
    except TimeoutError:
        _log.warning("health check: the store did not answer within %s s", HEALTH_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure of the check means "not healthy", never a 500
        _log.warning("health check: the store is unavailable (%s)", type(exc).__name__)
    return False


async def _verified(request: web.Request, signature: SlackSignature, limits: HttpLimits) -> AsyncBoltRequest:
    """The request for Bolt, once its body is in and signed by Slack, and is a Slack payload."""
    body = await read_body(request, limits)
    if not signature.verifies(body, request.headers):
        raise Refused(HTTPStatus.UNAUTHORIZED, "signature or timestamp not valid")
    if request.content_type not in PAYLOAD_TYPES:
        raise Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"content type {request.content_type!r}")
    try:  # Bolt parses the body as it builds the request; junk fails in many ways (JSON, types, keys)
        bolt_request = SlackRequest(
            body=body.decode(),
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]
        )
    except Exception as exc:
        raise Refused(HTTPStatus.BAD_REQUEST, f"not a Slack payload ({type(exc).__name__})") from exc
    if not isinstance(bolt_request.body, dict) or not bolt_request.body:
        raise Refused(HTTPStatus.BAD_REQUEST, "not a Slack payload (empty)")
    wrong = misshapen(bolt_request.body)
    if wrong:  # Bolt would fail on these inside its dispatch: a 500, and an apology to response_url
        raise Refused(HTTPStatus.BAD_REQUEST, f"not a Slack payload ({', '.join(wrong)})")
    return bolt_request


async def serve_http(
    app: AsyncApp,
    port: int,
    *,
    drain: Callable[[], Awaitable[None]],
    signing_secret: str,
    limits: HttpLimits = DEFAULT_LIMITS,
    store_ok: StoreCheck | None = None,
) -> None:
    """Serve until cancelled; then stop taking requests, let answers in progress finish, close.

    ``store_ok`` backs ``GET /healthz`` (see :func:`web_app`).
    """
    application = web_app(app, signing_secret=signing_secret, limits=limits, store_ok=store_ok)
    runner = await start_runner(application, limits)
    try:
        try:
            listener = await listen(runner, "0.0.0.0", port, limits)
        except OSError as exc:
            raise ConfigError(f"PORT (or --port) {port} cannot be used: {exc.strerror}") from exc
        _log.info("Slack over HTTP on port %s (POST %s, GET /healthz)", port, EVENTS_PATH)
        try:
            await asyncio.Event().wait()
        finally:
            listener.close()  # a command arriving now would be acked and then cut off
            await drain()
    finally:
        await runner.cleanup()


async def serve_socket_mode(
    app: AsyncApp,
    app_token: str,
    *,
    drain: Callable[[], Awaitable[None]],
    client: AsyncWebClient | None = None,
) -> None:
    """Hold a Socket Mode connection until cancelled; the web client's base URL is reused.

    ``client`` (the paced one) opens the connection, and opens it again on a reconnect:
    ``apps.connections.open`` is Tier 1, so a second worker started within the minute,
    or a burst of reconnects, waits its turn (and any 429) instead of failing.
    """
    client = client or app.client
    try:  # slack_sdk would retry a refused token forever, logging a traceback each time
        opened = await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        raise ConfigError(f"SLACK_APP_TOKEN was refused by Slack: {exc.response.get('error')}") from exc
    handler = AsyncSocketModeHandler(app, app_token, web_client=client)
    handler.client.wss_uri = opened["url"]  # connect there: apps.connections.open is Tier 1
    try:
        await handler.connect_async()
        _log.info("Slack in Socket Mode")
        await asyncio.Event().wait()
    finally:
        await drain()
        await handler.close_async()
