"""The composition root: ``python -m bot [console|slack|discord]``.

Reads the settings, opens the clients (store, OpenAI, HTTP sessions) and closes
them on the way out; nothing else in the project creates a client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from typing import cast

import aiohttp
import openai

from bot import console
from bot.config import ConfigError, Settings, configure_logging, redacted, require
from core.ai import AIService, DisabledAI
from core.errors import BotError
from core.slots import Slots
from core.store import open_store
from handlers.port import Accounting, AIPort, JankenRules, Limits, Moderation, Services

_log = logging.getLogger("bot")
PLATFORMS = ("console", "slack", "discord")
DEFAULT_PORT = 3000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Team chat bot: /ask, /draw, /janken.")
    parser.add_argument(
        "platform", nargs="?", choices=PLATFORMS, help="default: every platform with credentials"
    )
    parser.add_argument("--http", action="store_true", help="slack: serve HTTP instead of Socket Mode")
    parser.add_argument("--port", type=int, help="slack --http: port (default $PORT, else 3000)")
    return parser.parse_args(argv)


def chosen_platforms(requested: str | None, settings: Settings) -> list[str]:
    """The platforms to start: the one asked for, else those with credentials, else the console."""
    if requested:
        return [requested]
    found = ["slack"] if settings.slack_bot_token else []
    if settings.discord_token:
        found.append("discord")
    return found or ["console"]


@contextlib.asynccontextmanager
async def open_ai(settings: Settings) -> AsyncIterator[AIPort]:
    """The OpenAI service, or a stand-in that explains the missing key."""
    if not settings.ai_enabled:
        _log.warning("OPENAI_API_KEY is not set: /ask and /draw will say so")
        yield DisabledAI()
        return
    client = openai.AsyncOpenAI(
        # A local OpenAI-compatible server may need no key; the SDK insists on one.
        api_key=settings.openai_api_key or "not-needed",
        base_url=settings.openai_base_url,
        timeout=settings.openai_timeout,
        max_retries=settings.openai_max_retries,
    )
    client.chat.completions  # noqa: B018 - the SDK imports its chat code on first use: now, not in a burst
    async with client:
        yield AIService(
            client,
            chat_model=settings.openai_chat_model,
            image_model=settings.openai_image_model,
            transcribe_model=settings.openai_transcribe_model,
            system_prompt=settings.system_prompt,
        )


async def serve(settings: Settings, platforms: list[str], args: argparse.Namespace) -> None:
    """Open the shared clients, run the platforms, close everything on the way out.

    SIGTERM (how Procfile hosts stop a process) cancels the run, so clients close cleanly.
    """
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    async with contextlib.AsyncExitStack() as stack:
        try:
            store = await open_store(settings.store_url)
        except BotError as exc:
            reason = exc.__cause__ or exc
            raise ConfigError(
                f"{settings.store_url_name}={redacted(settings.store_url)!r} cannot be opened: {reason}"
            ) from exc
        stack.push_async_callback(store.close)
        ai = await stack.enter_async_context(open_ai(settings))
        services = Services(
            ai=ai,
            store=store,
            janken=JankenRules(hp=settings.janken_hp, mercy=settings.janken_mercy),
            history_turns=settings.history_turns,
            limits=limits_of(settings),
            accounting=Accounting(history_keep=settings.history_days * 86400.0, prices=settings.openai_prices),
            openai_slots=Slots(settings.openai_max_concurrency),
            locale=settings.bot_locale,
        )
        runs = []
        if "console" in platforms:
            runs.append(console.run(services, sys.stdin, sys.stdout))
        if "slack" in platforms:
            session = await stack.enter_async_context(aiohttp.ClientSession())
            runs.append(run_slack(settings, services, session, http=args.http, port=args.port))
        if "discord" in platforms:
            downloads = await stack.enter_async_context(aiohttp.ClientSession())  # attachments to transcribe
            runs.append(run_discord(settings, services, downloads))
        await asyncio.gather(*runs)


def limits_of(settings: Settings) -> Limits:
    """The spending limits and allowlists handlers enforce, from the settings."""
    return Limits(
        quota_ask_per_day=settings.quota_ask_per_day,
        quota_draw_per_day=settings.quota_draw_per_day,
        quota_ttl=settings.quota_ttl_hours * 3600.0,
        conversation_ttl=settings.conversation_ttl_hours * 3600.0 or None,
        moderation=cast(Moderation, settings.moderation),
        allowed_channels=settings.allowed_channels,
        allowed_roles=settings.allowed_roles,
    )


def check_slack(settings: Settings, *, http: bool) -> None:
    """Stop with one line naming the missing Slack credential."""
    require("SLACK_BOT_TOKEN", settings.slack_bot_token, "to run on Slack")
    if http:
        require("SLACK_SIGNING_SECRET", settings.slack_signing_secret, "to verify Slack's HTTP requests")
    else:
        require(
            "SLACK_APP_TOKEN",
            settings.slack_app_token,
            "for Socket Mode (or run: python -m bot slack --http)",
        )


async def run_slack(
    settings: Settings, services: Services, session: aiohttp.ClientSession, *, http: bool, port: int | None
) -> None:
    """Build the Slack app on one shared web client and serve it until cancelled.

    With a Redis store, Slack's rate budgets live in that Redis too, shared by every
    process serving the workspace. Slack's libraries are imported here, so the
    console starts without them.
    """
    from bot import slack_app
    from bot.shared_rate_budget import open_budget_redis
    from bot.slack_app import server

    async with open_budget_redis(settings.store_url) as budget_redis:  # Slack's limits, shared
        secret = settings.slack_signing_secret or ""
        built = await slack_app.build(
            services,
            session,
            token=settings.slack_bot_token or "",
            signing_secret=secret,
            api_url=settings.slack_api_url,
            native=settings.slack_streaming == "native",
            redis=budget_redis,
        )
        _settle_heap()
        drain = built.listeners.drain
        if http:
            port = port or settings.port or DEFAULT_PORT

            async def store_ok() -> bool:  # GET /healthz: raises core.errors.Unavailable when it does not answer
                await services.store.ping()
                return True

            await server.serve_http(built.app, port, drain=drain, signing_secret=secret, store_ok=store_ok)
        else:
            app_token = settings.slack_app_token or ""
            await server.serve_socket_mode(built.app, app_token, drain=drain, client=built.client)


async def run_discord(settings: Settings, services: Services, downloads: aiohttp.ClientSession) -> None:
    """Connect to Discord (auto-sharded) until cancelled; a refused token stops start-up with one line.

    ``downloads`` is the session attachments are fetched on; it outlives the client,
    whose shutdown lets transcriptions in progress finish first.
    """
    import discord

    from bot.discord_app.app import DiscordApp

    async with DiscordApp(
        services,
        downloads,
        guild_id=settings.discord_guild_id,
        shard_ids=settings.discord_shard_ids,
        shard_count=settings.discord_shard_count,
    ) as app:
        try:
            await app.login(settings.discord_token or "")
        except discord.LoginFailure as exc:
            raise ConfigError("DISCORD_TOKEN was refused by Discord") from exc
        _settle_heap()
        await app.connect()


def _settle_heap() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    Imports leave a few hundred thousand long-lived objects; without this, the first
    burst of requests triggers full collections that walk all of them, and its acks
    slip (bench/slack_load.py, cold start). See :func:`gc.freeze`.
    """
    gc.collect()
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        platforms = chosen_platforms(args.platform, settings)
        args.http = args.http or (args.platform is None and not settings.slack_app_token)
        if args.port is not None and not (args.http and "slack" in platforms):
            raise ConfigError("--port only applies to: python -m bot slack --http")
        if "slack" in platforms:
            check_slack(settings, http=args.http)
        if "discord" in platforms:
            require("DISCORD_TOKEN", settings.discord_token, "to run on Discord")
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(serve(settings, platforms, args))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
