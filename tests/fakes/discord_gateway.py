"""The fake Discord gateway: the websocket `GET /gateway/bot` points at, speaking gateway v10 JSON.

Mixed into `FakeDiscordAPI`. On connect the server sends HELLO (op 10); it answers heartbeats
(op 1 -> op 11), takes IDENTIFY (op 2: token, intents, shard) and sends READY (op 0) with unavailable
guilds, then a GUILD_CREATE per guild of that shard (guild_id >> 22) % shard_count. RESUME (op 6)
replays missed dispatches and sends RESUMED. `compress=zlib-stream` (what discord.py asks for when
no zstd module is installed) is one zlib context per connection, each message flushed with
Z_SYNC_FLUSH; `zstd-stream` uses `zstandard` when installed. Strict like Discord
(developers/events/gateway.mdx, topics/opcodes-and-status-codes.mdx): v must be 10 (4012), a bad
token closes 4004, an invalid shard 4010, a privileged intent the portal does not allow 4014, a
second IDENTIFY 4005, anything before IDENTIFY 4003, an unknown op 4001, bad JSON or a payload over
4096 bytes 4002, more than 120 payloads in 60 s 4008; identifies closer than 5 s apart (per
max_concurrency bucket) get INVALID_SESSION (op 9, d=false). Messages follow the intents:
MESSAGE_CREATE/UPDATE/DELETE go to sessions with GUILD_MESSAGES (guild) or DIRECT_MESSAGES (DM), and a
session without MESSAGE_CONTENT gets a guild message's content, embeds, attachments and components empty
unless the bot wrote it or is in its `mentions` (events/gateway.mdx, "Message Content Intent"). Sockets live on the fake's loop;
`dispatch` and the waiters may be awaited from any loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import uuid
import zlib
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

from .discord_payloads import PayloadBuilders

GATEWAY_PATH = "/gateway"
GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT = 1 << 1, 1 << 8, 1 << 15
GUILD_MESSAGES, DIRECT_MESSAGES = 1 << 9, 1 << 12
MESSAGE_EVENTS = ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK")
PRIVILEGED = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
# application flags that say a privileged intent is switched on (resources/application.mdx)
INTENT_FLAGS = {GUILD_PRESENCES: 1 << 13, GUILD_MEMBERS: 1 << 15, MESSAGE_CONTENT: 1 << 19}
PAYLOAD_MAX, SENDS_PER_MINUTE = 4096, 120
JsonDict = dict[str, Any]
T = TypeVar("T")


@dataclass
class Session:
    """One identified gateway session; `events` keeps its dispatches for RESUME."""

    id: str
    shard: list[int] | None
    intents: int
    seq: int = 0
    events: list[JsonDict] = field(default_factory=list)
    conn: _Connection | None = None


@dataclass
class _Connection:
    """One websocket; `compressor` is (stream context, flush mode) under transport compression."""

    ws: web.WebSocketResponse
    compressor: tuple[Any, int] | None
    session: Session | None = None
    sends: deque[float] = field(default_factory=deque)

    async def send(self, payload: JsonDict) -> None:
        text = json.dumps(payload)
        if self.compressor is None:
            await self.ws.send_str(text)
        else:
            stream, mode = self.compressor
            await self.ws.send_bytes(stream.compress(text.encode()) + stream.flush(mode))


def _compressor(kind: str | None) -> tuple[Any, int] | None:
    """zlib-stream: one zlib context per connection, each message ending in Z_SYNC_FLUSH (00 00 ff ff)."""
    if kind == "zlib-stream":
        return zlib.compressobj(), zlib.Z_SYNC_FLUSH
    if kind == "zstd-stream":  # discord.py asks for it only when a zstd module is installed
        import zstandard  # type: ignore[import-not-found]

        return zstandard.ZstdCompressor().compressobj(), zstandard.COMPRESSOBJ_FLUSH_BLOCK
    return None


class GatewayMixin(PayloadBuilders):
    """Gateway half of `FakeDiscordAPI` (needs its token, shards, guild_ids, privileged_intents, host, port)."""

    token: str
    shards: int
    privileged_intents: int
    host: str
    port: int

    def __init__(self, *args: Any) -> None:
        """No sessions yet; Discord's HELLO interval, identify window and session start budget."""
        super().__init__(*args)
        self.heartbeat_interval_ms = 41_250
        self.identify_interval, self.max_concurrency = 5.0, 1  # set identify_interval = 0 to let shards rush
        self.send_guild_create = True
        self._sessions: dict[str, Session] = {}
        self._conns: list[_Connection] = []
        self._identifies: list[JsonDict] = []
        self._connections: list[dict[str, str]] = []
        self._heartbeats = 0
        self._session_starts = 1000
        self._last_identify: dict[int, float] = {}
        self._gw_loop: asyncio.AbstractEventLoop | None = None

    # ----- reading (safe from any thread) -----
    @property
    def gateway_url(self) -> str:
        """What GET /gateway/bot answers (discord.py adds ?v=10&encoding=json&compress=...)."""
        return f"ws://{self.host}:{self.port}{GATEWAY_PATH}"

    @property
    def identifies(self) -> list[JsonDict]:
        """Every IDENTIFY `d` received (token included), in order."""
        with self.lock:
            return copy.deepcopy(self._identifies)

    @property
    def connections(self) -> list[dict[str, str]]:
        """The query string of every gateway connection, e.g. {"v": "10", "encoding": "json", ...}."""
        with self.lock:
            return copy.deepcopy(self._connections)

    @property
    def heartbeats(self) -> int:
        """How many heartbeats (op 1) clients sent."""
        with self.lock:
            return self._heartbeats

    @property
    def ready_shards(self) -> list[int]:
        """Shard id of each session connected now and READY (0 for an unsharded one), sorted."""
        with self.lock:
            return sorted(_shard_id(s) for s in self._sessions.values() if s.conn)

    @property
    def application_flags(self) -> int:
        """GATEWAY_*_LIMITED flags for the privileged intents switched on (what an unverified bot has)."""
        return sum(flag for intent, flag in INTENT_FLAGS.items() if self.privileged_intents & intent)

    # ----- driving (await from any loop) -----
    async def wait_for_ready(self, count: int | None = None, timeout: float = 5.0) -> None:
        """Return once `count` sessions (default: every shard) are connected and READY."""
        want = self.shards if count is None else count
        async with asyncio.timeout(timeout):
            while len(self.ready_shards) < want:
                await asyncio.sleep(0.01)

    async def dispatch(self, event: str, data: JsonDict, *, shard_id: int | str | None = None) -> int:
        """Send a dispatch (op 0) the way Discord routes it; return how many sessions it went to.

        By default an event with a guild_id goes to that guild's shard and any other to shard 0 (DMs);
        `shard_id` picks a shard, or "all" sends it to every session. INTERACTION_CREATE payloads that
        the builders did not make are registered, so their tokens work.
        """
        if event == "INTERACTION_CREATE":
            with self.lock:
                if data.get("id") not in self._interactions:
                    self._register_payload(data)
        if shard_id is None:
            guild = data.get("guild_id")
            shard_id = (int(guild) >> 22) % self.shards if guild else 0
        return await self._on_loop(self._dispatch(event, copy.deepcopy(data), shard_id))

    async def request_reconnect(self, shard_id: int | None = None) -> None:
        """Send RECONNECT (op 7) to one shard's sessions (or all): the client should resume."""
        await self._on_loop(self._send_op(7, None, shard_id))

    async def invalidate_session(self, shard_id: int | None = None, resumable: bool = False) -> None:
        """Send INVALID_SESSION (op 9) to one shard's sessions (or all)."""
        await self._on_loop(self._send_op(9, resumable, shard_id))

    # ----- on the fake's loop -----
    async def _on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._gw_loop
        if loop is None:
            coro.close()
            raise RuntimeError("FakeDiscordAPI is not started")
        if asyncio.get_running_loop() is loop:
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    def _start_gateway(self, app: web.Application) -> None:
        app.router.add_get(GATEWAY_PATH, self._gateway)
        self._gw_loop = asyncio.get_running_loop()

    async def _close_gateway(self) -> None:
        await asyncio.gather(*(c.ws.close(code=WSCloseCode.GOING_AWAY) for c in list(self._conns)),
                             return_exceptions=True)  # fmt: skip

    def _session_limit(self) -> JsonDict:
        """GET /gateway/bot's session_start_limit (lock held)."""
        left, concurrency = self._session_starts, self.max_concurrency
        return {"total": 1000, "remaining": left, "reset_after": 86_400_000, "max_concurrency": concurrency}

    def _targets(self, shard_id: int | str | None) -> list[Session]:
        """Sessions of one shard (None or "all": every session); an unsharded session gets everything."""
        with self.lock:
            sessions = list(self._sessions.values())
        return [s for s in sessions if shard_id in (None, "all") or not s.shard or s.shard[0] == shard_id]

    async def _dispatch(self, event: str, data: JsonDict, shard_id: int | str) -> int:
        targets = [s for s in self._targets(shard_id) if _subscribed(s, event, data)]
        for session in targets:
            await self._emit(session, event, _as_seen(session, event, data, self.application_id))
        return len(targets)

    async def _emit(self, session: Session, event: str, data: JsonDict) -> None:
        """Send a dispatch with the session's next sequence number (kept for RESUME even if offline)."""
        session.seq += 1
        payload = {"op": 0, "t": event, "s": session.seq, "d": data}
        session.events.append(payload)
        if session.conn is not None:
            with contextlib.suppress(ConnectionResetError):  # closing: the client gets it on RESUME
                await session.conn.send(payload)

    async def _send_op(self, op: int, data: Any, shard_id: int | None) -> None:
        for session in self._targets(shard_id):
            if session.conn is not None:
                await session.conn.send({"op": op, "d": data, "s": None, "t": None})

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        """GET /gateway?v=10&encoding=json[&compress=...]: one connection, until either side closes."""
        query = request.query
        compress = query.get("compress")
        with self.lock:
            self._connections.append(dict(query))
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        if query.get("v") != "10" or query.get("encoding", "json") != "json":
            await ws.close(code=4012, message=b"Invalid API version")
            return ws
        if compress not in (None, "zlib-stream", "zstd-stream"):
            await ws.close(code=4000, message=b"Unknown compression")
            return ws
        conn = _Connection(ws, _compressor(compress))
        self._conns.append(conn)
        try:
            await conn.send(
                {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
            )
            async for msg in ws:
                close = await self._on_frame(conn, msg)
                if close:
                    await ws.close(code=close[0], message=close[1].encode())
        finally:
            self._conns.remove(conn)
            with self.lock:
                if conn.session is not None and conn.session.conn is conn:
                    conn.session.conn = None
        return ws

    async def _on_frame(self, conn: _Connection, msg: Any) -> tuple[int, str] | None:
        """Handle one client frame; return (close code, reason) to close the connection."""
        if msg.type is not WSMsgType.TEXT or len(msg.data) > PAYLOAD_MAX:
            return (4002, "Decode error") if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY) else None
        now = self.now()
        conn.sends.append(now)
        while conn.sends and conn.sends[0] <= now - 60:
            conn.sends.popleft()
        if len(conn.sends) > SENDS_PER_MINUTE:
            return 4008, "Rate limited."
        try:
            payload = json.loads(msg.data)
            op, data = payload["op"], payload.get("d")
        except (ValueError, KeyError, TypeError):
            return 4002, "Decode error"
        if op == 1:
            with self.lock:
                self._heartbeats += 1
            await conn.send({"op": 11, "d": None, "s": None, "t": None})
            return None
        if op == 2:
            return await self._identify(conn, data or {})
        if op == 6:
            return await self._resume(conn, data or {})
        if conn.session is None:
            return 4003, "Not authenticated."
        if op == 8:  # REQUEST_GUILD_MEMBERS: the fake knows no members besides the bot
            query = data or {}
            chunk: JsonDict = {
                "guild_id": query.get("guild_id"),
                "members": [],
                "chunk_index": 0,
                "chunk_count": 1,
            }
            await self._emit(conn.session, "GUILD_MEMBERS_CHUNK", {**chunk, "nonce": query.get("nonce")})
            return None
        return None if op in (3, 4) else (4001, "Unknown opcode.")

    async def _identify(self, conn: _Connection, data: JsonDict) -> tuple[int, str] | None:
        with self.lock:
            self._identifies.append(copy.deepcopy(data))
        if conn.session is not None:
            return 4005, "Already authenticated."
        if data.get("token") != self.token:
            return 4004, "Authentication failed."
        shard = data.get("shard")
        valid_shard = isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]
        if shard is not None and not valid_shard:
            return 4010, "Invalid shard."
        intents = data.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents >= 1 << 26:
            return 4013, "Invalid intent(s)."
        if intents & PRIVILEGED & ~self.privileged_intents:
            return 4014, "Disallowed intent(s)."
        bucket, now = (shard[0] if shard else 0) % self.max_concurrency, self.now()
        if now - self._last_identify.get(bucket, -1e9) < self.identify_interval:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return None
        self._last_identify[bucket] = now
        session = Session(uuid.uuid4().hex, shard, intents, conn=conn)
        with self.lock:
            self._session_starts -= 1
            conn.session, self._sessions[session.id] = session, session
        ready = self._ready(session.id, shard, resume_url=self.gateway_url, flags=self.application_flags)
        await self._emit(session, "READY", ready)
        for guild_id in self._shard_guilds(shard) if self.send_guild_create else []:
            await self._emit(session, "GUILD_CREATE", self._guild_payload(guild_id))
        return None

    async def _resume(self, conn: _Connection, data: JsonDict) -> tuple[int, str] | None:
        session = self._sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if data.get("token") != self.token:
            return 4004, "Authentication failed."
        if session is None or seq > session.seq:
            await conn.send({"op": 9, "d": False, "s": None, "t": None})
            return None
        if session.conn is not None and session.conn is not conn:
            await session.conn.ws.close(code=4000, message=b"Session resumed elsewhere")
        with self.lock:
            conn.session, session.conn = session, conn
        for payload in [p for p in session.events if p["s"] > seq]:
            await conn.send(payload)
        await self._emit(session, "RESUMED", {})
        return None


