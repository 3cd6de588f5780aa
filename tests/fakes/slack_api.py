"""A fake Slack Web API server on aiohttp.web, speaking Slack's wire format.

Point the real client at it::

    async with FakeSlackAPI() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)

or, from sync code / another process, ``with FakeSlackAPI.run_in_thread() as slack:``.
Arguments are read from the query string (AsyncWebClient sends ``params=`` there),
urlencoded/multipart forms (the sync WebClient) and JSON bodies (chat.* methods).
State, recorded calls and fault injection live in `SlackState`; Socket Mode
(apps.connections.open, the websocket, envelopes and acks) in `SocketModeMixin`;
Slack's rate limits (429 + Retry-After, on by default) and size limits in `slack_limits`;
the OAuth scope each method needs in `slack_scopes` (granted: slack-manifest.json's bot scopes).
A call is answered in this order: auth, scope, injected fault, rate limit, size limits, the method.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from .slack_limits import TRUNCATED_WARNING, RateLimiter, argument_error, truncate_text
from .slack_scopes import manifest_bot_scopes, missing_scope
from .slack_socket import SocketModeMixin, app_token_error
from .slack_state import BOT_USER_ID, Call, Message, SlackState, UploadedFile

__all__ = ["Call", "FakeSlackAPI", "Message", "UploadedFile"]
TOKEN_PREFIXES = ("xoxb-", "xoxp-", "xapp-")
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
"""The file types an image block's ``slack_file`` may show."""
JsonDict = dict[str, Any]


class SlackError(Exception):
    """Raised by a method handler to answer {"ok": false, "error": <error>}."""

    def __init__(self, error: str) -> None:
        """Keep the Slack error code."""
        super().__init__(error)
        self.error = error


