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

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bot import console as console_platform
from core.ai import AIService
from core.audio import MAX_AUDIO_BYTES
from core.store.memory import MemoryStore
from handlers import transcribe as transcribe_handler
from handlers.port import Services
from handlers.registry import TRANSCRIBE
from handlers.transcribe import TranscribeRequest
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CHANNEL_ID, PUT_GUILD_COMMANDS
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply, cmd
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot
from tests.test_transcription import wav_bytes


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
