"""Answers shown while they are generated, on Discord: the shared engine's Discord side.

The first message of an answer is the interaction's own response (deferred at
once, then edited); text past Discord's 2,000 characters continues in follow-up
messages. An interaction's token lives 15 minutes: a message still being
written after that continues as a plain channel message. discord.py waits out
each route bucket itself (it reads ``X-RateLimit-*``), so the pacer here only
spaces one message's edits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import discord

from bot.discord_app.outlet import Outlet
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


class DiscordMessage:
    """One message of an answer, rewritten whole at each edit."""

    edit_turn = finish_turn = EDIT
    finish_at_once = False

    def __init__(self, outlet: Outlet) -> None:
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

    def __init__(self, outlet: Outlet) -> None:
        self._outlet = outlet

    async def opening_turn(self, *, finished: bool) -> str:
        return EDIT

    def limit(self, raw: str, opening: str, message: LiveMessage | None) -> int:
        return LIMIT

    async def open(self, raw: str, *, final: bool, opening: str) -> LiveMessage:
        message = DiscordMessage(self._outlet)
        await message.show(raw, final=final)
        return message
