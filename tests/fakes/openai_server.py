"""A fake OpenAI API on a local port, speaking the real wire format.

Chat completions stream as SSE ``chat.completion.chunk`` events ending in
``data: [DONE]``; images come back as ``b64_json``; audio is uploaded as
multipart/form-data and checked as OpenAI checks it (format by extension, 25 MiB,
a readable WAV); errors are ``{"error": {...}}`` with the real status codes.
Point ``AsyncOpenAI`` (or ``OPENAI_BASE_URL``) at :attr:`FakeOpenAI.url`.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import time
import wave
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

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
class Upload:
    """One audio file as ``audio/transcriptions`` received it, with the form's other fields."""

    filename: str | None
    content_type: str | None
    data: bytes
    fields: dict[str, str]

    @property
    def model(self) -> str | None:
        return self.fields.get("model")

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class FakeOpenAI:
    """Scriptable fake; set the fields, then drive the real client at it."""

    chunks: list[str] = field(default_factory=lambda: ["Hello", ", ", "world", "!"])
    chunk_delay: float = 0.0
    finish_reason: str = "stop"
    image: bytes = TINY_PNG
    flag_words: tuple[str, ...] = ("forbidden",)
    """Moderation flags (as violence) any input containing one of these, case-insensitively."""
    transcript: str = "hello from the fake"
    """What ``audio/transcriptions`` hears in any audio it accepts."""
    delay: float = 0.0
    requests: list[Recorded] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    """Audio files received, in order, including those then refused."""
    _failures: dict[str, list[str]] = field(default_factory=dict)
    _stream_error_after: int | None = None
    _stream_cut_after: int | None = None
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail(self, endpoint: str, kind: str, times: int = 1) -> None:
        """Answer the next ``times`` calls to ``endpoint`` with an error.

        ``endpoint`` is "chat", "images", "moderations" or "transcriptions"; ``kind`` a key of
        :data:`ERROR_KINDS`.
        """
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
        app.router.add_post("/v1" + _PATHS["transcriptions"], self._transcriptions)
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
        return body, await self._logged(request, body)

    async def _logged(self, request: web.Request, body: dict[str, Any]) -> web.Response | None:
        """Record a call, wait :attr:`delay`, and answer a failure if one is scheduled."""
        self.requests.append(Recorded(request.path, body, dict(request.headers)))
        if self.delay:
            await asyncio.sleep(self.delay)
        endpoint = next(name for name, path in _PATHS.items() if request.path.endswith(path))
        pending = self._failures.get(endpoint)
        if pending:
            status, error = ERROR_KINDS[pending.pop(0)]
            return _json({"error": {**error, "param": None}}, status=status)
        return None

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
        if (body.get("stream_options") or {}).get("include_usage"):
            await _send(response, _usage_chunk(body, len(self.chunks)))
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

    async def _transcriptions(self, request: web.Request) -> web.Response:
        if request.content_type != "multipart/form-data":
            return _invalid(f"Invalid Content-Type header ({request.content_type}), expected multipart/form-data.")
        if (request.content_length or 0) > MAX_UPLOAD_BYTES:
            return await _too_large(request, request.content_length or 0)
        upload, read = await _read_form(request)
        if read > MAX_UPLOAD_BYTES:
            return await _too_large(request, read)
        self.uploads.append(upload)
        body = {**upload.fields, "file": {"filename": upload.filename, "size": upload.size}}
        failure = await self._logged(request, body)
        return failure or _refusal(upload) or self._transcription(upload)

    def _transcription(self, upload: Upload) -> web.Response:
        model, response_format = upload.model or "", upload.fields.get("response_format", "json")
        if response_format == "text":
            return web.Response(text=self.transcript + "\n", content_type="text/plain")
        seconds = _wav_seconds(upload.data) or 1.0
        if response_format == "verbose_json" and model == "whisper-1":
            return _json({"task": "transcribe", "language": "english", "duration": seconds,
                          "text": self.transcript, "segments": []})  # fmt: skip
        if response_format != "json":
            return _invalid(
                f"response_format '{response_format}' is not compatible with model '{model}'. "
                "Use 'json' or 'text' instead.", param="response_format", code="unsupported_value"
            )  # fmt: skip
        return _json({"text": self.transcript, "usage": _audio_usage(model, seconds, self.transcript)})


