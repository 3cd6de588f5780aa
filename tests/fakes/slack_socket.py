"""Socket Mode for the fake Slack API: `apps.connections.open` and the websocket it hands out.

Mixed into `FakeSlackAPI`. The wire format is what `slack_sdk.socket_mode` expects: on connect
the server sends a `hello`, then envelopes ``{"envelope_id", "type", "payload",
"accepts_response_payload"}`` (events_api adds ``retry_attempt``/``retry_reason``); the client
answers each with an ack ``{"envelope_id"}`` plus ``"payload"`` when it has a response body.
The SDK pings with ``b"sdk-ping-pong:<time>"`` and expects the pong echoed: aiohttp's autoping
does that. Websockets, tickets and ack waiters live on the fake's event loop; `wait_for_socket`
and `send_envelope` may be awaited from any loop (e.g. with `run_in_thread`).

Like Slack, one app may hold up to `MAX_CONNECTIONS` sockets at once (several processes, or a
client overlapping its reconnection); Slack hands each envelope to one of them. Connections are
numbered 0, 1, ... in the order they got their hello; `send_envelope(..., connection=i)` picks
one (by default the newest open one), and `socket_acks_by_connection` says where each ack came
back. A connection past the limit is told ``{"type": "disconnect", "reason":
"too_many_websockets"}`` instead of hello and closed, as Slack does.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

APP_ID = "A1"
MAX_CONNECTIONS = 10
"""Socket Mode connections Slack lets one app hold open at once (docs.slack.dev, "Using Socket Mode")."""
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
        self._sockets: dict[int, web.WebSocketResponse] = {}  # open, hello sent, by number (loop only)
        self._socket_change: asyncio.Event | None = None  # set (and replaced) when a socket opens or closes
        self._open: list[int] = []  # the numbers in `_sockets`, oldest first (lock held)
        self._ack_waiters: dict[str, asyncio.Future[JsonDict]] = {}
        self._acks: list[tuple[int, JsonDict]] = []  # (connection, ack) in arrival order (lock held)
        self._socket_count = 0
        self._socket_refusals = 0
        self._greeting = 0  # sockets accepted and being sent their hello (loop only)
        self._socket_closing = False

    # ----- reading (safe from any thread) -----
    @property
    def socket_connections(self) -> int:
        """How many times a Socket Mode client connected (and got a hello)."""
        with self.lock:
            return self._socket_count

    @property
    def open_socket_connections(self) -> list[int]:
        """The numbers of the connections open now, oldest first (0 is the first that ever got a hello)."""
        with self.lock:
            return list(self._open)

    @property
    def socket_refusals(self) -> int:
        """How many connections were turned away with ``too_many_websockets``."""
        with self.lock:
            return self._socket_refusals

    @property
    def socket_acks(self) -> list[JsonDict]:
        """Copy of every ack the clients sent, in arrival order."""
        with self.lock:
            return [copy.deepcopy(ack) for _, ack in self._acks]

    @property
    def socket_acks_by_connection(self) -> dict[int, list[JsonDict]]:
        """Copy of every ack, grouped by the connection it came back on, each in arrival order."""
        grouped: dict[int, list[JsonDict]] = {}
        with self.lock:
            for connection, ack in self._acks:
                grouped.setdefault(connection, []).append(copy.deepcopy(ack))
        return grouped

    # ----- driving (await from any loop) -----
    async def wait_for_socket(self, timeout: float = 5, *, count: int = 1) -> None:
        """Return once `count` Socket Mode connections are open (hello sent); TimeoutError otherwise."""
        await self._on_loop(self._wait_for_socket(timeout, count))

    async def send_envelope(
        self,
        type: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = True,
        retry_attempt: int = 0,
        retry_reason: str = "",
        connection: int | None = None,
        timeout: float = 5,
    ) -> JsonDict:
        """Send an envelope with a fresh envelope_id and return its ack.

        It goes to `connection` (waiting for that connection to open, if it has not yet;
        `ConnectionError` if it has closed), or by default to the newest open connection.
        """
        envelope: JsonDict = {"envelope_id": str(uuid.uuid4()), "type": type, "payload": payload,
                              "accepts_response_payload": accepts_response_payload}  # fmt: skip
        if type == "events_api":  # Slack adds the retry fields to Events API envelopes only
            envelope.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        return await self._on_loop(self._send_envelope(envelope, connection, timeout))

    # ----- on the fake's loop -----
    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeSlackAPI is not started")
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def _wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not ready():
                assert self._socket_change is not None
                await self._socket_change.wait()

    async def _wait_for_socket(self, timeout: float, count: int = 1) -> None:
        await self._wait_until(lambda: len(self._sockets) >= count, timeout)

    async def _socket_for(self, connection: int | None, timeout: float) -> web.WebSocketResponse:
        """The open socket `connection` (the newest open one for None), once there is one."""
        if connection is None:
            await self._wait_for_socket(timeout)
            return self._sockets[next(reversed(self._sockets))]
        await self._wait_until(lambda: connection < self._socket_count, timeout)  # it has had its hello
        if connection not in self._sockets:
            raise ConnectionError(f"Socket Mode connection {connection} is closed")
        return self._sockets[connection]

    async def _send_envelope(self, envelope: JsonDict, connection: int | None, timeout: float) -> JsonDict:
        async with asyncio.timeout(timeout):
            ws = await self._socket_for(connection, timeout)
            waiter = self._ack_waiters[envelope["envelope_id"]] = asyncio.get_running_loop().create_future()
            try:
                await ws.send_json(envelope)
                return await waiter
            finally:
                self._ack_waiters.pop(envelope["envelope_id"], None)

    def _sockets_changed(self) -> None:
        """Wake everyone waiting for a connection (loop only)."""
        assert self._socket_change is not None
        self._socket_change.set()
        self._socket_change = asyncio.Event()

    def _start_sockets(self, app: web.Application) -> None:
        """Called by start(): add the websocket route and bind to the running loop."""
        app.router.add_get(SOCKET_PATH, self._socket)
        self._loop, self._socket_closing = asyncio.get_running_loop(), False
        self._socket_change = asyncio.Event()

    async def _close_sockets(self) -> None:
        """Called by stop(): refuse new sockets, close open ones (1001 going away), drop waiters."""
        self._socket_closing = True
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping")
                               for ws in list(self._sockets.values())), return_exceptions=True)  # fmt: skip
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
        if len(self._sockets) + self._greeting >= MAX_CONNECTIONS:  # Slack accepts it, then says why not
            with self.lock:
                self._socket_refusals += 1
            await ws.send_json({"type": "disconnect", "reason": "too_many_websockets",
                                "debug_info": {"host": "applink-fake"}})  # fmt: skip
            await ws.close()
            return ws
        number: int | None = None
        self._greeting += 1  # counted from here, so two sockets opening at once cannot both be the 10th
        try:
            try:
                await ws.send_json({"type": "hello", "num_connections": len(self._sockets) + self._greeting,
                                    "debug_info": {"host": "applink-fake", "build_number": 1,
                                                   "approximate_connection_time": 18060},
                                    "connection_info": {"app_id": APP_ID}})  # fmt: skip
            finally:
                self._greeting -= 1
            with self.lock:  # numbered once it has its hello, so an envelope never overtakes the hello
                number = self._socket_count
                self._socket_count += 1
                self._open.append(number)
            self._sockets[number] = ws
            self._sockets_changed()
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._on_client_message(number, msg.data)
        finally:
            if number is not None:
                del self._sockets[number]
                with self.lock:
                    self._open.remove(number)
                self._sockets_changed()
        return ws

    def _on_client_message(self, connection: int, data: str) -> None:
        try:
            ack = json.loads(data)
        except ValueError:
            return
        if not isinstance(ack, dict) or "envelope_id" not in ack:
            return
        with self.lock:
            self._acks.append((connection, ack))
        waiter = self._ack_waiters.get(ack["envelope_id"])
        if waiter is not None and not waiter.done():
            waiter.set_result(ack)
