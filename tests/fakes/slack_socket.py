"""Socket Mode for the fake Slack API: `apps.connections.open` and the websocket it hands out.

Mixed into `FakeSlackAPI`. The wire format is what `slack_sdk.socket_mode` expects: on connect
the server sends a `hello`, then envelopes ``{"envelope_id", "type", "payload",
"accepts_response_payload"}`` (events_api adds ``retry_attempt``/``retry_reason``); the client
answers each with an ack ``{"envelope_id"}`` plus ``"payload"`` when it has a response body.
The SDK pings with ``b"sdk-ping-pong:<time>"`` and expects the pong echoed: aiohttp's autoping
does that. Websockets, tickets and ack waiters live on the fake's event loop; `wait_for_socket`
and `send_envelope` may be awaited from any loop (e.g. with `run_in_thread`).
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import uuid
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

APP_ID = "A1"
SOCKET_PATH = "/link/"  # like wss://wss-primary.slack.com/link/?ticket=...&app_id=...
JsonDict = dict[str, Any]
T = TypeVar("T")


def app_token_error(headers: Mapping[str, str], args: JsonDict) -> str | None:
    """apps.connections.open takes an app-level token, and only as a Bearer header (not a form field)."""
    auth = headers.get("Authorization", "")
    token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
    if not token:
        return "invalid_auth" if args.get("token") else "not_authed"
    if token.startswith("xapp-"):
        return None
    return "not_allowed_token_type" if token.startswith(("xoxb-", "xoxp-")) else "invalid_auth"


class SocketModeMixin:
    """Socket Mode half of `FakeSlackAPI` (needs its `lock`, `host`, `port`)."""

    lock: threading.Lock
    host: str
    port: int

    def __init__(self) -> None:
        """Nothing connected, nothing acked."""
        super().__init__()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tickets: set[str] = set()
        self._sockets: list[web.WebSocketResponse] = []  # open, hello sent; newest last (loop only)
        self._socket_up: asyncio.Event | None = None  # set while at least one socket is open
        self._ack_waiters: dict[str, asyncio.Future[JsonDict]] = {}
        self._acks: list[JsonDict] = []
        self._socket_count = 0
        self._socket_closing = False

    # ----- reading (safe from any thread) -----
    @property
    def socket_connections(self) -> int:
        """How many times a Socket Mode client connected (and got a hello)."""
        with self.lock:
            return self._socket_count

    @property
    def socket_acks(self) -> list[JsonDict]:
        """Copy of every ack the clients sent, in arrival order."""
        with self.lock:
            return copy.deepcopy(self._acks)

    # ----- driving (await from any loop) -----
    async def wait_for_socket(self, timeout: float = 5) -> None:
        """Return once a Socket Mode client is connected (hello sent); TimeoutError otherwise."""
        await self._on_loop(self._wait_for_socket(timeout))

    async def send_envelope(
        self,
        type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int = 0,
        retry_reason: str = "",
        timeout: float = 5,
    ) -> JsonDict:
        """Send an envelope with a fresh envelope_id to the newest client; return its ack."""
        envelope: JsonDict = {"envelope_id": str(uuid.uuid4()), "type": type, "payload": payload,
                              "accepts_response_payload": accepts_response_payload}  # fmt: skip
        if type == "events_api":  # Slack adds the retry fields to Events API envelopes only
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        return await self._on_loop(self._send_envelope(envelope, timeout))

    # ----- on the fake's loop -----
    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeSlackAPI is not started")
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def _wait_for_socket(self, timeout: float) -> None:
        assert self._socket_up is not None
        await asyncio.wait_for(self._socket_up.wait(), timeout)

    async def _send_envelope(self, envelope: JsonDict, timeout: float) -> JsonDict:
        async with asyncio.timeout(timeout):
            await self._wait_for_socket(timeout)
            waiter = self._ack_waiters[envelope["envelope_id"]] = asyncio.get_running_loop().create_future()
            try:
                await self._sockets[-1].send_json(envelope)
                return await waiter
            finally:
                self._ack_waiters.pop(envelope["envelope_id"], None)

    def _start_sockets(self, app: web.Application) -> None:
        """Called by start(): add the websocket route and bind to the running loop."""
        app.router.add_get(SOCKET_PATH, self._socket)
        self._loop, self._socket_up, self._socket_closing = asyncio.get_running_loop(), asyncio.Event(), False

    async def _close_sockets(self) -> None:
        """Called by stop(): refuse new sockets, close open ones (1001 going away), drop waiters."""
        self._socket_closing = True
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
                               for ws in list(self._sockets)), return_exceptions=True)  # fmt: skip
        for waiter in self._ack_waiters.values():
            waiter.cancel()

    def _connections_open(self, args: JsonDict) -> JsonDict:
        """apps.connections.open (lock held; the token was checked by `app_token_error`)."""
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return {"url": f"ws://{self.host}:{self.port}{SOCKET_PATH}?ticket={ticket}&app_id={APP_ID}"}

    async def _socket(self, request: web.Request) -> web.StreamResponse:
        """GET /link/?ticket=...: the Socket Mode websocket."""
        with self.lock:
            known = request.query.get("ticket") in self._tickets
        if not known or self._socket_closing:
            return web.Response(status=401 if not known else 503, text="invalid ticket" if not known else "")
        ws = web.WebSocketResponse(timeout=2)  # autoping echoes the SDK's pings as pongs
        await ws.prepare(request)
        self._sockets.append(ws)
        assert self._socket_up is not None
        try:
            await ws.send_json({"type": "hello", "num_connections": len(self._sockets),
                                "debug_info": {"host": "applink-fake", "build_number": 1,
                                               "approximate_connection_time": 18060},
                                "connection_info": {"app_id": APP_ID}})  # fmt: skip
            with self.lock:
                self._socket_count += 1
            self._socket_up.set()
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_client_message(msg.data)
        finally:
            self._sockets.remove(ws)
            if not self._sockets:
                self._socket_up.clear()
        return ws

    def _on_client_message(self, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            return
        if not isinstance(ack, dict) or "envelope_id" not in ack:
            return
        with self.lock:
            self._acks.append(ack)
        waiter = self._ack_waiters.get(ack["envelope_id"])
        if waiter is not None and not waiter.done():
            waiter.set_result(ack)
