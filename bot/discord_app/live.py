"""Answers shown while they are generated, on Discord: the shared engine's Discord side.

The first message of an answer is the interaction's own response (deferred at
once, then edited); text past Discord's 2,000 characters continues in follow-up
messages. An interaction's token lives 15 minutes: a message still being
written after that continues as a plain channel message. A reply to an answer
has no interaction: its answer's messages are replies to the user's message
(:mod:`bot.discord_app.message_reply`). Either way the messages go through a
:class:`Sink`. discord.py waits out each route bucket itself (it reads
``X-RateLimit-*``), so the pacer here only spaces one message's edits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

import discord

from bot.live_stream import LiveMessage

LIMIT = 2_000
"""Characters per Discord message."""
EDIT = "edit"


class DiscordPacer:
    """Discord's buckets are kept by discord.py; this only says how far apart one message's edits are."""

    def __init__(self, min_interval: float = 1.0) -> None:
        self.min_interval = min_interval

    async def turn(self, kind: str) -> None:
        """No budget of ours: discord.py waits for a bucket before each request."""

    @contextlib.contextmanager
    def prepaid(self, kind: str) -> Iterator[None]:
        yield


class Sink(Protocol):
    """Where an answer's messages go: an interaction's :class:`Outlet`, or replies to a user's message."""

    async def send(self, content: str | None) -> discord.Message:
        """Post a new message."""

    async def edit(self, message: discord.Message, content: str | None) -> discord.Message:
        """Rewrite ``message`` (or continue it elsewhere); return the message now showing it."""

    def answered(self, message: discord.Message) -> None:
        """``message`` ends one part of an answer: it is one to link to the conversation."""


def answer_ref(channel_id: int, message_id: int) -> str:
    """How the store knows an answer's message: the same for the message we sent and a reply to it."""
    return f"{channel_id}:{message_id}"


class DiscordMessage:
    """One message of an answer, rewritten whole at each edit."""

    edit_turn = finish_turn = EDIT
    finish_at_once = True  # the last edit need not wait out the spacing: one more within the bucket

    def __init__(self, outlet: Sink) -> None:
        self._outlet = outlet
        self._message: discord.Message | None = None
        self._shown = ""
        self.sent = 0

    async def show(self, raw: str, *, final: bool) -> None:
        if self._message is None:
            self._message = await self._outlet.send(raw)
        elif raw != self._shown:
            self._message = await self._outlet.edit(self._message, raw)
        self._shown = raw
        if final:
            self._outlet.answered(self._message)


class DiscordAnswer:
    """One answer's place on Discord, as the live-stream engine sees it."""

    cut_reason = "discord_cut"

    def __init__(self, outlet: Sink) -> None:
        self._outlet = outlet

    async def opening_turn(self, *, finished: bool) -> str:
        return EDIT

    def limit(self, raw: str, opening: str, message: LiveMessage | None) -> int:
        return LIMIT

    async def open(self, raw: str, *, final: bool, opening: str) -> LiveMessage:
        message = DiscordMessage(self._outlet)
        await message.show(raw, final=final)
        return message
