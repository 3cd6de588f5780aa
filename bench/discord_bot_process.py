"""The Discord bot as ``bench/discord_load.py`` runs it: ``python -m bot discord``, pointed at a fake Discord.

discord.py takes Discord's addresses from two class attributes, not from the
environment, so they can only be changed inside the bot's own process. This
launcher sets them from ``BENCH_DISCORD_API_URL`` and ``BENCH_DISCORD_GATEWAY_URL``
and then runs the real composition root unchanged; everything else (token,
guild, store, OpenAI) comes from the usual settings. Only the bench uses it::

    BENCH_DISCORD_API_URL=http://127.0.0.1:PORT/api/v10 BENCH_DISCORD_GATEWAY_URL=ws://127.0.0.1:PORT/gateway \\
        DISCORD_TOKEN=... .venv/bin/python -m bench.discord_bot_process
"""

from __future__ import annotations

import os
import sys

import discord.gateway
import discord.http
import yarl

from bot.__main__ import main


def point_at(api_url: str, gateway_url: str) -> None:
    """Send discord.py's HTTP calls to ``api_url`` and its gateway connections to ``gateway_url``."""
    discord.http.Route.BASE = api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


if __name__ == "__main__":
    point_at(os.environ["BENCH_DISCORD_API_URL"], os.environ["BENCH_DISCORD_GATEWAY_URL"])
    sys.exit(main(["discord"]))
