"""Where one interaction's messages go: its response, then follow-ups, then the channel.

A command is deferred at once (Discord shows "thinking…"); the first message it
sends replaces that deferred response, later ones are follow-ups. The
interaction's token lives 15 minutes: after that, messages go to the channel
as the bot's own. Nothing pings anyone: every message carries
``AllowedMentions.none()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import discord

TOKEN_LIFETIME = 15 * 60.0
"""Seconds an interaction's token may be used for webhook calls."""
TOKEN_MARGIN = 30.0
"""Stop using a token this long before it expires, so no call lands on an expired one."""
NO_PINGS = discord.AllowedMentions.none()
_log = logging.getLogger(__name__)


class Outlet:
    """Sends and edits the messages of one interaction."""

    def __init__(self, interaction: discord.Interaction, *, clock: Callable[[], float] = time.time) -> None:
        self.interaction = interaction
        self._clock = clock
        self.original_used = interaction.type is discord.InteractionType.component
        """A component's response is the message it sits on: never replaced by a new message."""
        self.answers: list[discord.Message] = []
        """The messages that ended an answer (for conversation links)."""

    def expired(self) -> bool:
        """Whether the interaction's token is (about to be) too old for webhook calls."""
        age = self._clock() - self.interaction.created_at.timestamp()
        return age > TOKEN_LIFETIME - TOKEN_MARGIN

    async def send(
        self, content: str | None = None, *, files: list[discord.File] | None = None, **fields: Any
    ) -> discord.Message:
        """A new visible message: the deferred response first, then follow-ups, then the channel."""
        if files:
            fields["attachments" if self._replaces_response() else "files"] = files
        if self.expired():
            return await self._channel().send(content, allowed_mentions=NO_PINGS, **fields)
        if self._replaces_response():
            self.original_used = True
            return await self.interaction.edit_original_response(
                content=content, allowed_mentions=NO_PINGS, **fields
            )
        return await self.interaction.followup.send(
            content or discord.utils.MISSING, wait=True, allowed_mentions=NO_PINGS, **fields
        )

    def _replaces_response(self) -> bool:
        return not self.original_used and self.interaction.response.is_done() and not self.expired()

    async def edit(self, message: discord.Message, content: str | None, **fields: Any) -> discord.Message:
        """``message`` with new content; past the token's life, its continuation in the channel."""
        if self.expired() and isinstance(message, (discord.WebhookMessage, discord.InteractionMessage)):
            attachments = fields.pop("attachments", None)
            if attachments:
                fields["files"] = attachments
            return await self._channel().send(content, allowed_mentions=NO_PINGS, **fields)
        edited = await message.edit(content=content, allowed_mentions=NO_PINGS, **fields)
        return edited or message

    async def send_private(self, text: str, view: discord.ui.View | None = None) -> None:
        """A message only the user who asked sees (with ``view``'s buttons under it, if given)."""
        fields: dict[str, Any] = {"view": view} if view is not None else {}
        if not self.interaction.response.is_done():
            await self.interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=NO_PINGS, **fields
            )
        elif self.expired():
            _log.warning("a private message came after the interaction's token expired; dropped")
        else:
            await self.tidy()  # a follow-up to a "thinking…" response would replace it, in public
            await self.interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_PINGS, **fields)

    def answered(self, message: discord.Message) -> None:
        self.answers.append(message)

    async def tidy(self) -> None:
        """Remove a deferred response nothing replaced (its "thinking…" would stay forever)."""
        if self.interaction.response.is_done() and not self.original_used and not self.expired():
            self.original_used = True
            try:
                await self.interaction.delete_original_response()
            except discord.HTTPException:  # tidying must not hide what went wrong before it
                _log.warning("could not remove a deferred response", exc_info=True)

    def _channel(self) -> discord.abc.Messageable:
        channel = self.interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            raise TypeError("the interaction's channel cannot take messages")
        return channel
