"""Transcribe on Slack: the audio file of a message a shortcut names, downloaded with the bot's token.

A message's ``files`` carry what Slack declares of each file (name, ``mimetype``, ``size``)
and its private download URL, which needs the bot token (scope ``files:read``). A file
Slack shows only partly (``file_access: check_file_info``) is looked up with ``files.info``.
The token is sent only to Slack's file host (:func:`file_hosts`).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from yarl import URL

from bot.downloads import fetch_limited
from bot.slack_app.reply import slack_errors
from core.errors import UserInputError
from handlers.transcribe import TranscribeRequest

SLACK_FILE_HOST = "files.slack.com"
_AUDIO_SUBTYPES = frozenset({"slack_audio"})


def file_hosts(api_url: str) -> frozenset[str]:
    """Where Slack's files live: ``files.slack.com``, or beside another API host (GovSlack, a test's)."""
    host = (URL(api_url).host or "").lower()
    if host in ("", "slack.com"):
        return frozenset({SLACK_FILE_HOST})
    return frozenset({SLACK_FILE_HOST, f"files.{host}", host})


async def audio_of(
    message: dict[str, Any], client: AsyncWebClient, session: aiohttp.ClientSession, hosts: frozenset[str]
) -> TranscribeRequest:
    """The message's audio file (else its first file, to be refused by name); ``no_audio`` if none.

    It is looked up with ``client`` and downloaded on ``session`` (the composition root's).
    """
    files = [f for f in message.get("files") or () if isinstance(f, dict)]
    if not files:
        raise UserInputError("no_audio")
    chosen = next((f for f in files if _is_audio(f)), files[0])
    if chosen.get("file_access") == "check_file_info" or not _url(chosen):
        with slack_errors():
            info = await client.files_info(file=str(chosen.get("id") or ""))
        chosen = info.get("file") or {}
    url = _url(chosen)
    if not url:
        raise UserInputError("no_audio")
    size = chosen.get("size")
    headers = {"Authorization": f"Bearer {client.token}"}

    async def fetch(max_bytes: int) -> bytes:
        return await fetch_limited(session, url, allowed_hosts=hosts, max_bytes=max_bytes, headers=headers)

    return TranscribeRequest(
        str(chosen.get("name") or chosen.get("title") or "audio"),
        str(chosen.get("mimetype") or "") or None,
        size if isinstance(size, int) and not isinstance(size, bool) else None,
        fetch,
    )


def _is_audio(file: dict[str, Any]) -> bool:
    return file.get("subtype") in _AUDIO_SUBTYPES or str(file.get("mimetype") or "").startswith("audio/")


def _url(file: dict[str, Any]) -> str:
    url = file.get("url_private_download") or file.get("url_private")
    return url if isinstance(url, str) else ""
