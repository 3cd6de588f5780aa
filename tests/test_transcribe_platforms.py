"""Transcribe on every platform: a real WAV through each adapter's fake, and files refused first."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import openai as openai_sdk
import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bot import console as console_platform
from bot.discord_app import app as discord_app
from bot.slack_app.limits import SlackPacer
from core.ai import AIService
from core.audio import MAX_AUDIO_BYTES
from core.store.memory import MemoryStore
from handlers import transcribe as transcribe_handler
from handlers.port import Services
from handlers.registry import TRANSCRIBE
from handlers.transcribe import TranscribeRequest
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID, GUILD_ID, PUT_GUILD_COMMANDS
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply, cmd
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, serving, start_bot
from tests.test_transcription import wav_bytes


def traced_session(sent: list[URL]) -> aiohttp.ClientSession:
    """A real session that notes the URL of every request sent on it."""

    async def on_start(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent.append(params.url)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    return aiohttp.ClientSession(trace_configs=[trace])


async def run_console(services: Services, lines: list[str], tmp_path: Path) -> str:
    stdin, out = io.StringIO("\n".join(lines) + "\n"), io.StringIO()
    await asyncio.wait_for(console_platform.run(services, stdin, out, images_dir=tmp_path), timeout=10)
    return out.getvalue()


# --- console ---


async def test_console_transcribe_prints_the_transcript(
    ai: AIService, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    audio = wav_bytes()
    (tmp_path / "memo.wav").write_bytes(audio)
    fake_openai.transcript = "the quick brown fox"
    out = await run_console(
        Services(ai=ai, store=MemoryStore()), [f"/transcribe {tmp_path / 'memo.wav'}"], tmp_path
    )
    assert "Transcribing memo.wav…" in out
    assert "Transcript of memo.wav:\nthe quick brown fox" in out
    assert [u.data for u in fake_openai.uploads] == [audio]
    assert fake_openai.uploads[0].filename == "memo.wav"


async def test_console_refuses_a_missing_or_unsupported_file_without_reading_it(
    ai: AIService, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("not audio")
    lines = [f"/transcribe {tmp_path / 'notes.txt'}", f"/transcribe {tmp_path / 'gone.wav'}", "/transcribe"]
    out = await run_console(Services(ai=ai, store=MemoryStore()), lines, tmp_path)
    assert "I can't transcribe that file" in out
    assert "There is no readable file at" in out
    assert "Usage: /transcribe" in out
    assert not fake_openai.uploads


# --- Slack: the Transcribe message shortcut ---


@pytest.fixture
async def slack_bot() -> AsyncIterator[SlackBot]:
    async for started in start_bot():
        yield started


async def slack_file(bot: SlackBot, data: bytes, filename: str) -> dict[str, Any]:
    """A file a user shared in C1, as Slack describes it in a message's ``files``."""
    client = AsyncWebClient(token="xoxb-test", base_url=bot.slack.api_url)
    uploaded = await client.files_upload_v2(channel="C1", content=data, filename=filename)
    info = await client.files_info(file=uploaded["files"][0]["id"])
    return dict(info["file"])


async def shortcut(bot: SlackBot, files: list[dict[str, Any]], *, ts: str = "1700000000.000100") -> None:
    payload = {
        "type": "message_action",
        "token": "legacy",
        "callback_id": "transcribe",
        "trigger_id": uuid.uuid4().hex,
        "action_ts": f"{time.time():.6f}",
        "message_ts": ts,
        "team": {"id": bot.send.team, "domain": "fake"},
        "user": {"id": "U1", "name": "user-U1"},
        "channel": {"id": "C1", "name": "general"},
        "message": {"type": "message", "user": "U2", "ts": ts, "text": "listen", "files": files},
        "response_url": f"{bot.send.response_url_base}{uuid.uuid4().hex}",
    }
    status, _ = await bot.send.post(
        urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    )
    assert status == 200


async def test_slack_shortcut_transcribes_a_wav_into_the_messages_thread(slack_bot: SlackBot) -> None:
    audio = wav_bytes()
    file = await slack_file(slack_bot, audio, "memo.wav")
    slack_bot.openai.transcript = "meeting moved to friday"
    await shortcut(slack_bot, [file])
    posted = await until(
        lambda: [m for m in slack_bot.thread_messages() if "meeting moved to friday" in m.text]
    )
    assert posted[0].thread_ts == "1700000000.000100" and posted[0].channel == "C1"
    assert [u.data for u in slack_bot.openai.uploads] == [audio]
    download = slack_bot.slack.calls_to("download")
    assert len(download) == 1 and download[0].headers["Authorization"] == "Bearer xoxb-test"


