"""Transcribe on Discord: a message's audio attachment (a voice message too), transcribed in a reply to it.

A voice message is a message with the ``IS_VOICE_MESSAGE`` flag and one OGG/Opus
attachment (``audio/ogg``); any other attachment Discord declares as audio is taken
too. Attachments are fetched from Discord's CDN only (:func:`file_hosts`); their URLs
are signed, so no token is sent. The transcript is posted as a reply to the message; the
progress line is the command's own response, removed once the reply is there.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

import aiohttp
import discord
from yarl import URL

from bot.discord_app.message_reply import Replies, shown_while_working
from bot.discord_app.outlet import Outlet
from bot.downloads import fetch_limited
from core.ai import GeneratedImage
from core.errors import UserInputError
from core.messages import text
from handlers.port import GameView, PageButton, Reply
from handlers.transcribe import TranscribeRequest

_log = logging.getLogger(__name__)
DISCORD_FILE_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})


def file_hosts(api_base: str) -> frozenset[str]:
    """Discord's CDN hosts, and the API's own host when it is not Discord's (a test's fake)."""
    host = (URL(api_base).host or "").lower()
    if host in ("", "discord.com") or host.endswith(".discord.com"):
        return DISCORD_FILE_HOSTS
    return DISCORD_FILE_HOSTS | {host}


def audio_of(
    message: discord.Message, session: aiohttp.ClientSession, hosts: frozenset[str]
) -> TranscribeRequest:
    """The message's audio attachment (else its first, to be refused by name); ``no_audio`` if none.

    It is fetched on ``session``, the app's (the composition root's), only when the handler asks.
    """
    if not message.attachments:
        raise UserInputError("no_audio")
    voice = message.flags.voice
    chosen = next(
        (a for a in message.attachments if voice or (a.content_type or "").startswith("audio/")),
        message.attachments[0],
    )
    url = chosen.url

    async def fetch(max_bytes: int) -> bytes:
        return await fetch_limited(session, url, allowed_hosts=hosts, max_bytes=max_bytes)

    return TranscribeRequest(chosen.filename, chosen.content_type, chosen.size, fetch)


class ReplyToMessage:
    """The interaction's Reply (``inner``), but its text goes as replies to one message.

    Where the bot cannot post in the channel (a user install, no permission), the text
    goes in the command's response instead.
    """

    def __init__(self, target: discord.Message, outlet: Outlet, inner: Reply, locale: str) -> None:
        self._replies = Replies(target)
        self._outlet = outlet
        self._inner = inner
        self._locale = locale

    async def post_text(self, message: str) -> None:
        try:
            await self._replies.send(message)
        except discord.Forbidden:
            _log.info(
                "cannot reply in channel %s; answering in the response", self._replies.message.channel.id
            )
            await self._inner.post_text(message)

    async def send_private(self, message: str) -> None:
        await self._inner.send_private(message)

    async def send_private_page(self, message: str, buttons: Sequence[PageButton]) -> None:
        await self._inner.send_private_page(message, buttons)

    async def start_thread(self, title: str) -> str:
        return await self._inner.start_thread(title)

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        return await self._inner.stream_text(thread, deltas)

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        return await self._inner.post_image(image, caption)

    async def show_game(self, view: GameView, *, edit_clicked: bool = False) -> str:
        return await self._inner.show_game(view, edit_clicked=edit_clicked)

    @contextlib.asynccontextmanager
    async def progress(self, message: str) -> AsyncIterator[None]:
        """The status line in the command's response, removed when the work ends either way."""
        async with shown_while_working(self._outlet.send(text("progress", self._locale, message=message))):
            yield
