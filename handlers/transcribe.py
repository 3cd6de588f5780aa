"""Transcribe: turn an audio file a user points at into text, posted where they asked.

The adapters find the file (a Slack message's audio clip, a Discord attachment or voice
message, a local path in the console) and describe it as a :class:`TranscribeRequest`:
what the platform declares of it, and a way to download it with the platform's
credentials. The file is judged from that description before a byte is downloaded, so an
unsupported or oversized file costs nothing and gets a private message
(:class:`~core.errors.UserInputError`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.audio import MAX_AUDIO_BYTES, Transcript, upload_name
from core.errors import UserInputError
from core.messages import text
from core.store.activity import Usage
from core.text import split_message
from handlers import admission, logbook
from handlers.port import Command, Reply, Services
from handlers.text_input import shown

Fetch = Callable[[int], Awaitable[bytes]]
"""Downloads the file, refusing (``audio_too_large``) one longer than the given byte count."""

SHOWN_NAME_CHARS = 100
PART_CHARS = 1900
"""The most one message of a transcript holds: under Discord's 2,000, far under Slack's limit."""


@dataclass(frozen=True)
class TranscribeRequest:
    """An audio file as its platform declares it (``None``: not said), and how to fetch it."""

    name: str
    mime: str | None
    size: int | None
    fetch: Fetch


async def transcribe(request: TranscribeRequest, command: Command, reply: Reply, services: Services) -> None:
    """Check the file, download it, transcribe it with one OpenAI slot, and post the text.

    The tokens it used count in the user's month (``/usage``), as the model's that transcribed it,
    whatever it heard, once the text is posted (a store that fails then loses the count, not the
    transcript); the command log (``/history``) keeps ``/ask``, ``/draw`` and janken, not transcripts.
    """
    services.ai.check()
    filename = upload_name(request.name, request.mime, request.size)
    name = shown(request.name, SHOWN_NAME_CHARS)
    async with reply.progress(text("transcribing", command.locale, name=name)):
        audio = await request.fetch(MAX_AUDIO_BYTES)
        if not audio:
            raise UserInputError("audio_too_short")
        async with admission.queued(command, reply, services):
            transcript = await services.ai.transcribe(audio, filename)
    said = transcript.text.strip()
    if said:
        for part in split_message(text("transcript", command.locale, name=name, text=said), PART_CHARS):
            await reply.post_text(part)
    else:
        await reply.post_text(text("transcript_empty", command.locale, name=name))
    await logbook.add_usage(command, services, _usage(transcript), model=transcript.model)


def _usage(transcript: Transcript) -> Usage:
    """The tokens a transcription used; none for a model billed by the audio's duration, which the
    month's totals have no place for."""
    return Usage(transcript.input_tokens or 0, transcript.output_tokens or 0)
