"""Records and thread-safe in-memory state behind the fake Discord API.

`DiscordState` is the test-facing half of `FakeDiscordAPI`: recorded calls, the message store
(what a user would see), interactions and their tokens, registered commands, fault injection and
the clock. Everything is guarded by one `threading.Lock`; read properties return copies.

Route keys are written the way discord.py's `Route.key` writes them, e.g.
``"PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original"``: `calls_to(...)` and `fail(...)`
take them, and the constants below name the ones the fake serves.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JsonDict = dict[str, Any]
DISCORD_EPOCH_MS = 1_420_070_400_000
APPLICATION_ID = "1180000000000000001"
GUILD_ID = "1180000000000000100"
CHANNEL_ID = "1180000000000000200"
USER_ID = "1180000000000000300"
BOT_USER: JsonDict = {"id": APPLICATION_ID, "username": "fakebot", "discriminator": "0", "global_name": None,
                      "avatar": None, "bot": True, "flags": 0, "public_flags": 0}  # fmt: skip
EPHEMERAL, LOADING = 1 << 6, 1 << 7

GET_ME = "GET /users/@me"
GET_GATEWAY_BOT = "GET /gateway/bot"
GET_APPLICATION = "GET /oauth2/applications/@me"
GLOBAL_COMMANDS = "/applications/{application_id}/commands"
GUILD_COMMANDS = "/applications/{application_id}/guilds/{guild_id}/commands"
PUT_GLOBAL_COMMANDS, PUT_GUILD_COMMANDS = f"PUT {GLOBAL_COMMANDS}", f"PUT {GUILD_COMMANDS}"
CALLBACK = "POST /interactions/{webhook_id}/{webhook_token}/callback"
ORIGINAL = "/webhooks/{webhook_id}/{webhook_token}/messages/@original"
GET_ORIGINAL, EDIT_ORIGINAL, DELETE_ORIGINAL = f"GET {ORIGINAL}", f"PATCH {ORIGINAL}", f"DELETE {ORIGINAL}"
FOLLOWUP = "POST /webhooks/{webhook_id}/{webhook_token}"
WEBHOOK_MESSAGE = "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"
GET_FOLLOWUP, EDIT_FOLLOWUP = f"GET {WEBHOOK_MESSAGE}", f"PATCH {WEBHOOK_MESSAGE}"
DELETE_FOLLOWUP = f"DELETE {WEBHOOK_MESSAGE}"
CREATE_MESSAGE = "POST /channels/{channel_id}/messages"
CHANNEL_MESSAGE = "/channels/{channel_id}/messages/{message_id}"
GET_MESSAGE, EDIT_MESSAGE = f"GET {CHANNEL_MESSAGE}", f"PATCH {CHANNEL_MESSAGE}"
DELETE_MESSAGE = f"DELETE {CHANNEL_MESSAGE}"
WEBHOOK_ROUTES = (GET_ORIGINAL, EDIT_ORIGINAL, DELETE_ORIGINAL, FOLLOWUP, GET_FOLLOWUP, EDIT_FOLLOWUP,
                  DELETE_FOLLOWUP)  # fmt: skip
TOKEN_ROUTES = (CALLBACK, *WEBHOOK_ROUTES)  # authorized by the interaction token, not the bot token


@dataclass
class Upload:
    """One `files[n]` part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass
class Call:
    """One request the fake answered."""

    route: str  # discord.py-style route key; "METHOD /unknown/path" for routes the fake does not serve
    params: dict[str, str]  # path parameters, e.g. {"webhook_token": ...}
    query: dict[str, str]
    json: Any  # the JSON body, or the decoded `payload_json` of a multipart body
    files: list[Upload]
    headers: Mapping[str, str]  # case-insensitive copy of the request headers
    time: float  # time.time() when the request arrived
    status: int
    response: Any  # the JSON answered (None for 204)
    answer_headers: Mapping[str, str] = field(default_factory=dict)  # rate-limit headers, Retry-After, ...

    @property
    def code(self) -> int | None:
        """Discord's JSON error code of an error answer (0 for a bare 401), else None."""
        return self.response.get("code") if self.status >= 400 and isinstance(self.response, dict) else None


@dataclass
class Attachment:
    """A stored attachment, with the exact bytes uploaded."""

    id: str
    filename: str
    data: bytes
    content_type: str = "application/octet-stream"
    description: str | None = None

    def to_api(self, cdn: str, channel_id: str) -> JsonDict:
        url = f"{cdn}/attachments/{channel_id}/{self.id}/{self.filename}"
        out = {"id": self.id, "filename": self.filename, "size": len(self.data), "url": url,
               "proxy_url": url, "content_type": self.content_type}  # fmt: skip
        return {**out, "description": self.description} if self.description else out


@dataclass
class Message:
    """A message as the fake keeps it: what a user sees, plus where it came from."""

    id: str
    channel_id: str
    content: str = ""
    embeds: list[JsonDict] = field(default_factory=list)
    components: list[JsonDict] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    allowed_mentions: JsonDict | None = None
    flags: int = 0
    type: int = 0  # 20 = the response to a slash command
    author: JsonDict = field(default_factory=lambda: dict(BOT_USER))
    webhook_id: str | None = None  # the application id, for interaction responses and follow-ups
    interaction_id: str | None = None
    message_reference: JsonDict | None = None
    edits: int = 0
    deleted: bool = False
    created: float = field(default_factory=time.time)
    edited: float | None = None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while a deferred response still shows "thinking"."""
        return bool(self.flags & LOADING)

    def to_api(self, cdn: str) -> JsonDict:
        """Render the message the way Discord's API returns one."""
        out: JsonDict = {
            "id": self.id, "channel_id": self.channel_id, "type": self.type, "content": self.content,
            "author": self.author, "embeds": self.embeds, "components": self.components, "flags": self.flags,
            "attachments": [a.to_api(cdn, self.channel_id) for a in self.attachments],
            "timestamp": _iso(self.created), "edited_timestamp": _iso(self.edited) if self.edited else None,
            "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [], "pinned": False,
        }  # fmt: skip
        if self.webhook_id:
            out.update(webhook_id=self.webhook_id, application_id=self.webhook_id)
        return {**out, "message_reference": self.message_reference} if self.message_reference else out


