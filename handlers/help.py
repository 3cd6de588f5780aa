"""/help: list the commands."""

from __future__ import annotations

from core.messages import text
from handlers.port import Command, Reply, Services


async def handle(command: Command, reply: Reply, services: Services) -> None:
    await reply.send_private(text("usage_help", command.locale))