async def test_slack_refuses_an_oversized_or_unsupported_file_privately_without_downloading(
    slack_bot: SlackBot,
) -> None:
    big = await slack_file(slack_bot, wav_bytes(0.05), "long.wav")
    await shortcut(slack_bot, [{**big, "size": MAX_AUDIO_BYTES + 1}])
    await until(lambda: any("too large" in c.args["text"] for c in slack_bot.private_messages()))
    notes = await slack_file(slack_bot, b"not audio", "notes.txt")
    await shortcut(slack_bot, [notes])
    await until(lambda: any("can't transcribe" in c.args["text"] for c in slack_bot.private_messages()))
    await shortcut(slack_bot, [])
    await until(lambda: any("no audio file" in c.args["text"] for c in slack_bot.private_messages()))
    assert not slack_bot.slack.calls_to("download") and not slack_bot.openai.uploads


async def test_slack_downloads_on_the_session_the_app_was_built_with() -> None:
    sent: list[URL] = []
    async with FakeSlackAPI() as slack, FakeOpenAI() as fake_ai, traced_session(sent) as session:
        async with openai_sdk.AsyncOpenAI(api_key="sk-test", base_url=fake_ai.url, max_retries=0) as oai:
            ai = AIService(oai, chat_model="m", image_model="i", system_prompt="s")
            async with serving(ai, slack, fake_ai, session, SlackPacer(min_interval=0.05)) as bot:
                file = await slack_file(bot, wav_bytes(), "memo.wav")
                fake_ai.transcript = "on the bot's own session"
                await shortcut(bot, [file])
                await until(lambda: [m for m in bot.thread_messages() if "own session" in m.text])
        assert len(slack.calls_to("download")) == 1
        assert [u for u in sent if u.path.startswith("/files-pri/")] == [URL(file["url_private"])]


# --- Discord: the Transcribe context menu ---

VOICE_MESSAGE = 1 << 13


@pytest_asyncio.fixture
async def discord_bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeDiscordAPI, FakeOpenAI]]:
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake_discord, services):
            yield fake_discord, fake_ai


async def test_discord_context_menu_transcribes_a_voice_message_in_a_reply(
    discord_bot: tuple[FakeDiscordAPI, FakeOpenAI],
) -> None:
    discord, openai = discord_bot
    synced = {c["name"]: c for c in discord.calls_to(PUT_GUILD_COMMANDS)[-1].json}
    assert synced["Transcribe"]["type"] == 3
    assert synced["Transcribe"]["name_localizations"]["ja"] == "文字起こし"
    voice = b"OggS" + bytes(200)  # the fake OpenAI hears any audio it is given
    target = discord.posted_with_files([("voice-message.ogg", voice, "audio/ogg")], flags=VOICE_MESSAGE)
    openai.transcript = "call me back after lunch"
    await discord.dispatch("INTERACTION_CREATE", discord.message_command("Transcribe", target))
    replies = await until(
        lambda: [m for m in discord.channel_messages(CHANNEL_ID) if "call me back after lunch" in m.content]
    )
    assert replies[0].message_reference and replies[0].message_reference["message_id"] == target
    assert [u.data for u in openai.uploads] == [voice] and openai.uploads[0].filename == "voice-message.ogg"
    assert len(discord.downloads) == 1
    await until(lambda: not [m for m in discord.channel_messages(CHANNEL_ID) if m.content.startswith("⏳")])


async def test_discord_refuses_an_unsupported_file_privately_without_downloading(
    discord_bot: tuple[FakeDiscordAPI, FakeOpenAI],
) -> None:
    discord, openai = discord_bot
    target = discord.posted_with_files([("notes.txt", b"not audio", "text/plain")])
    await discord.dispatch("INTERACTION_CREATE", discord.message_command("Transcribe", target))
    private = await until(lambda: [m for m in discord.channel_messages(CHANNEL_ID) if m.ephemeral])
    assert "can't transcribe" in private[0].content
    assert not openai.uploads and not discord.downloads


def voice_messages(discord: FakeDiscordAPI, count: int) -> list[str]:
    """``count`` voice messages in the channel, each with its own bytes."""
    return [
        discord.posted_with_files(
            [(f"voice-{n}.ogg", b"OggS" + bytes([n]) * 200, "audio/ogg")], flags=VOICE_MESSAGE
        )
        for n in range(count)
    ]


def replies_saying(discord: FakeDiscordAPI, transcript: str) -> list[str]:
    return [
        m.content
        for m in discord.channel_messages(CHANNEL_ID)
        if m.message_reference and transcript in m.content
    ]