MAX_UPLOAD_BYTES = 25 * 1024 * 1024
"""OpenAI's limit on a transcription request's body (its 413 names 26214400)."""
AUDIO_FORMATS = ("flac", "m4a", "mp3", "mp4", "mpeg", "mpga", "oga", "ogg", "wav", "webm")
"""The extensions ``audio/transcriptions`` accepts, in the order its error lists them."""
_PATHS = {
    "chat": "/chat/completions",
    "images": "/images/generations",
    "moderations": "/moderations",
    "transcriptions": "/audio/transcriptions",
}
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


async def _read_form(request: web.Request) -> tuple[Upload, int]:
    """The form's file and fields, and the bytes read; past the limit, the rest is drained unkept."""
    fields: dict[str, str] = {}
    file: tuple[str | None, str | None, bytes] | None = None
    read = 0
    async for part in await request.multipart():
        if not isinstance(part, BodyPartReader):
            continue
        data = bytearray()
        while chunk := await part.read_chunk(65536):
            read += len(chunk)
            if read <= MAX_UPLOAD_BYTES:
                data += chunk
        if part.name == "file" and part.filename is not None:
            file = (part.filename, part.headers.get("Content-Type"), bytes(data))
        elif part.name:
            fields[part.name] = data.decode(part.get_charset("utf-8"), "replace")
    filename, content_type, payload = file or (None, None, b"")
    return Upload(filename, content_type, payload, fields), read


async def _too_large(request: web.Request, read: int) -> web.Response:
    """OpenAI's 413, after draining the body so the client reads the answer rather than a reset."""
    while await request.content.readany():
        pass
    message = f"Maximum content size limit ({MAX_UPLOAD_BYTES}) exceeded ({read} bytes read)"
    return _json({"error": {"message": message, "type": "server_error", "param": None, "code": None}}, 413)


def _refusal(upload: Upload) -> web.Response | None:
    """OpenAI's 400 for a form it cannot transcribe, or ``None``."""
    if not upload.model:
        return _invalid("you must provide a model parameter")
    if upload.filename is None:
        return _invalid("1 validation error for Request\nbody -> file\n  field required (type=value_error.missing)")
    extension = upload.filename.rpartition(".")[2].lower() if "." in upload.filename else ""
    if extension not in AUDIO_FORMATS:
        return _invalid(f"Invalid file format. Supported formats: {list(AUDIO_FORMATS)}")
    seconds = _wav_seconds(upload.data) if extension == "wav" else None
    if not upload.data or (seconds is not None and seconds < 0.1):
        return _invalid(
            "Audio file is too short. Minimum audio length is 0.1 seconds.", param="file", code="audio_too_short"
        )
    if extension == "wav" and seconds is None:
        return _invalid("Audio file might be corrupted or unsupported", param="file", code="invalid_value")
    return None


def _wav_seconds(data: bytes) -> float | None:
    """The duration of a WAV file, or ``None`` if ``data`` is not one."""
    try:
        with wave.open(io.BytesIO(data)) as audio:
            return audio.getnframes() / audio.getframerate()
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


def _audio_usage(model: str, seconds: float, text: str) -> dict[str, Any]:
    """Usage as OpenAI reports it: whisper-1 by whole seconds of audio, the others by tokens."""
    if model == "whisper-1":
        return {"type": "duration", "seconds": math.ceil(seconds)}
    audio_tokens, output_tokens = math.ceil(seconds * 10), len(text.split())
    return {
        "type": "tokens",
        "input_tokens": audio_tokens,
        "input_token_details": {"text_tokens": 0, "audio_tokens": audio_tokens},
        "output_tokens": output_tokens,
        "total_tokens": audio_tokens + output_tokens,
    }


def _invalid(message: str, *, param: str | None = None, code: str | None = None) -> web.Response:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return _json({"error": error}, status=400)


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


def _usage_chunk(body: dict[str, Any], pieces: int) -> dict[str, Any]:
    """The last chunk of a stream asked to ``include_usage``: no choices, the request's tokens."""
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {**_chunk(body, {}), "choices": [], "usage": {
        "prompt_tokens": prompt, "completion_tokens": pieces, "total_tokens": prompt + pieces}}


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
