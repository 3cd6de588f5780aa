"""A fake OpenAI API on a local port, speaking the real wire format.

Chat completions stream as SSE ``chat.completion.chunk`` events ending in
``data: [DONE]``; images come back as ``b64_json``; errors are
``{"error": {...}}`` with the real status codes. Point ``AsyncOpenAI`` (or
``OPENAI_BASE_URL``) at :attr:`FakeOpenAI.url`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

# A valid 1x1 PNG: what the image endpoint returns unless told otherwise.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

ERROR_KINDS: dict[str, tuple[int, dict[str, Any]]] = {
    "rate_limit": (429, {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}),
    "moderation": (
        400,
        {
            "message": "Your request was rejected by the safety system.",
            "type": "image_generation_user_error",
            "code": "moderation_blocked",
        },
    ),
    "content_policy": (
        400,
        {
            "message": "Your request was rejected as a result of our safety system.",
            "type": "invalid_request_error",
            "code": "content_policy_violation",
        },
    ),
    "auth": (
        401,
        {
            "message": "Incorrect API key provided.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        },
    ),
    "bad_request": (
        400,
        {"message": "Invalid value for 'size'.", "type": "invalid_request_error", "code": None},
    ),
    "not_found": (
        404,
        {"message": "Invalid URL (POST /v1/moderations)", "type": "invalid_request_error", "code": None},
    ),
    "server": (500, {"message": "The server had an error.", "type": "server_error", "code": None}),
}


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class FakeOpenAI:
    """Scriptable fake; set the fields, then drive the real client at it."""

    chunks: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    chunk_delay: float = 0.0
    finish_reason: str = "stop"
    image: bytes = TINY_PNG
    flag_words: tuple[str, ...] = ("forbidden",)
    """Moderation flags (as violence) any input containing one of these, case-insensitively."""
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    _failures: dict[str, list[str]] = field(default_factory=dict)
    _stream_error_after: int | None = None
    _stream_cut_after: int | None = None
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail(self, endpoint: str, kind: str, times: int = 1) -> None:
        """Answer the next ``times`` calls to ``endpoint`` ("chat", "images", "moderations") with an error."""
        self._failures.setdefault(endpoint, []).extend([kind] * times)

    def break_stream_after(self, chunks: int) -> None:
        """Send an error event after ``chunks`` content chunks (a mid-stream failure)."""
        self._stream_error_after = chunks

    def cut_stream_after(self, chunks: int) -> None:
        """Drop the connection after ``chunks`` content chunks, mid-event (a network failure)."""
        self._stream_cut_after = chunks

    def calls(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(_PATHS[endpoint])]

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1" + _PATHS["chat"], self._chat)
        app.router.add_post("/v1" + _PATHS["images"], self._images)
        app.router.add_post("/v1" + _PATHS["moderations"], self._moderations)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeOpenAI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _record(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        body = await request.json()
        self.requests.append(Recorded(request.path, body, dict(request.headers)))
        if self.delay:
            await asyncio.sleep(self.delay)
        endpoint = next(name for name, path in _PATHS.items() if request.path.endswith(path))
        pending = self._failures.get(endpoint)
        if pending:
            status, error = ERROR_KINDS[pending.pop(0)]
            return body, _json({"error": {**error, "param": None}}, status=status)
        return body, None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, failure = await self._record(request)
        if failure:
            return failure
        if not body.get("stream"):
            return _json(_completion(body, "".join(self.chunks), self.finish_reason))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await _send(response, _chunk(body, {"role": "assistant", "content": ""}))
        for index, piece in enumerate(self.chunks):
            if self._stream_error_after is not None and index == self._stream_error_after:
                await _send(
                    response, {"error": {"message": "The server had an error.", "type": "server_error"}}
                )
                return response
            if self._stream_cut_after is not None and index == self._stream_cut_after:
                await response.write(b'data: {"choices": [{"del')
                assert request.transport is not None
                request.transport.abort()
                return response
            if self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            await _send(response, _chunk(body, {"content": piece}))
        await _send(response, _chunk(body, {}, self.finish_reason))
        await response.write(b"data: [DONE]\n\n")
        return response

    async def _images(self, request: web.Request) -> web.Response:
        _, failure = await self._record(request)
        if failure:
            return failure
        encoded = base64.b64encode(self.image).decode()
        return _json({"created": int(time.time()), "data": [{"b64_json": encoded}], "output_format": "png"})


    async def _moderations(self, request: web.Request) -> web.Response:
        body, failure = await self._record(request)
        if failure:
            return failure
        inputs = body.get("input")
        if not isinstance(inputs, (str, list)) or not inputs:
            error = {"message": "'input' is required", "type": "invalid_request_error", "code": None}
            return _json({"error": {**error, "param": "input"}}, status=400)
        texts = [inputs] if isinstance(inputs, str) else [str(item) for item in inputs]
        results = [_moderation(any(w.lower() in t.lower() for w in self.flag_words)) for t in texts]
        return _json({"id": "modr-fake", "model": body.get("model") or "omni-moderation-latest", "results": results})


_PATHS = {"chat": "/chat/completions", "images": "/images/generations", "moderations": "/moderations"}
_MODERATION_CATEGORIES = (
    "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
    "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors",
    "violence", "violence/graphic",
)  # fmt: skip


def _moderation(flagged: bool) -> dict[str, Any]:
    """One result in the real shape: every category, flagged as violence when ``flagged``."""
    return {
        "flagged": flagged,
        "categories": {name: flagged and name == "violence" for name in _MODERATION_CATEGORIES},
        "category_scores": {
            name: 0.97 if flagged and name == "violence" else 0.0001 for name in _MODERATION_CATEGORIES
        },
        "category_applied_input_types": {name: ["text"] for name in _MODERATION_CATEGORIES},
    }


def _json(data: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data), status=status, content_type="application/json")


async def _send(response: web.StreamResponse, data: dict[str, Any]) -> None:
    await response.write(f"data: {json.dumps(data)}\n\n".encode())


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _completion(body: dict[str, Any], content: str, finish: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
        ],
    }
