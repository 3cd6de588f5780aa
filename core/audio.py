"""Which audio files OpenAI's transcription endpoint takes, and the transcript it gives back.

The formats and the limit are OpenAI's (the speech-to-text guide): it decides by the
file's extension, and refuses a request body over 25 MiB with 413. A file is checked
here, from what the platform declares of it (name, MIME type, size), before a byte of
it is downloaded; :func:`upload_name` also gives the name to send, since an audio clip
may have no extension of its own (Slack's "Audio clip", a voice message).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import UserInputError

MAX_AUDIO_BYTES = 25 * 1024 * 1024
"""OpenAI's upload limit for one transcription request: 26,214,400 bytes."""

AUDIO_TYPES: Mapping[str, tuple[str, ...]] = {
    "flac": ("audio/flac", "audio/x-flac"),
    "m4a": ("audio/mp4", "audio/m4a", "audio/x-m4a"),
    "mp3": ("audio/mpeg", "audio/mp3"),
    "mp4": ("video/mp4", "audio/mp4"),
    "mpeg": ("video/mpeg", "audio/mpeg"),
    "mpga": ("audio/mpeg",),
    "ogg": ("audio/ogg", "audio/opus", "application/ogg"),
    "oga": ("audio/ogg",),
    "wav": ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave"),
    "webm": ("audio/webm", "video/webm"),
}
"""Every extension OpenAI transcribes, with the MIME types that mean it; the first is the one to send.

Where two extensions share a MIME type, the first listed is the one it maps back to.
"""

AUDIO_EXTENSION_BY_MIME: Mapping[str, str] = {
    mime: extension for extension, mimes in reversed(list(AUDIO_TYPES.items())) for mime in mimes
}
"""A supported extension for each MIME type, for a file whose name has none we know."""


@dataclass(frozen=True)
class Transcript:
    """What the audio said, and what it cost.

    OpenAI bills some models by the audio's duration (``seconds``) and others by tokens;
    whichever the answer reports is set, the other left ``None``.
    """

    text: str
    model: str
    seconds: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


def audio_extension(name: str) -> str | None:
    """The supported extension of file ``name`` (lower case, no dot), or ``None``."""
    stem, dot, extension = name.rpartition(".")
    extension = extension.lower()
    return extension if dot and stem and extension in AUDIO_TYPES else None


def upload_mime(name: str) -> str:
    """The MIME type to send with file ``name``, one of :func:`upload_name`'s results."""
    extension = audio_extension(name)
    return AUDIO_TYPES[extension][0] if extension else "application/octet-stream"


def upload_name(name: str, mime: str | None = None, size: int | None = None) -> str:
    """The name to upload a file as, if OpenAI can transcribe it; :class:`UserInputError` if not.

    ``name``, ``mime`` and ``size`` are what the platform declares (``None`` when it does
    not say). The extension decides; a name without a supported one is given the
    extension its MIME type means (``audio/ogg; codecs=opus`` -> ``.ogg``). An empty file
    is too short; one over :data:`MAX_AUDIO_BYTES` too large.
    """
    upload = name if audio_extension(name) else _named_by_mime(name, mime)
    if upload is None:
        raise unsupported_audio()
    if size is not None and size > MAX_AUDIO_BYTES:
        raise audio_too_large()
    if size == 0:
        raise UserInputError("audio_too_short")
    return upload


def unsupported_audio() -> UserInputError:
    """The error for a file OpenAI cannot transcribe, naming the formats it can."""
    return UserInputError("audio_unsupported", formats=", ".join(sorted(AUDIO_TYPES)))


def audio_too_large(limit: int = MAX_AUDIO_BYTES) -> UserInputError:
    """The error for a file over ``limit`` bytes."""
    return UserInputError("audio_too_large", limit=describe_size(limit))


def describe_size(size: int) -> str:
    """A byte count as people read it: ``25 MB``, ``64 KB``, ``900 bytes`` (binary multiples)."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{round(size / scale, 1):g} {unit}"
    return f"{size} bytes"


def _named_by_mime(name: str, mime: str | None) -> str | None:
    essence = (mime or "").partition(";")[0].strip().lower()
    extension = AUDIO_EXTENSION_BY_MIME.get(essence)
    if extension is None:
        return None
    return f"{name.rstrip('.') or 'audio'}.{extension}"
