"""A running Discord bot for tests: the real DiscordApp (discord.py) against the fake Discord and OpenAI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai

from bot.discord_app.app import DiscordApp
from bot.discord_app.live import DiscordPacer
from core.ai import AIService
from core.store.base import Store
from handlers.port import Services
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import GUILD_ID
from tests.fakes.openai_server import FakeOpenAI


@contextlib.asynccontextmanager
async def openai_services(fake_ai: FakeOpenAI, store: Store) -> AsyncIterator[Services]:
    """The real AIService on the fake OpenAI, with ``store``."""
    async with openai.AsyncOpenAI(api_key="sk-test", base_url=fake_ai.url, max_retries=0) as client:
        yield Services(ai=AIService(client, chat_model="m", image_model="i", system_prompt="s"), store=store)


@contextlib.asynccontextmanager
async def running(
    fake: FakeDiscordAPI, services: Services, downloads: aiohttp.ClientSession | None = None, **options: Any
) -> AsyncIterator[DiscordApp]:
    """A connected DiscordApp (``options`` go to it, e.g. ``clock``), closed with its work drained on exit.

    Attachments are downloaded on ``downloads`` (else a session of the harness's own,
    closed after the app, as the composition root does).
    """
    async with contextlib.AsyncExitStack() as stack:
        if downloads is None:
            downloads = await stack.enter_async_context(aiohttp.ClientSession())
        app = DiscordApp(
            services,
            downloads,
            guild_id=int(GUILD_ID),
            pacer=DiscordPacer(min_interval=0.05),
            guild_ready_timeout=0.01,
            **options,
        )
        await app.login(fake.token)
        connecting = asyncio.create_task(app.connect())
        try:
            await fake.wait_for_ready()
            await asyncio.wait_for(app.wait_until_ready(), 5)  # this client's own session, not an older one
            yield app
        finally:
            await app.close()
            await asyncio.wait_for(connecting, 10)
