"""The Reply port for a Discord message: everything the bot says is a reply to that message.

A reply to one of the bot's answers is a plain message, with no interaction to
respond through. So its answer is a reply to it in its channel, streamed by
posting and editing channel messages (text past 2,000 characters continues in
further replies), and, as Discord has no private message outside an
interaction, a note for its author (a usage line, an error) is a short reply too.
Nothing pings anyone, not even the author replied to: every message carries
``AllowedMentions.none()``.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import discord

from bot.discord_app import render
from bot.discord_app.live import DiscordAnswer, DiscordPacer, answer_ref
from bot.discord_app.outlet import NO_PINGS
from bot.discord_app.reply import board_ref
from bot.live_stream import LiveStream
from core.ai import GeneratedImage
from core.messages import text
from handlers.port import GameView, PageButton

_log = logging.getLogger(__name__)


class Replies:
    """Sends replies to one user message; keeps those that carry an answer."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message
        self.answers: list[discord.Message] = []
        # a reply to a message deleted meanwhile is posted as a plain message instead of failing
        self._reference = message.to_reference(fail_if_not_exists=False)

    async def send(self, content: str | None = None, **fields: Any) -> discord.Message:
        return await self.message.channel.send(
            content, reference=self._reference, allowed_mentions=NO_PINGS, **fields
        )

    async def edit(self, message: discord.Message, content: str | None) -> discord.Message:
        return await message.edit(content=content, allowed_mentions=NO_PINGS)

    def answered(self, message: discord.Message) -> None:
        self.answers.append(message)


class MessageReply:
    """Talks back to one user message (a reply to one of the bot's answers)."""

    def __init__(self, message: discord.Message, pacer: DiscordPacer, locale: str = "en") -> None:
        self._replies = Replies(message)
        self._pacer = pacer
        self._locale = locale

    async def post_text(self, message: str) -> None:
        await self._replies.send(message)

    async def send_private(self, message: str) -> None:
        """No private message exists outside an interaction: a short reply, pinging no one."""
        await self._replies.send(message)

    async def send_private_page(self, message: str, buttons: Sequence[PageButton]) -> None:
        """A reply, as :meth:`send_private`; each button shown as the command that does the same."""
        typed = [text("button_typed", self._locale, label=b.label, typed=b.typed) for b in buttons]
        await self._replies.send("\n".join([message, *typed]))

    async def start_thread(self, title: str) -> str:
        """The replies are the thread: it is named after the message they answer."""
        return str(self._replies.message.id)

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        """The answer in replies to the message; returns their refs, for replies to continue it."""
        await LiveStream(DiscordAnswer(self._replies), self._pacer, locale=self._locale).run(deltas)
        return [answer_ref(m.channel.id, m.id) for m in self._replies.answers]

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        upload = discord.File(io.BytesIO(image.data), filename=image.filename(caption))
        posted = await self._replies.send(caption, file=upload)
        return posted.attachments[0].url if posted.attachments else ""

    async def show_game(self, view: GameView, *, edit_clicked: bool = False) -> str:
        """A new board: a message is no click, so there is no board to edit."""
        owner = str(self._replies.message.author.id)
        embed = render.game_embed(view, self._locale)
        buttons = render.board(view, owner, self._locale)
        board = await self._replies.send(
            None, embed=embed, view=buttons, files=render.card_files(view) or None
        )
        return board_ref(board.channel.id, board.id)

    @contextlib.asynccontextmanager
    async def progress(self, message: str) -> AsyncIterator[None]:
        """A status reply, deleted when the work ends (however it ends)."""
        async with shown_while_working(self._replies.send(text("progress", self._locale, message=message))):
            yield


@contextlib.asynccontextmanager
async def shown_while_working(sent: Awaitable[discord.Message]) -> AsyncIterator[None]:
    """A status message (``sent``) while the work runs, deleted when it ends, however it ends; a
    failed delete is logged, not raised: it is cosmetic and must not hide the work's own outcome."""
    status = await sent
    try:
        yield
    finally:
        try:
            await status.delete()
        except discord.HTTPException:
            _log.warning("could not delete a progress message", exc_info=True)
