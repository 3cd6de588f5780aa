"""Records and thread-safe in-memory state behind the fake Slack Web API.

`SlackState` is the test-facing half of `FakeSlackAPI`: recorded calls, message
and file stores, fault injection. Everything is guarded by one `threading.Lock`
so the server's event loop and a test on another thread can both use it; the
read properties return copies, never live objects.
"""

from __future__ import annotations

import copy
import mimetypes
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BOT_USER_ID = "UBOT"


@dataclass
class Call:
    """One request the fake received (`method` is "upload"/"download" for file URLs)."""

    method: str
    args: dict[str, Any]
    headers: Mapping[str, str]  # case-insensitive copy of the request headers
    time: float  # time.time() when the request arrived
    failed: bool = False
    error: str | None = None
    status: int = 200  # HTTP status answered: 429 when rate-limited, an injected fault's own status


@dataclass
class Message:
    """A message as the fake remembers it; streams accumulate their markdown in `text`."""

    channel: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    streaming: bool = False
    deleted: bool = False
    files: list[str] = field(default_factory=list)
    chunks: list[dict[str, Any]] = field(default_factory=list)  # every stream chunk received
    started: float = field(default_factory=time.monotonic)

    def to_api(self) -> dict[str, Any]:
        """Render the message the way Slack's API returns one."""
        out: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text, "ts": self.ts}
        if self.user == BOT_USER_ID:
            out["bot_id"] = "B1"
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.files:
            out["files"] = [{"id": file_id} for file_id in self.files]
        return out


@dataclass
class UploadedFile:
    """A file announced by files.getUploadURLExternal; `data` holds the uploaded bytes."""

    file_id: str
    filename: str
    length: int  # as declared to files.getUploadURLExternal
    data: bytes = b""
    title: str | None = None
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    uploaded: bool = False
    completed: bool = False
    deleted: bool = False

    @property
    def mimetype(self) -> str:
        """Mimetype guessed from the filename, as Slack does."""
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"

    @property
    def bytes(self) -> bytes:
        """Alias of `data`: the exact bytes posted to the upload URL."""
        return self.data


@dataclass
class Fault:
    """A pending injected failure for one method; `remaining=None` means forever."""

    error: str
    status: int
    retry_after: int | None
    remaining: int | None


class SlackState:
    """Recorded calls, messages, files and faults, shared across threads under `lock`."""

    def __init__(self) -> None:
        """Start empty: no calls, messages, files or faults."""
        self.lock = threading.Lock()
        self._calls: list[Call] = []
        self._messages: dict[tuple[str, str], Message] = {}
        self._files: dict[str, UploadedFile] = {}
        self._faults: dict[str, list[Fault]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._tick = 1_700_000_000_000_000  # microseconds; ts = seconds.micros
        self._file_seq = 0

    # ----- reading (safe from any thread) -----
    @property
    def calls(self) -> list[Call]:
        """Snapshot of every recorded call, in the order they were answered."""
        with self.lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one method, e.g. `calls_to("chat.update")`."""
        return [c for c in self.calls if c.method == method]

    @property
    def messages(self) -> dict[tuple[str, str], Message]:
        """Copy of the message store keyed by (channel, ts); deleted ones are kept, flagged."""
        with self.lock:
            return copy.deepcopy(self._messages)

    def message_text(self, channel: str, ts: str) -> str:
        """Current text of one message (stream text so far); KeyError if unknown."""
        with self.lock:
            return self._messages[(channel, ts)].text

    @property
    def uploaded(self) -> dict[str, UploadedFile]:
        """Copy of the file store keyed by file id (includes not-yet-completed uploads)."""
        with self.lock:
            return copy.deepcopy(self._files)

    # ----- configuring (safe from any thread) -----
    def fail(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int | None = 1,
    ) -> None:
        """Make the next `times` calls of `method` fail (None = forever); 429 adds Retry-After."""
        with self.lock:
            self._faults.setdefault(method, []).append(Fault(error, status, retry_after, times))

    def clear_faults(self, method: str | None = None) -> None:
        """Drop pending faults for one method, or for all methods."""
        with self.lock:
            if method is None:
                self._faults.clear()
            else:
                self._faults.pop(method, None)

    def add_message(
        self,
        channel: str,
        text: str = "",
        *,
        user: str = "U1",
        ts: str | None = None,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Seed a message (e.g. the user's message a bot replies to); returns a copy."""
        with self.lock:
            message = Message(channel, ts or self._next_ts(), text, blocks, thread_ts, user)
            self._messages[(channel, message.ts)] = message
            return copy.deepcopy(message)

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override fields users.info returns for `user_id` (e.g. real_name, tz)."""
        with self.lock:
            self._users.setdefault(user_id, {}).update(fields)

    # ----- helpers for the server (call with `lock` held) -----
    def _next_ts(self) -> str:
        self._tick += 100
        return f"{self._tick // 1_000_000}.{self._tick % 1_000_000:06d}"

    def _next_file_id(self) -> str:
        self._file_seq += 1
        return f"F{self._file_seq:010d}"

    def _take_fault(self, method: str) -> Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
        return fault