def attachment_ids(sent: list[URL]) -> list[str]:
    """The attachments fetched, from their CDN paths (``/attachments/{channel}/{id}/{filename}``)."""
    return sorted(u.parts[3] for u in sent if u.path.startswith("/attachments/"))


async def test_discord_transcriptions_all_download_on_the_one_session_the_app_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[URL] = []
    async with FakeDiscordAPI() as discord, FakeOpenAI() as openai, traced_session(sent) as downloads:
        discord.patch_discord(monkeypatch)
        async with openai_services(openai, MemoryStore()) as services, running(discord, services, downloads):
            openai.transcript = "heard on the shared session"
            for target in voice_messages(discord, 3):
                await discord.dispatch("INTERACTION_CREATE", discord.message_command("Transcribe", target))
            await until(lambda: len(replies_saying(discord, "heard on the shared session")) == 3)
        assert not downloads.closed  # the app leaves closing to the session's owner
    assert len(discord.downloads) == 3 and attachment_ids(sent) == sorted(discord.downloads)
    assert len(openai.uploads) == 3


async def test_python_m_bot_discord_downloads_on_one_session_it_closes_after_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot import __main__ as entry

    given: list[aiohttp.ClientSession] = []
    open_when_app_closed: list[bool] = []

    class Observed(discord_app.DiscordApp):
        def __init__(self, services: Services, downloads: aiohttp.ClientSession, **options: Any) -> None:
            given.append(downloads)
            super().__init__(services, downloads, **options)

        async def close(self) -> None:
            await super().close()  # answers in progress finish first, on the session
            open_when_app_closed.append(not given[-1].closed)

    monkeypatch.setattr(discord_app, "DiscordApp", Observed)
    async with FakeDiscordAPI() as discord, FakeOpenAI() as openai:
        discord.patch_discord(monkeypatch)
        for name, value in {
            "STORE_URL": "memory://",
            "DISCORD_TOKEN": discord.token,
            "DISCORD_GUILD_ID": GUILD_ID,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": openai.url,
        }.items():
            monkeypatch.setenv(name, value)
        settings = entry.Settings.from_env()
        serving_bot = asyncio.create_task(entry.serve(settings, ["discord"], entry.parse_args(["discord"])))
        try:
            await discord.wait_for_ready(timeout=10)
            await until(lambda: discord.calls_to(PUT_GUILD_COMMANDS), timeout=5)
            openai.transcript = "one session for every download"
            for target in voice_messages(discord, 2):
                await discord.dispatch("INTERACTION_CREATE", discord.message_command("Transcribe", target))
            await until(
                lambda: len(replies_saying(discord, "one session for every download")) == 2, timeout=5
            )
            assert len(given) == 1 and not given[0].closed
        finally:
            serving_bot.cancel()
            await asyncio.gather(serving_bot, return_exceptions=True)
        assert len(discord.downloads) == 2
    assert given[0].closed and open_when_app_closed and all(open_when_app_closed)


async def test_slack_stops_a_download_that_runs_past_the_limit_whatever_the_file_declared(
    slack_bot: SlackBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transcribe_handler, "MAX_AUDIO_BYTES", 1000)
    file = await slack_file(slack_bot, wav_bytes(0.5), "memo.wav")  # 16 KB, declared as 10 bytes
    await shortcut(slack_bot, [{**file, "size": 10}])
    await until(lambda: any("too large" in c.args["text"] for c in slack_bot.private_messages()))
    assert len(slack_bot.slack.calls_to("download")) == 1 and not slack_bot.openai.uploads


# --- the handler alone ---


async def test_a_long_transcript_is_split_and_an_empty_one_said_so(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    services = Services(ai=ai, store=MemoryStore())

    async def fetch(limit: int) -> bytes:
        return wav_bytes(0.2)

    request = TranscribeRequest("memo.wav", "audio/wav", None, fetch)
    fake_openai.transcript = "word " * 1000
    reply = RecordingReply()
    await TRANSCRIBE(request, cmd(""), reply, services)
    parts = [str(v) for v in reply.values("text")]
    assert reply.kinds()[:2] == ["progress", "progress_done"] and len(parts) >= 3
    assert all(len(p) <= transcribe_handler.PART_CHARS for p in parts)
    assert sum(p.count("word") for p in parts) == 1000
    fake_openai.transcript = "   "
    quiet = RecordingReply()
    await TRANSCRIBE(request, cmd(""), quiet, services)
    assert quiet.values("text") == ["I heard no speech in memo.wav."]
