"""Transcription: the audio checks, core.ai against the fake OpenAI, and the size-limited download.

A real WAV, written with :mod:`wave`, goes through the real ``AsyncOpenAI`` client to the
fake's ``audio/transcriptions``; downloads run against a small aiohttp file host on
loopback that counts the bytes it manages to send before the client hangs up.
"""

from __future__ import annotations

import asyncio
import io
import math
import struct
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import openai
import pytest
from aiohttp import web

from bot.downloads import fetch_limited
from core import errors
from core.ai import TRANSCRIBE_MODEL, AIService, DisabledAI
from core.audio import AUDIO_TYPES, MAX_AUDIO_BYTES, describe_size, upload_mime, upload_name
from tests.fakes.openai_server import FakeOpenAI


def wav_bytes(seconds: float = 0.5, rate: int = 16000) -> bytes:
    """A real mono 16-bit WAV: a 440 Hz tone."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


@pytest.fixture
async def transcriber(fake_openai: FakeOpenAI) -> AsyncIterator[AIService]:
    async with openai.AsyncOpenAI(api_key="sk-test", base_url=fake_openai.url, max_retries=0) as client:
        yield AIService(
            client, chat_model="c", image_model="i", system_prompt="s", transcribe_model="test-transcribe"
        )


# --- which files can be transcribed (pure) ---


@pytest.mark.parametrize(
    ("name", "mime", "size", "expected"),
    [
        ("memo.wav", "audio/wav", 1000, "memo.wav"),
        ("Memo.MP3", None, None, "Memo.MP3"),
        ("voice-message.ogg", "audio/ogg", 5000, "voice-message.ogg"),
        ("clip.oga", "application/octet-stream", 10, "clip.oga"),
        ("Audio clip", "audio/webm", 10, "Audio clip.webm"),
        ("voice", "audio/ogg; codecs=opus", 10, "voice.ogg"),
        ("recording", "audio/mp4", 10, "recording.m4a"),
        ("film", "video/mp4", 10, "film.mp4"),
        (".", "audio/mpeg", 10, "audio.mp3"),
        ("edge.flac", None, MAX_AUDIO_BYTES, "edge.flac"),
    ],
)
def test_transcribable_files_get_a_name_with_a_supported_extension(
    name: str, mime: str | None, size: int | None, expected: str
) -> None:
    assert upload_name(name, mime, size) == expected


@pytest.mark.parametrize(
    ("name", "mime"),
    [("notes.txt", "text/plain"), ("song.aac", "audio/aac"), ("wav", None), (".wav", None), ("x.wav.zip", None)],
)
def test_unsupported_files_are_refused_naming_the_formats(name: str, mime: str | None) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        upload_name(name, mime, 100)
    assert caught.value.key == "audio_unsupported"
    assert "flac, m4a, mp3, mp4, mpeg, mpga, oga, ogg, wav, webm" in caught.value.message()


def test_a_declared_size_over_25_mib_is_too_large_and_an_empty_file_too_short() -> None:
    with pytest.raises(errors.UserInputError) as caught:
        upload_name("long.mp3", "audio/mpeg", MAX_AUDIO_BYTES + 1)
    assert caught.value.key == "audio_too_large" and "25 MB" in caught.value.message()
    with pytest.raises(errors.UserInputError) as caught:
        upload_name("empty.wav", "audio/wav", 0)
    assert caught.value.key == "audio_too_short"


def test_every_format_has_a_mime_type_to_send_and_sizes_read_naturally() -> None:
    assert all(upload_mime(f"a.{extension}") == mimes[0] for extension, mimes in AUDIO_TYPES.items())
    assert upload_mime("a.WAV") == "audio/wav"
    assert MAX_AUDIO_BYTES == 26_214_400
    assert [describe_size(n) for n in (MAX_AUDIO_BYTES, 256 * 1024, 1536 * 1024, 900)] == [
        "25 MB", "256 KB", "1.5 MB", "900 bytes"
    ]  # fmt: skip


# --- AIService.transcribe against the fake OpenAI ---


async def test_a_wav_goes_up_as_multipart_and_comes_back_as_text(
    transcriber: AIService, fake_openai: FakeOpenAI
) -> None:
    audio = wav_bytes()
    fake_openai.transcript = "hello from the fake"
    transcript = await transcriber.transcribe(audio, "memo.wav")
    assert transcript.text == "hello from the fake" and transcript.model == "test-transcribe"
    assert transcript.input_tokens == 5 and transcript.output_tokens == 4 and transcript.seconds is None
    [upload] = fake_openai.uploads
    assert (upload.filename, upload.content_type, upload.model) == ("memo.wav", "audio/wav", "test-transcribe")
    assert upload.data == audio and upload.size == len(audio)
    [call] = fake_openai.calls("transcriptions")
    assert call.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert call.body["file"] == {"filename": "memo.wav", "size": len(audio)}


async def test_a_model_billed_by_duration_reports_the_seconds(fake_openai: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(api_key="k", base_url=fake_openai.url, max_retries=0) as client:
        ai = AIService(client, chat_model="c", image_model="i", system_prompt="s", transcribe_model="whisper-1")
        transcript = await ai.transcribe(wav_bytes(seconds=2.5), "memo.wav")
    assert (transcript.seconds, transcript.input_tokens, transcript.model) == (3, None, "whisper-1")


def test_the_default_model_is_current() -> None:
    assert TRANSCRIBE_MODEL == "gpt-transcribe"


@pytest.mark.parametrize(
    ("kind", "error_type", "key"),
    [
        ("rate_limit", errors.RateLimited, "rate_limited"),
        ("auth", errors.UpstreamError, "ai_auth"),
        ("server", errors.Unavailable, "ai_unavailable"),
        ("bad_request", errors.UpstreamError, "ai_failed"),
    ],
)
async def test_openai_failures_become_our_errors(
    transcriber: AIService, fake_openai: FakeOpenAI, kind: str, error_type: type[errors.BotError], key: str
) -> None:
    fake_openai.fail("transcriptions", kind)
    with pytest.raises(error_type) as caught:
        await transcriber.transcribe(wav_bytes(), "memo.wav")
    assert caught.value.key == key and isinstance(caught.value.__cause__, openai.APIStatusError)
    assert len(fake_openai.uploads) == 1


@pytest.mark.parametrize(
    ("audio", "filename", "key"),
    [
        (b"ADTS" * 100, "song.aac", "audio_unsupported"),
        (b"", "empty.mp3", "audio_too_short"),
        (wav_bytes(seconds=0.05), "blip.wav", "audio_too_short"),
        (b"RIFF but not really a wave file", "broken.wav", "audio_unreadable"),
    ],
)
async def test_openai_refusing_the_file_is_the_users_to_fix(
    transcriber: AIService, audio: bytes, filename: str, key: str
) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        await transcriber.transcribe(audio, filename)
    assert caught.value.key == key and isinstance(caught.value.__cause__, openai.BadRequestError)


async def test_an_upload_over_25_mib_gets_openais_413_as_too_large(
    transcriber: AIService, fake_openai: FakeOpenAI
) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        await transcriber.transcribe(bytes(MAX_AUDIO_BYTES), "long.wav")
    assert caught.value.key == "audio_too_large"
    assert isinstance(caught.value.__cause__, openai.APIStatusError) and caught.value.__cause__.status_code == 413
    assert fake_openai.uploads == []


async def test_the_fake_refuses_a_form_without_a_file_as_openai_does(fake_openai: FakeOpenAI) -> None:
    form = aiohttp.FormData({"model": "whisper-1"})
    form.add_field("other", b"x", filename="memo.wav")  # force multipart without a "file" part
    url = f"{fake_openai.url}/audio/transcriptions"
    async with aiohttp.ClientSession() as session, session.post(url, data=form) as response:
        body = await response.json()
    assert response.status == 400 and response.content_type == "application/json"
    assert "body -> file" in body["error"]["message"] and body["error"]["type"] == "invalid_request_error"


async def test_without_a_key_transcription_is_not_configured() -> None:
    with pytest.raises(errors.NotConfigured):
        await DisabledAI().transcribe(wav_bytes(), "memo.wav")


# --- fetch_limited against a local file host ---

BIG = 64 * 1024 * 1024
PACE = 16 * 1024
"""The host writes a chunk this size, then yields a millisecond: bytes it could send, not a flood."""


@dataclass
class FileHost:
    """A loopback file host that counts what it sends of each file before the client hangs up."""

    file: bytes = field(default_factory=wav_bytes)
    sent: dict[str, int] = field(default_factory=dict)
    hung_up: dict[str, bool] = field(default_factory=dict)
    done: dict[str, asyncio.Event] = field(default_factory=dict)
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    """(path, Authorization header) of every request."""
    port: int = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def small(self, request: web.Request) -> web.Response:
        self.seen.append((request.path, request.headers.get("Authorization")))
        return web.Response(body=self.file, content_type="audio/wav")

    async def to_localhost(self, request: web.Request) -> web.Response:
        """A redirect to the same server under another host name."""
        return web.Response(status=302, headers={"Location": self.url("/memo.wav", "localhost")})

    async def big(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path, request.headers.get("Authorization")))
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        if request.path == "/declared":
            response.content_length = BIG
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        await self._pour(request, response)
        return response

    async def _pour(self, request: web.Request, response: web.StreamResponse) -> None:
        sent, hung_up = 0, False
        try:
            while sent < BIG:
                if request.transport is None or request.transport.is_closing():
                    hung_up = True
                    break
                await response.write(bytes(PACE))
                sent += PACE
                await asyncio.sleep(0.001)
        except ConnectionError:
            hung_up = True
        finally:
            self.sent[request.path], self.hung_up[request.path] = sent, hung_up
            self.done.setdefault(request.path, asyncio.Event()).set()

    async def finished(self, path: str) -> None:
        await asyncio.wait_for(self.done.setdefault(path, asyncio.Event()).wait(), 10)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _redirect_to(location: str) -> Handler:
    async def redirect(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    return redirect


async def _login_page(request: web.Request) -> web.Response:
    return web.Response(text="<html>sign in</html>", content_type="text/html")


@pytest.fixture
async def file_host() -> AsyncIterator[FileHost]:
    host = FileHost()
    app = web.Application()
    app.router.add_get("/memo.wav", host.small)
    app.router.add_get("/declared", host.big)
    app.router.add_get("/chunked", host.big)
    app.router.add_get("/hop", _redirect_to("/memo.wav"))
    app.router.add_get("/to-localhost", host.to_localhost)
    app.router.add_get("/to-elsewhere", _redirect_to("https://evil.example/memo.wav"))
    app.router.add_get("/to-http", _redirect_to("http://files.example/memo.wav"))
    app.router.add_get("/loop", _redirect_to("/loop"))
    app.router.add_get("/login", _login_page)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host.port = runner.addresses[0][1]
    yield host
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


LOCAL = frozenset({"127.0.0.1"})


async def test_a_file_on_the_allowed_host_is_fetched_with_the_headers(
    file_host: FileHost, session: aiohttp.ClientSession
) -> None:
    data = await fetch_limited(
        session, file_host.url("/memo.wav"), allowed_hosts=LOCAL, max_bytes=MAX_AUDIO_BYTES,
        headers={"Authorization": "Bearer xoxb-test"},
    )  # fmt: skip
    assert data == file_host.file
    assert file_host.seen == [("/memo.wav", "Bearer xoxb-test")]


async def test_a_declared_oversized_file_is_refused_before_its_body(
    file_host: FileHost, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        await fetch_limited(session, file_host.url("/declared"), allowed_hosts=LOCAL, max_bytes=MAX_AUDIO_BYTES)
    assert caught.value.key == "audio_too_large" and "25 MB" in caught.value.message()
    await file_host.finished("/declared")
    assert file_host.hung_up["/declared"]
    assert file_host.sent["/declared"] < 1024 * 1024, "the client should hang up on the headers"


async def test_a_streamed_body_past_the_limit_is_cut_off_near_it(
    file_host: FileHost, session: aiohttp.ClientSession
) -> None:
    limit = 256 * 1024
    with pytest.raises(errors.UserInputError) as caught:
        await fetch_limited(session, file_host.url("/chunked"), allowed_hosts=LOCAL, max_bytes=limit)
    assert caught.value.key == "audio_too_large" and "256 KB" in caught.value.message()
    await file_host.finished("/chunked")
    assert file_host.hung_up["/chunked"]
    assert limit < file_host.sent["/chunked"] < limit + 1024 * 1024, file_host.sent


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/memo.wav",
        "http://files.slack.com/memo.wav",
        "https://files.slack.com.evil.example/memo.wav",
        "https://token@files.slack.com/memo.wav",
        "ftp://files.slack.com/memo.wav",
        "not a url at all",
    ],
)
async def test_a_url_off_the_platform_or_not_https_is_refused_unsent(
    session: aiohttp.ClientSession, url: str
) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        await fetch_limited(session, url, allowed_hosts=frozenset({"files.slack.com"}), max_bytes=100)
    assert caught.value.key == "file_elsewhere"


@pytest.mark.parametrize("path", ["/to-localhost", "/to-elsewhere", "/to-http", "/loop", "/login", "/nowhere"])
async def test_a_redirect_off_the_host_or_a_page_instead_of_a_file_fails(
    file_host: FileHost, session: aiohttp.ClientSession, path: str
) -> None:
    with pytest.raises(errors.UpstreamError) as caught:
        await fetch_limited(session, file_host.url(path), allowed_hosts=LOCAL, max_bytes=MAX_AUDIO_BYTES)
    assert caught.value.key == "download_failed"
    assert ("/memo.wav", None) not in file_host.seen


async def test_a_redirect_on_the_host_is_followed_and_headers_stay_with_their_host(
    file_host: FileHost, session: aiohttp.ClientSession
) -> None:
    both = frozenset({"127.0.0.1", "localhost"})
    token = {"Authorization": "Bearer xoxb-test"}
    for path in ("/hop", "/to-localhost"):
        data = await fetch_limited(
            session, file_host.url(path), allowed_hosts=both, max_bytes=MAX_AUDIO_BYTES, headers=token
        )
        assert data == file_host.file
    assert file_host.seen == [("/memo.wav", "Bearer xoxb-test"), ("/memo.wav", None)]


async def test_a_host_that_is_down_is_unavailable(session: aiohttp.ClientSession, unused_tcp_port: int) -> None:
    with pytest.raises(errors.Unavailable) as caught:
        await fetch_limited(
            session, f"http://127.0.0.1:{unused_tcp_port}/memo.wav", allowed_hosts=LOCAL, max_bytes=100
        )
    assert caught.value.key == "download_failed"
