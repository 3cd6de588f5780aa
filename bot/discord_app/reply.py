"""The Reply port on Discord: answers, images, game boards and private notes for one interaction."""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Sequence
from typing import Any

import discord

from bot.discord_app import render
from bot.discord_app.buttons import page_view
from bot.discord_app.live import DiscordAnswer, DiscordPacer, answer_ref
from bot.discord_app.outlet import Outlet
from bot.live_stream import LiveStream
from core.ai import GeneratedImage
from core.imaging import fit_image
from core.messages import text
from handlers.port import GameView, PageButton


class DiscordReply:
    """Talks back through one interaction (a slash command or a button click)."""

    def __init__(self, outlet: Outlet, pacer: DiscordPacer, locale: str = "en") -> None:
        self._outlet = outlet
        self._pacer = pacer
        self._locale = locale
        self._progress: discord.Message | None = None

    async def post_text(self, message: str) -> None:
        await self._send(message)

    async def send_private(self, message: str) -> None:
        await self._outlet.send_private(message)

    async def send_private_page(self, message: str, buttons: Sequence[PageButton]) -> None:
        await self._outlet.send_private(message, view=page_view(buttons) if buttons else None)

    async def start_thread(self, title: str) -> str:
        """On Discord the command itself shows the question and the answer is its response:
        the conversation is named after the interaction."""
        return str(self._outlet.interaction.id)

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        """The answer in the response (and follow-ups); returns their refs, for replies to continue it."""
        await self._clear_progress()
        shown = len(self._outlet.answers)
        await LiveStream(DiscordAnswer(self._outlet), self._pacer, locale=self._locale).run(deltas)
        return [answer_ref(m.channel.id, m.id) for m in self._outlet.answers[shown:]]

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        """The image as an attached file, re-encoded in a worker thread if it passes the upload limit."""
        limit = self._outlet.interaction.filesize_limit
        try:
            fitted = await asyncio.to_thread(fit_image, image.data, limit, image.mime)
        except BaseException:
            await self._clear_progress()  # nothing will replace it
            raise
        image = GeneratedImage(fitted.data, fitted.mime)  # the file name's extension follows the type
        upload = discord.File(io.BytesIO(image.data), filename=image.filename(caption))
        posted = await self._send(caption, files=[upload])
        return posted.attachments[0].url if posted.attachments else ""

    async def show_game(self, view: GameView, *, edit_clicked: bool = False) -> str:
        interaction = self._outlet.interaction
        embed = render.game_embed(view, self._locale)
        buttons = render.board(view, str(interaction.user.id), self._locale)
        files = render.card_files(view)
        board: discord.Message
        if edit_clicked and interaction.type is discord.InteractionType.component:
            attachments = files or discord.utils.MISSING  # the new card replaces the old one
            board = await interaction.edit_original_response(
                embed=embed, view=buttons, attachments=attachments
            )
        else:
            board = await self._send(None, files=files or None, embed=embed, view=buttons)
        # an interaction may come without its channel object; its channel id is always there
        channel_id = board.channel.id if board.channel is not None else interaction.channel_id
        return board_ref(channel_id or 0, board.id)

    @contextlib.asynccontextmanager
    async def progress(self, message: str) -> AsyncIterator[None]:
        """A status line in the response, replaced by what comes next or removed on failure."""
        self._progress = await self._send(text("progress", self._locale, message=message))
        try:
            yield
        except BaseException:
            await self._clear_progress()
            raise

    async def _send(
        self, content: str | None, *, files: list[discord.File] | None = None, **fields: Any
    ) -> discord.Message:
        """A new message, or the progress line replaced by it."""
        if self._progress is not None:
            progress, self._progress = self._progress, None
            attachments = files or discord.utils.MISSING
            try:
                return await self._outlet.edit(progress, content, attachments=attachments, **fields)
            except Exception:
                self._progress = progress
                await self._clear_progress()  # nothing half-done: the progress line goes too
                raise
        return await self._outlet.send(content, files=files, **fields)

    async def _clear_progress(self) -> None:
        if self._progress is not None:
            progress, self._progress = self._progress, None
            await progress.delete()


def board_ref(channel_id: int, message_id: int) -> str:
    """How the store knows a board message: the same for the message we sent and a click on it."""
    return f"{channel_id}:{message_id}"
