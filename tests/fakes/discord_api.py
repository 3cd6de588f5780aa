"""A fake Discord (HTTP API v10 and gateway) on aiohttp.web, as strict as Discord.

Point the real discord.py at it::

    async with FakeDiscordAPI() as discord_fake:
        discord_fake.patch_discord(monkeypatch)  # Route.BASE and the default gateway URL
        client = discord.AutoShardedClient(intents=discord.Intents.default())
        await client.login(discord_fake.token)

or, from sync code / another loop, ``with FakeDiscordAPI.run_in_thread() as discord_fake:``.
A call is answered in this order: request size, auth, injected fault, rate limit, file sizes, the
route. Every JSON answer has ``Content-Type: application/json`` exactly and ``Via: 1.1 google``
(discord.py treats a 429 without `Via` as a Cloudflare ban). Interactions and the message store
live in `discord_interactions` and `discord_state`, payload builders in `discord_payloads`, the
gateway in `discord_gateway`, Discord's limits in `discord_limits`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from .discord_gateway import GatewayMixin
from .discord_limits import (
    ATTACHMENT_SIZE_LIMIT,
    REQUEST_SIZE_LIMIT,
    ROUTE_LIMITS,
    TOO_LARGE,
    UNAUTHORIZED,
    ApiError,
    Decision,
    RateLimiter,
    retry_header,
)
from .discord_state import (
    APPLICATION_ID,
    GET_APPLICATION,
    GET_GATEWAY_BOT,
    GET_ME,
    GUILD_ID,
    TOKEN_ROUTES,
    Call,
    Upload,
)

__all__ = ["FakeDiscordAPI"]
API_PREFIX = "/api/v10"
TOKEN = "fake-bot-token.for.tests"
JsonDict = dict[str, Any]
Handler = Callable[["Request"], tuple[int, Any]]
_FILE_FIELD = re.compile(r"^files\[(\d+)\]$")
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "webhook_token")  # a bucket's top-level resources


@dataclass
class Request:
    """What a route handler sees: path parameters, query, JSON (or payload_json) and uploaded files."""

    route: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[Upload]
    headers: CIMultiDictProxy[str]
    received: float = field(default_factory=time.time)

    @property
    def payload(self) -> JsonDict:
        """The JSON body as an object ({} if absent or not an object)."""
        return self.json if isinstance(self.json, dict) else {}


def _answer(status: int, body: Any, headers: dict[str, str]) -> web.Response:
    """Discord's answer: JSON with Content-Type exactly `application/json`, or an empty 204."""
    headers = {**headers, "Via": "1.1 google"}
    if status == 204:
        return web.Response(status=204, headers=headers)
    headers["Content-Type"] = "application/json"
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


async def _read_body(request: web.Request, limit: int) -> tuple[Any, list[Upload]]:
    """JSON body, or multipart `payload_json` + `files[n]` (+ plain form fields); 413 past `limit`."""
    if (request.content_length or 0) > limit:
        raise ApiError(*TOO_LARGE)
    if not request.body_exists:
        return None, []
    if request.content_type == "multipart/form-data":
        return await _read_multipart(request, limit)
    try:
        raw = await request.read()  # the app's client_max_size is `limit`
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(*TOO_LARGE) from None
    if request.content_type != "application/json":
        raise ApiError(400, 50035, "Invalid Form Body")  # the docs' answer to a missing/invalid Content-Type
    try:
        return (json.loads(raw) if raw.strip() else None), []
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


async def _read_multipart(request: web.Request, limit: int) -> tuple[Any, list[Upload]]:
    body: JsonDict = {}
    files: list[Upload] = []
    total = 0
    async for part in await request.multipart():
        data = bytes(await part.read(decode=False))  # type: ignore[union-attr]
        total += len(data)
        if total > limit:
            raise ApiError(*TOO_LARGE)
        name = getattr(part, "name", None) or ""
        if name == "payload_json":
            body.update(json.loads(data))
        elif _FILE_FIELD.match(name):
            content_type = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
            files.append(Upload(name, getattr(part, "filename", None) or name, content_type, data))
        else:
            body[name] = data.decode()
    return body, files