def _subscribed(session: Session, event: str, data: JsonDict) -> bool:
    """Whether the session's intents ask for the event (only message events are checked)."""
    if event not in MESSAGE_EVENTS:
        return True
    return bool(session.intents & (GUILD_MESSAGES if data.get("guild_id") else DIRECT_MESSAGES))


def _as_seen(session: Session, event: str, data: JsonDict, bot_id: str) -> JsonDict:
    """A message as the session receives it: content fields empty unless the bot may read them."""
    if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or session.intents & MESSAGE_CONTENT:
        return data
    return _readable(data, bot_id, in_guild=bool(data.get("guild_id")))


def _readable(message: JsonDict, bot_id: str, *, in_guild: bool) -> JsonDict:
    """The message with its content withheld, unless in a DM, by the bot, or mentioning it."""
    seen = dict(message)
    if isinstance(message.get("referenced_message"), dict):  # in the same channel, so the same guild
        seen["referenced_message"] = _readable(message["referenced_message"], bot_id, in_guild=in_guild)
    author = (message.get("author") or {}).get("id")
    mentioned = any(m.get("id") == bot_id for m in message.get("mentions") or [])
    if not in_guild or author == bot_id or mentioned:
        return seen
    seen.update(content="", embeds=[], attachments=[], components=[])
    seen.pop("poll", None)
    return seen


def _shard_id(session: Session) -> int:
    return session.shard[0] if session.shard else 0
