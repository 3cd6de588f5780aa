"""The OpenAI service: streamed chat answers, generated images and transcribed audio.

The ``AsyncOpenAI`` client is created by the composition root and passed in.
openai's exceptions are converted here, where they enter, into
:mod:`core.errors` types whose messages a chat user understands.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
from collections.abc import AsyncGenerator, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx2
import openai
from openai.types.audio.transcription import Transcription, UsageDuration, UsageTokens
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionMessageParam,
    ChatCompletionUserMessageParam,
)

from core.audio import Transcript, audio_too_large, unsupported_audio, upload_mime
from core.conversation import Turn
from core.errors import (
    BotError,
    ContentBlocked,
    NotConfigured,
    RateLimited,
    Unavailable,
    UpstreamError,
    UserInputError,
)

_log = logging.getLogger(__name__)

Quality = Literal["low", "medium", "high"]
IMAGE_SIZES = ("1024x1024", "1536x1024", "1024x1536")
MODERATION_MODEL = "omni-moderation-latest"
TRANSCRIBE_MODEL = "gpt-transcribe"
"""The transcription model the SDK lists without a shutdown date (the gpt-4o ones end 2027-02-26)."""
SAFETY_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
_MIME_BY_FORMAT = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
_EXTENSION_BY_MIME = {mime: fmt for fmt, mime in _MIME_BY_FORMAT.items()}


@dataclass(frozen=True)
class GeneratedImage:
    """Image bytes as OpenAI returned them."""

    data: bytes
    mime: str

    @property
    def extension(self) -> str:
        return _EXTENSION_BY_MIME.get(self.mime, "png")

    def filename(self, caption: str) -> str:
        """A safe file name made from the caption, e.g. ``a-red-fox.png``."""
        stem = re.sub(r"[^\w-]+", "-", caption.lower()).strip("-")[:40] or "image"
        return f"{stem}.{self.extension}"


@dataclass
class TokenMeter:
    """The tokens one streamed answer used, filled from the stream's last chunk (``include_usage``);
    zeros when the server reports none."""

    tokens_in: int = 0
    tokens_out: int = 0
    truncated: bool = False
    """The model stopped at its length limit: the handler ends the answer with a note, in the
    reader's language."""


class AIService:
    """Chat, image generation and transcription over one ``AsyncOpenAI`` client."""

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        chat_model: str,
        image_model: str,
        system_prompt: str,
        moderation_model: str = MODERATION_MODEL,
        transcribe_model: str = TRANSCRIBE_MODEL,
    ) -> None:
        self._client = client
        self._chat_model = chat_model
        self._image_model = image_model
        self._system_prompt = system_prompt
        self._moderation_model = moderation_model
        self._transcribe_model = transcribe_model

    def check(self) -> None:
        """Raise :class:`NotConfigured` if this service cannot work (this one always can)."""

    @property
    def chat_model(self) -> str:
        return self._chat_model

    @property
    def image_model(self) -> str:
        return self._image_model

    async def stream_answer(
        self, history: Sequence[Turn], question: str, meter: TokenMeter | None = None
    ) -> AsyncGenerator[str, None]:
        """Yield the answer to ``question`` as text deltas, in order, given the earlier turns;
        the tokens it used go on ``meter`` once the stream reports them (at its end)."""
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": self._system_prompt}]
        messages += [_message(turn) for turn in history]
        messages.append({"role": "user", "content": question})
        with _converted_errors():
            async with self._client.chat.completions.with_streaming_response.create(
                model=self._chat_model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            ) as response:
                async for line in response.iter_lines():
                    for delta in _deltas(line, meter):
                        yield delta

    async def flagged(self, text: str) -> bool:
        """Whether OpenAI's moderation endpoint flags ``text`` (free; checked before paid work).

        An OpenAI-compatible server without the endpoint (404) is a setting to change, not
        an outage: the operator is told to set ``MODERATION=off``.
        """
        with _converted_errors():
            try:
                result = await self._client.moderations.create(model=self._moderation_model, input=text)
            except openai.NotFoundError as exc:
                _log.error("the AI server has no moderation endpoint; set MODERATION=off to draw without it")
                raise NotConfigured("no_moderation") from exc
        return any(verdict.flagged for verdict in result.results)

    async def generate_image(self, prompt: str, *, size: str, quality: Quality) -> GeneratedImage:
        """Generate one image and return its bytes (never a URL, which would expire)."""
        with _converted_errors():
            result = await self._client.images.generate(
                model=self._image_model, prompt=prompt, size=size, quality=quality, n=1
            )
        if not result.data or not result.data[0].b64_json:
            raise UpstreamError("ai_failed", detail="no image in the answer")
        try:
            data = base64.b64decode(result.data[0].b64_json, validate=True)
        except binascii.Error as exc:
            raise UpstreamError("ai_failed", detail="the image could not be read") from exc
        return GeneratedImage(data=data, mime=_sniff_mime(data, getattr(result, "output_format", None)))

    async def transcribe(self, audio: bytes, filename: str) -> Transcript:
        """The text spoken in ``audio``, a file called ``filename``, whose extension names its format.

        Check the file with :func:`core.audio.upload_name` before downloading it; OpenAI's own
        refusals of the file (format, size, length, content) become the same :class:`UserInputError`.
        """
        with _converted_errors(), _audio_refusals():
            result = await self._client.audio.transcriptions.create(
                model=self._transcribe_model, file=(filename, audio, upload_mime(filename))
            )
        return _transcript(result, self._transcribe_model)