@dataclass
class Interaction:
    """An interaction the fake handed out, and what was done with its token."""

    id: str
    token: str
    type: int  # 2 application command, 3 component, ...
    channel_id: str
    guild_id: str | None
    created: float  # on the fake's clock
    user_install_only: bool = False  # authorizing_integration_owners holds only USER_INSTALL ("1")
    message_id: str | None = None  # a component's message
    response_type: int | None = None
    original_id: str | None = None
    followups: list[str] = field(default_factory=list)


@dataclass
class Fault:
    """A pending injected failure for one route; `remaining=None` means forever."""

    status: int
    code: int
    message: str
    retry_after: float | None
    remaining: int | None


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


class DiscordState:
    """Recorded calls, messages, interactions, commands and faults, shared across threads under `lock`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Start empty; `clock` (monotonic seconds) times interaction deadlines and rate-limit windows."""
        self.lock = threading.Lock()
        self.clock = clock
        self._offset = 0.0
        self._calls: list[Call] = []
        self._messages: dict[str, Message] = {}
        self._interactions: dict[str, Interaction] = {}
        self._tokens: dict[str, str] = {}  # token -> interaction id
        self._commands: dict[str | None, list[JsonDict]] = {}  # guild id (None = global) -> commands
        self._faults: dict[str, list[Fault]] = {}
        self._last_id = 0

    # ----- time -----
    def now(self) -> float:
        """The fake's time: `clock()` plus every `advance()`."""
        return self.clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's time forward (interaction deadlines, token expiry, rate-limit windows)."""
        with self.lock:
            self._offset += seconds

    # ----- reading (safe from any thread) -----
    @property
    def calls(self) -> list[Call]:
        """Snapshot of every recorded call, in the order they were answered."""
        with self.lock:
            return list(self._calls)

    def calls_to(self, route: str) -> list[Call]:
        """Recorded calls of one route key, e.g. `calls_to(EDIT_ORIGINAL)`."""
        return [c for c in self.calls if c.route == route]

    @property
    def messages(self) -> dict[str, Message]:
        """Copy of the message store by id; deleted messages are kept, flagged."""
        with self.lock:
            return copy.deepcopy(self._messages)

    def message(self, message_id: str) -> Message:
        """Copy of one message; KeyError if unknown."""
        with self.lock:
            return copy.deepcopy(self._messages[str(message_id)])

    def channel_messages(self, channel_id: str) -> list[Message]:
        """The channel's messages a user would see (not deleted), oldest first, ephemeral ones included."""
        with self.lock:
            found = [m for m in self._messages.values() if m.channel_id == str(channel_id) and not m.deleted]
            return copy.deepcopy(sorted(found, key=lambda m: int(m.id)))

    def interaction(self, interaction_id: str) -> Interaction:
        """Copy of one interaction's record; KeyError if unknown."""
        with self.lock:
            return copy.deepcopy(self._interactions[str(interaction_id)])

    def commands(self, guild_id: str | None = None) -> list[JsonDict]:
        """Copy of the registered commands of one guild (None = global), as Discord stored them."""
        with self.lock:
            return copy.deepcopy(self._commands.get(None if guild_id is None else str(guild_id), []))

    # ----- configuring (safe from any thread) -----
    def fail(
        self,
        route: str,
        status: int = 429,
        *,
        code: int = 0,
        message: str | None = None,
        retry_after: float | None = 1.0,
        times: int | None = 1,
    ) -> None:
        """Make the next `times` calls of `route` fail (None = forever); a 429 is a rate-limit answer."""
        text = message or ("You are being rate limited." if status == 429 else f"{status}: injected")
        with self.lock:
            self._faults.setdefault(route, []).append(Fault(status, code, text, retry_after, times))

    def clear_faults(self, route: str | None = None) -> None:
        """Drop pending faults for one route, or for all routes."""
        with self.lock:
            if route is None:
                self._faults.clear()
            else:
                self._faults.pop(route, None)

    def add_message(self, channel_id: str, content: str = "", *, author: JsonDict | None = None,
                    **fields: Any) -> Message:  # fmt: skip
        """Seed a message (a user's message, or one the bot posted earlier); returns a copy."""
        with self.lock:
            message = Message(self._snowflake(), str(channel_id), content, **fields)
            message.author = author or message.author
            self._messages[message.id] = message
            return copy.deepcopy(message)

    # ----- helpers for the server (call with `lock` held) -----
    def _snowflake(self) -> str:
        """A fresh snowflake whose timestamp is now (discord.py reads creation times from ids)."""
        fresh = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_id = max(fresh, self._last_id + 1)
        return str(self._last_id)

    def _take_fault(self, route: str) -> Fault | None:
        queue = self._faults.get(route)
        if not queue:
            return None
        fault = queue[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
        return fault

    def _register(self, interaction: Interaction) -> None:
        self._interactions[interaction.id] = interaction
        self._tokens[interaction.token] = interaction.id