def _json(body: JsonDict, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json`."""
    headers = {**(headers or {}), "Content-Type": "application/json"}
    return web.Response(body=json.dumps(body).encode(), status=status, headers=headers)


def _jsonish(value: Any) -> Any:
    """Decode JSON-encoded form values (blocks, files, chunks) and leave others alone."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _ts_key(ts: str) -> tuple[int, str]:
    """Sort key for Slack timestamps without float rounding."""
    seconds, _, micros = ts.partition(".")
    return int(seconds), micros.ljust(6, "0")


async def _read_args(request: web.Request) -> JsonDict:
    """Merge query string, form fields (file fields become bytes) and a JSON object body."""
    args: JsonDict = dict(request.query)
    if request.content_type == "application/json":
        raw = await request.read()
        body = json.loads(raw) if raw.strip() else {}
        args.update(body if isinstance(body, dict) else {})
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, value in (await request.post()).items():
            args[key] = value.file.read() if isinstance(value, web.FileField) else value
    return args


def _token(headers: CIMultiDictProxy[str], args: JsonDict) -> str:
    """The caller's token: the Bearer header, else a `token` argument ("" if none)."""
    auth = headers.get("Authorization", "")
    return auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else str(args.get("token") or "")


def _token_error(headers: CIMultiDictProxy[str], args: JsonDict) -> str | None:
    """Slack's answer to a missing (not_authed) or malformed (invalid_auth) token."""
    token = _token(headers, args)
    if not token:
        return "not_authed"
    return None if token.startswith(TOKEN_PREFIXES) else "invalid_auth"


@dataclass
class _Answer:
    """What /api/<method> answers: a JSON body, its HTTP status and extra headers."""

    body: JsonDict
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return None if self.body.get("ok") else str(self.body.get("error"))


def _refusal(error: str, status: int = 200, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer({"ok": False, "error": error}, status, headers or {})


class FakeSlackAPI(SocketModeMixin, SlackState):
    """The fake server: `start()`/`stop()` or `async with`; helpers come from the two bases."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limits: bool = True,
        clock: Callable[[], float] = time.monotonic,
        scopes: Iterable[str] | None = None,
    ) -> None:
        """Configure the bind address (port 0 = any free port); nothing runs until start().

        `rate_limits` enforces Slack's per-method, per-workspace limits (429 + Retry-After);
        `clock` (monotonic seconds) times those windows and streams' ttl, so a test can move time.
        `scopes` are the bot token's granted OAuth scopes; None (the default) reads slack-manifest.json's
        bot scopes when the fake starts. A call lacking its method's scope gets ``missing_scope``.
        """
        super().__init__()
        self.host, self.port = host, port
        self.delay: float = 0.0  # seconds of latency added to every request
        self.stream_ttl: float | None = None  # like Slack's ~300 s stream lifetime, if set
        self.rate_limits = rate_limits  # may be flipped at any time
        self.scopes: tuple[str, ...] | None = None if scopes is None else tuple(scopes)  # may be replaced
        self.clock = clock
        self._limiter = RateLimiter(lambda: self.clock())
        self._runner: web.AppRunner | None = None
        self._usergroups: dict[str, list[str]] = {}  # group id -> member user ids (set_usergroup)
        self._methods: dict[str, Callable[[JsonDict], JsonDict]] = {
            "apps.connections.open": self._connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
            "files.info": self._files_info,
            "files.delete": self._files_delete,
            "users.info": self._users_info,
            "usergroups.list": self._usergroups_list,
            "conversations.replies": self._replies,
        }

    # ----- lifecycle -----
    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. http://127.0.0.1:PORT."""
        if self._runner is None:
            raise RuntimeError("FakeSlackAPI is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """What to pass as `base_url=` to slack_sdk clients."""
        return self.url + "/api/"

    async def start(self) -> None:
        """Bind and start serving on the current event loop."""
        if self.scopes is None:
            self.scopes = manifest_bot_scopes()
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files-pri/{file_id}/{name}", self._download)
        app.router.add_post("/response/{hook}", self._response_url)
        self._start_sockets(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving (recorded state stays readable)."""
        if self._runner is not None:
            await self._close_sockets()
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeSlackAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def run_in_thread(cls, **kwargs: Any) -> Iterator[FakeSlackAPI]:
        """Run a started fake on its own event loop in a daemon thread (for sync tests)."""
        fake, loop = cls(**kwargs), asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="FakeSlackAPI", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    def set_usergroup(self, group_id: str, users: list[str]) -> None:
        """Create or replace user group `group_id` ("S…") with these members, for usergroups.list."""
        with self.lock:
            self._usergroups[group_id] = list(users)

    # ----- HTTP handlers -----
    async def _api(self, request: web.Request) -> web.Response:
        """POST/GET /api/<method>: answer it and record the call."""
        received, method = time.time(), request.match_info["method"]
        try:
            args, error = await _read_args(request), None
        except ValueError:
            args, error = {}, "invalid_json"
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            answer = _refusal(error) if error else self._answer(method, args, request.headers)
            self._record(method, args, request, received, answer.error, answer.status)
        return _json(answer.body, answer.status, answer.headers)

    def _answer(self, method: str, args: JsonDict, headers: CIMultiDictProxy[str]) -> _Answer:
        """Auth, scope, injected fault, rate limit, size limits, then the method itself (lock held)."""
        check = app_token_error if method == "apps.connections.open" else _token_error
        error = check(headers, args)
        if error:
            return _refusal(error)
        if not _token(headers, args).startswith("xapp-"):  # app-level tokens carry no OAuth scopes
            unscoped = missing_scope(method, self.scopes or ())
            if unscoped is not None:
                return _Answer(unscoped)
        fault = self._take_fault(method)
        if fault:
            limited = fault.status == 429 and fault.retry_after is not None
            return _refusal(
                fault.error, fault.status, {"Retry-After": str(fault.retry_after)} if limited else {}
            )
        handler = self._methods.get(method)
        if handler is None:
            return _refusal("unknown_method")
        retry_after = self._limiter.admit(_token(headers, args), method, args) if self.rate_limits else None
        if retry_after is not None:
            return _refusal("ratelimited", 429, {"Retry-After": str(retry_after)})
        try:
            blocks = _jsonish(args.get("blocks"))
            error = argument_error(method, args, blocks) or self._image_block_error(blocks)
            return _refusal(error) if error else _Answer({"ok": True, **handler(args)})
        except SlackError as exc:
            return _refusal(exc.error)

    async def _upload(self, request: web.Request) -> web.Response:
        """POST /upload/<file_id>: store the exact bytes (raw body, or first multipart file)."""
        received, file_id = time.time(), request.match_info["file_id"]
        data = b""
        if request.content_type != "multipart/form-data":
            data = await request.read()
        else:
            async for part in await request.multipart():
                if getattr(part, "filename", None) is not None:
                    data = bytes(await part.read())  # type: ignore[union-attr]
                    break
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            fault, upload = self._take_fault("upload"), self._files.get(file_id)
            error = fault.error if fault else None if upload else "file_not_found"
            if upload is not None and error is None:
                upload.data, upload.uploaded = data, True
            status = (fault.status if fault else 404) if error else 200
            self._record(
                "upload", {"file_id": file_id, "length": len(data)}, request, received, error, status
            )
        if error:
            return web.Response(status=fault.status if fault else 404, text=error, content_type="text/plain")
        return web.Response(text=f"OK - {len(data)}", content_type="text/plain")

    async def _download(self, request: web.Request) -> web.Response:
        """GET /files-pri/<id>/<name> (a file's url_private): needs a token, like Slack."""
        file_id = request.match_info["file_id"]
        with self.lock:
            upload = self._files.get(file_id)
            error = _token_error(request.headers, {}) or (
                None if upload and not upload.deleted else "file_not_found"
            )
            status = (404 if error == "file_not_found" else 403) if error else 200
            self._record("download", {"file_id": file_id}, request, time.time(), error, status)
        if error or upload is None:
            return web.Response(status=status, text=error or "")
        return web.Response(body=upload.data, content_type=upload.mimetype)

    async def _response_url(self, request: web.Request) -> web.Response:
        """POST /response/<hook>: a command's response_url; recorded as method "response_url"."""
        args = await request.json()
        with self.lock:
            self._record(
                "response_url", {**args, "hook": request.match_info["hook"]}, request, time.time(), None
            )
        return web.Response(text="ok", content_type="text/plain")

    def _record(
        self, method: str, args: JsonDict, req: web.Request, at: float, error: str | None, status: int = 200
    ) -> None:
        """Append a Call (lock held); headers are copied case-insensitively."""
        headers = CIMultiDictProxy(CIMultiDict(req.headers))
        self._calls.append(Call(method, args, headers, at, error is not None, error, status))

    def _image_block_error(self, blocks: Any) -> str | None:
        """``invalid_blocks`` for an image block Slack refuses: no ``alt_text`` (1-2000 characters),
        not exactly one of ``image_url`` and ``slack_file``, or a ``slack_file`` that names no
        uploaded file by ``id`` or ``url`` (its ``url_private`` or ``permalink``)."""
        for block in blocks if isinstance(blocks, list) else ():
            if not isinstance(block, dict) or block.get("type") != "image":
                continue
            alt, url, slack_file = block.get("alt_text"), block.get("image_url"), block.get("slack_file")
            if not isinstance(alt, str) or not 1 <= len(alt) <= 2000 or (url is None) == (slack_file is None):
                return "invalid_blocks"
            if slack_file is not None and not self._names_a_file(slack_file):
                return "invalid_blocks"
        return None

    def _names_a_file(self, slack_file: Any) -> bool:
        """Whether ``slack_file`` names one image Slack can show: "Currently only png, jpg, jpeg, and gif
        Slack image files are supported" (docs.slack.dev, Slack file object)."""
        if not isinstance(slack_file, dict) or len(slack_file) != 1:
            return False
        shown = [
            f for f in self._files.values() if f.completed and not f.deleted and f.mimetype in IMAGE_TYPES
        ]
        if "id" in slack_file:
            return any(f.file_id == str(slack_file["id"]) for f in shown)
        return slack_file.get("url") in {u for f in shown for u in self._urls_of(f)}

    def _urls_of(self, upload: UploadedFile) -> tuple[str, str]:
        shown = self._file_object(upload)
        return str(shown["url_private"]), str(shown["permalink"])

    # ----- Web API methods (called with `lock` held; return the body minus "ok") -----
    def _message(self, args: JsonDict) -> Message:
        message = self._messages.get((str(args.get("channel")), str(args.get("ts"))))
        if message is None or message.deleted:
            raise SlackError("message_not_found")
        return message

    def _auth_test(self, args: JsonDict) -> JsonDict:
        return {"url": "https://fake.slack.com/", "team": "Fake", "user": "bot", "team_id": "T1",
                "user_id": BOT_USER_ID, "bot_id": "B1", "is_enterprise_install": False}  # fmt: skip

    def _post_message(self, args: JsonDict) -> JsonDict:
        if not args.get("channel"):
            raise SlackError("channel_not_found")
        if not any(args.get(k) for k in ("text", "blocks", "attachments", "markdown_text")):
            raise SlackError("no_text")
        text, truncated = truncate_text(args.get("text") or args.get("markdown_text") or "")
        blocks = _jsonish(args.get("blocks"))
        message = Message(args["channel"], self._next_ts(), text, blocks, args.get("thread_ts"))
        self._messages[(message.channel, message.ts)] = message
        body = {"channel": message.channel, "ts": message.ts, "message": message.to_api()}
        return {**body, "response_metadata": TRUNCATED_WARNING} if truncated else body

    def _update(self, args: JsonDict) -> JsonDict:
        message = self._message(args)
        if args.get("text") is not None or args.get("markdown_text") is not None:
            message.text = args.get("text") or args.get("markdown_text") or ""
        if args.get("blocks") is not None:
            message.blocks = _jsonish(args["blocks"])
        return {"channel": message.channel, "ts": message.ts, "text": message.text,
                "message": message.to_api()}  # fmt: skip

    def _delete(self, args: JsonDict) -> JsonDict:
        message = self._message(args)
        message.deleted = True
        return {"channel": message.channel, "ts": message.ts}

    def _post_ephemeral(self, args: JsonDict) -> JsonDict:
        if not args.get("channel") or not args.get("user"):
            raise SlackError("channel_not_found" if not args.get("channel") else "user_not_in_channel")
        body = {"message_ts": self._next_ts()}
        truncated = truncate_text(str(args.get("text") or ""))[1]  # nothing is stored; only the warning
        return {**body, "response_metadata": TRUNCATED_WARNING} if truncated else body

    def _stream_append(self, message: Message, args: JsonDict) -> None:
        """Add markdown_text and the markdown_text chunks of a stream call to the message."""
        chunks = _jsonish(args.get("chunks"))
        chunks = [c for c in chunks if isinstance(c, dict)] if isinstance(chunks, list) else []
        message.chunks.extend(chunks)
        texts = [c.get("text", "") for c in chunks if c.get("type") == "markdown_text"]
        message.text += (args.get("markdown_text") or "") + "".join(texts)

    def _streaming(self, args: JsonDict) -> Message:
        message = self._messages.get((str(args.get("channel")), str(args.get("ts"))))
        ttl = self.stream_ttl
        if (
            message is None
            or message.deleted
            or not message.streaming
            or (ttl is not None and self.clock() - message.started > ttl)
        ):
            raise SlackError("message_not_in_streaming_state")
        return message

    def _start_stream(self, args: JsonDict) -> JsonDict:
        if not args.get("channel"):
            raise SlackError("channel_not_found")
        message = Message(args["channel"], self._next_ts(), thread_ts=args.get("thread_ts"), streaming=True)
        message.started = self.clock()
        self._stream_append(message, args)
        self._messages[(message.channel, message.ts)] = message
        return {"channel": message.channel, "ts": message.ts}

    def _append_stream(self, args: JsonDict) -> JsonDict:
        message = self._streaming(args)
        self._stream_append(message, args)
        return {"channel": message.channel, "ts": message.ts}

    def _stop_stream(self, args: JsonDict) -> JsonDict:
        message = self._streaming(args)
        self._stream_append(message, args)
        message.streaming = False
        if args.get("blocks") is not None:
            message.blocks = _jsonish(args["blocks"])
        return {"channel": message.channel, "ts": message.ts, "message": message.to_api()}

    def _file_object(self, upload: UploadedFile) -> JsonDict:
        return {"id": upload.file_id, "name": upload.filename, "title": upload.title or upload.filename,
                "mimetype": upload.mimetype, "size": len(upload.data), "user": BOT_USER_ID,
                "permalink": f"https://fake.slack.com/files/{BOT_USER_ID}/{upload.file_id}/{upload.filename}",
                "url_private": f"{self.url}/files-pri/{upload.file_id}/{upload.filename}"}  # fmt: skip

    def _get_upload_url(self, args: JsonDict) -> JsonDict:
        if not args.get("filename") or not str(args.get("length", "")).isdigit():
            raise SlackError("invalid_arguments")
        file_id = self._next_file_id()
        self._files[file_id] = UploadedFile(file_id, args["filename"], int(args["length"]))
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _complete_upload(self, args: JsonDict) -> JsonDict:
        items = _jsonish(args.get("files")) or []
        if not isinstance(items, list) or not items or any(i.get("id") not in self._files for i in items):
            raise SlackError("file_not_found" if isinstance(items, list) and items else "invalid_arguments")
        channel = args.get("channel_id") or (str(args.get("channels") or "").split(",")[0] or None)
        for item in items:
            upload = self._files[item["id"]]
            upload.title, upload.channel_id, upload.completed = item.get("title"), channel, True
            upload.initial_comment, upload.thread_ts = args.get("initial_comment"), args.get("thread_ts")
        if channel:  # Slack shares the files as one message in the channel/thread
            text = args.get("initial_comment") or ""
            message = Message(channel, self._next_ts(), text, thread_ts=args.get("thread_ts"))
            message.files = [item["id"] for item in items]
            self._messages[(channel, message.ts)] = message
        return {"files": [self._file_object(self._files[item["id"]]) for item in items]}

    def _live_file(self, args: JsonDict) -> UploadedFile:
        """The file ``args`` name, as files.info and files.delete find it (or their errors)."""
        upload = self._files.get(str(args.get("file")))
        if upload is None:
            raise SlackError("file_not_found")
        if upload.deleted:
            raise SlackError("file_deleted")
        return upload

    def _files_info(self, args: JsonDict) -> JsonDict:
        upload = self._live_file(args)
        return {"file": self._file_object(upload), "comments": [], "response_metadata": {"next_cursor": ""}}

    def _files_delete(self, args: JsonDict) -> JsonDict:
        """files.delete: the file is gone (its `deleted` set); a second delete says `file_deleted`."""
        self._live_file(args).deleted = True
        return {}

    def _users_info(self, args: JsonDict) -> JsonDict:
        user_id = str(args.get("user") or "")
        if not user_id:
            raise SlackError("user_not_found")
        user = {"id": user_id, "team_id": "T1", "name": f"user-{user_id}", "real_name": f"User {user_id}",
                "tz": "UTC", "tz_offset": 0, "locale": "en-US", "is_bot": user_id == BOT_USER_ID}  # fmt: skip
        return {"user": {**user, **self._users.get(user_id, {})}}

    def _usergroups_list(self, args: JsonDict) -> JsonDict:
        """Every group of the workspace, as Slack answers it; `users` only with include_users.

        `user_count` is a string, as in the method reference's example response.
        """
        with_users = str(args.get("include_users") or "").lower() in ("1", "true")
        groups = []
        for group_id, users in self._usergroups.items():
            group = {"id": group_id, "team_id": "T1", "is_usergroup": True, "name": f"Group {group_id}",
                     "description": "", "handle": group_id.lower(), "is_external": False, "date_create": 0,
                     "date_update": 0, "date_delete": 0, "auto_type": None, "created_by": "U0",
                     "updated_by": "U0", "deleted_by": None, "prefs": {"channels": [], "groups": []},
                     "user_count": str(len(users))}  # fmt: skip
            groups.append({**group, "users": list(users)} if with_users else group)
        return {"usergroups": groups}

    def _replies(self, args: JsonDict) -> JsonDict:
        channel, ts = str(args.get("channel")), str(args.get("ts"))
        root = self._messages.get((channel, ts))
        replies = [m for m in self._messages.values() if m.channel == channel and m.thread_ts == ts != m.ts]
        replies = sorted((m for m in replies if not m.deleted), key=lambda m: _ts_key(m.ts))
        if (root is None or root.deleted) and not replies:
            raise SlackError("thread_not_found")
        messages = [m.to_api() for m in replies]
        if root is not None and not root.deleted:
            head = root.to_api()
            if replies:
                head.update(thread_ts=ts, reply_count=len(replies))
            messages.insert(0, head)
        return {"messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}