class DisabledAI:
    """Stands in for :class:`AIService` when no OpenAI key is configured."""

    def check(self) -> None:
        raise NotConfigured("no_openai_key")

    chat_model = image_model = ""

    async def stream_answer(
        self, history: Sequence[Turn], question: str, meter: TokenMeter | None = None
    ) -> AsyncGenerator[str, None]:
        raise NotConfigured("no_openai_key")
        yield ""  # pragma: no cover - makes this an async generator like the real one

    async def generate_image(self, prompt: str, *, size: str, quality: Quality) -> GeneratedImage:
        raise NotConfigured("no_openai_key")

    async def flagged(self, text: str) -> bool:
        raise NotConfigured("no_openai_key")

    async def transcribe(self, audio: bytes, filename: str) -> Transcript:
        raise NotConfigured("no_openai_key")


@contextlib.contextmanager
def _converted_errors() -> Iterator[None]:
    """Turn openai exceptions into our own, keeping the cause."""
    try:
        yield
    except BotError:
        raise
    except openai.RateLimitError as exc:
        raise RateLimited("rate_limited") from exc
    except openai.APIConnectionError as exc:  # includes timeouts
        raise Unavailable("ai_unavailable") from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        _log.error("OpenAI refused the credentials: %s", exc.message)
        raise UpstreamError("ai_auth") from exc
    except openai.APIStatusError as exc:
        if exc.code in SAFETY_CODES:
            raise ContentBlocked("content_blocked") from exc
        if exc.status_code >= 500:
            raise Unavailable("ai_unavailable") from exc
        _log.warning("OpenAI answered %s: %s", exc.status_code, exc.message)
        raise UpstreamError("ai_failed", detail=f"error {exc.status_code}") from exc
    except (httpx2.TransportError, json.JSONDecodeError) as exc:  # a stream cut off midway
        _log.warning("OpenAI stream broke off: %r", exc)
        raise Unavailable("ai_unavailable") from exc
    except openai.APIError as exc:  # an error event inside a stream
        raise _stream_failure(exc.code, exc.message) from exc


@contextlib.contextmanager
def _audio_refusals() -> Iterator[None]:
    """OpenAI refusing the audio file itself: the user's to fix, not an outage."""
    try:
        yield
    except openai.APIStatusError as exc:
        refusal = _audio_refusal(exc)
        if refusal is None:
            raise
        raise refusal from exc


def _audio_refusal(exc: openai.APIStatusError) -> UserInputError | None:
    """The user's error for a refused upload, as OpenAI words them; ``None`` for any other failure."""
    if exc.status_code == 413:
        return audio_too_large()
    if exc.status_code != 400:
        return None
    message = str(exc.body.get("message", "")) if isinstance(exc.body, dict) else ""
    if exc.code == "audio_too_short":
        return UserInputError("audio_too_short")
    if message.startswith("Invalid file format"):
        return unsupported_audio()
    if exc.param == "file" and "corrupted" in message:
        return UserInputError("audio_unreadable")
    return None


def _transcript(result: Transcription, model: str) -> Transcript:
    """Our transcript from OpenAI's, with whichever usage (duration or tokens) it reports."""
    usage = result.usage
    if isinstance(usage, UsageDuration):
        return Transcript(result.text, model, seconds=usage.seconds)
    if isinstance(usage, UsageTokens):
        return Transcript(
            result.text, model, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens
        )
    return Transcript(result.text, model)


def _stream_failure(code: object, message: object) -> BotError:
    """An error event inside a chat stream: a refusal, or an outage."""
    if code in SAFETY_CODES:
        return ContentBlocked("content_blocked")
    _log.warning("OpenAI stream failed: %s", message)
    return Unavailable("ai_unavailable")


def _deltas(line: str, meter: TokenMeter | None = None) -> list[str]:
    """The text in one server-sent event line of a chat stream.

    Parsed with ``json`` rather than the SDK's typed chunks: under load, building
    those models was most of the bot's CPU time (bench/slack_load.py).
    """
    if not line.startswith("data:") or (payload := line[5:].strip()) == "[DONE]":
        return []
    data = json.loads(payload)
    if "error" in data:
        error = data["error"] if isinstance(data["error"], dict) else {"message": data["error"]}
        raise _stream_failure(error.get("code"), error.get("message"))
    if meter is not None and isinstance(usage := data.get("usage"), dict):
        meter.tokens_in = int(usage.get("prompt_tokens") or 0)
        meter.tokens_out = int(usage.get("completion_tokens") or 0)
    deltas = []
    for choice in data.get("choices") or ():
        if content := (choice.get("delta") or {}).get("content"):
            deltas.append(content)
        if choice.get("finish_reason") == "content_filter":
            raise ContentBlocked("content_blocked")
        if choice.get("finish_reason") == "length" and meter is not None:
            meter.truncated = True
    return deltas


def _sniff_mime(data: bytes, output_format: str | None) -> str:
    if output_format in _MIME_BY_FORMAT:
        return _MIME_BY_FORMAT[output_format]
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"


def _message(turn: Turn) -> ChatCompletionMessageParam:
    if turn.role == "assistant":
        return ChatCompletionAssistantMessageParam(role="assistant", content=turn.content)
    return ChatCompletionUserMessageParam(role="user", content=turn.content)