class FakeDiscordAPI(GatewayMixin):
    """The fake server: `start()`/`stop()` or `async with`; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = TOKEN,
        application_id: str = APPLICATION_ID,
        guild_ids: tuple[str, ...] = (GUILD_ID,),
        shards: int = 1,
        privileged_intents: int = 0,
        rate_limits: bool = True,
        attachment_size_limit: int = ATTACHMENT_SIZE_LIMIT,
        request_size_limit: int = REQUEST_SIZE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the fake app; nothing runs until start().

        `privileged_intents` is the mask the developer portal allows (GUILD_MEMBERS 1<<1, GUILD_PRESENCES
        1<<8, MESSAGE_CONTENT 1<<15); identifying with any other privileged intent closes with 4014.
        `clock` (monotonic seconds, moved further by `advance()`) times deadlines and rate-limit windows.
        """
        super().__init__(clock)
        self.host, self.port, self.token, self.application_id = host, port, token, application_id
        self.guild_ids = tuple(map(str, guild_ids))
        self.shards, self.privileged_intents = shards, privileged_intents
        self.rate_limits = rate_limits  # may be flipped at any time
        self.attachment_size_limit, self.request_size_limit = attachment_size_limit, request_size_limit
        self.delay = 0.0  # seconds of latency added to every request
        self.downloads: list[str] = []  # attachment ids fetched from the CDN, in order
        self.limiter = RateLimiter(self.now, ROUTE_LIMITS)  # a test may change `limiter.limits`
        self._runner: web.AppRunner | None = None

    # ----- lifecycle -----
    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. http://127.0.0.1:PORT."""
        if self._runner is None:
            raise RuntimeError("FakeDiscordAPI is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What `discord.http.Route.BASE` must be."""
        return self.url + API_PREFIX

    def patch_discord(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py here: `Route.BASE`, and the default gateway (used by `Client` and after op 9)."""
        import discord.gateway
        import discord.http
        import yarl

        monkeypatch.setattr(discord.http.Route, "BASE", self.api_url)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    async def start(self) -> None:
        """Bind and start serving on the current event loop."""
        app = web.Application(client_max_size=self.request_size_limit)
        for route, handler in self._route_table():
            method, path = route.split(" ", 1)
            app.router.add_route(method, API_PREFIX + path, functools.partial(self._serve, route, handler))
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._unknown_route)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        self._start_gateway(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        self._links_base = self.url

    async def stop(self) -> None:
        """Stop serving (recorded state stays readable)."""
        if self._runner is not None:
            await self._close_gateway()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **kwargs: Any) -> Iterator[FakeDiscordAPI]:
        """Run a started fake on its own event loop in a daemon thread (for sync tests)."""
        fake, loop = cls(**kwargs), asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="FakeDiscordAPI", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    async def wait_for_calls(self, route: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Wait until `count` calls of `route` were answered; return them (TimeoutError otherwise)."""
        async with asyncio.timeout(timeout):
            while len(calls := self.calls_to(route)) < count:
                await asyncio.sleep(0.01)
        return calls

    # ----- serving -----
    def _route_table(self) -> list[tuple[str, Handler]]:
        """Route key -> handler; literal segments (@original) before parameters, as aiohttp matches in order."""
        login = [
            (GET_ME, self._me),
            (GET_GATEWAY_BOT, self._gateway_bot),
            (GET_APPLICATION, self._application),
        ]
        return [*login, *self._command_routes(), *self._interaction_routes(), *self._message_routes()]

    async def _serve(self, route: str, handler: Handler, request: web.Request) -> web.StreamResponse:
        headers = CIMultiDictProxy(CIMultiDict(request.headers))
        req = Request(route, dict(request.match_info), dict(request.query), None, [], headers)
        error = None
        try:
            req.json, req.files = await _read_body(request, self.request_size_limit)
        except ApiError as exc:
            error = exc
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            status, answer, headers_out = self._answer(req, handler, error)
            self._record(req, status, answer, headers_out)
        return _answer(status, answer, headers_out)

    def _answer(
        self, req: Request, handler: Handler, error: ApiError | None
    ) -> tuple[int, Any, dict[str, str]]:
        """Auth, injected fault, rate limit, file sizes, then the route itself (lock held)."""
        decision = Decision({})
        try:
            if error:
                raise error
            bot_route = req.route not in TOKEN_ROUTES
            if bot_route and req.headers.get("Authorization") != f"Bot {self.token}":
                raise ApiError(*UNAUTHORIZED)
            fault = self._take_fault(req.route)
            if fault and fault.status == 429:
                limited = Decision(retry_header(fault.retry_after or 0), fault.retry_after)
                return 429, limited.error_body(), {**limited.headers, "X-RateLimit-Scope": "user"}
            if fault:
                raise ApiError(fault.status, fault.code, fault.message)
            if self.rate_limits:
                major = "+".join(req.params[k] for k in MAJOR_PARAMETERS if k in req.params)
                decision = self.limiter.admit(req.route, major, self.token, global_bound=bot_route)
                if decision.retry_after is not None:
                    return 429, decision.error_body(), decision.headers
            if any(len(f.data) > self.attachment_size_limit for f in req.files):
                raise ApiError(*TOO_LARGE)
            status, answer = handler(req)
            return status, answer, decision.headers
        except ApiError as exc:
            return exc.status, exc.body(), decision.headers

    def _record(self, req: Request, status: int, answer: Any, headers: dict[str, str]) -> None:
        """Append a Call (lock held)."""
        call = Call(
            req.route, req.params, req.query, req.json, req.files, req.headers, req.received, status, answer
        )
        call.answer_headers = headers
        self._calls.append(call)

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        route = f"{request.method} /{request.match_info['tail']}"
        req = Request(
            route, {}, dict(request.query), None, [], CIMultiDictProxy(CIMultiDict(request.headers))
        )
        body = {"message": "404: Not Found", "code": 0}
        with self.lock:
            self._record(req, 404, body, {})
        return _answer(404, body, {})

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        """GET an attachment's url: its exact bytes."""
        wanted = request.match_info["attachment_id"]
        with self.lock:
            self.downloads.append(wanted)
            found = [a for m in self._messages.values() for a in m.attachments if a.id == wanted]
        if not found:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=found[0].data, content_type=found[0].content_type)

    # ----- login and gateway discovery -----
    def _me(self, req: Request) -> tuple[int, Any]:
        return 200, {**self._bot_user, "verified": True, "mfa_enabled": False, "locale": "en-US"}

    def _gateway_bot(self, req: Request) -> tuple[int, Any]:
        limit = self._session_limit()
        return 200, {"url": self.gateway_url, "shards": self.shards, "session_start_limit": limit}

    def _application(self, req: Request) -> tuple[int, Any]:
        return 200, {"id": self.application_id, "name": "Fake Bot", "icon": None, "description": "", "summary": "",
                     "bot_public": True, "bot_require_code_grant": False, "verify_key": "0" * 64,
                     "owner": self._bot_user, "team": None, "bot": self._bot_user, "flags": self.application_flags,
                     "interactions_endpoint_url": None, "approximate_guild_count": len(self.guild_ids),
                     "integration_types_config": {"0": {}, "1": {}}}  # fmt: skip
