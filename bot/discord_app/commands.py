"""The Discord application commands: typed options build the same requests the text forms do.

Every command is deferred at once (well within Discord's 3 seconds), then its
handler runs as work after the ack. The commands are declared for guild and
user installs, in guilds, the bot's DM and private channels.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import discord
from discord import app_commands

from core.errors import UserInputError
from core.janken import Move
from handlers import ask, draw, janken
from handlers.port import AskRequest, Command, JankenRequest, Reply, Services
from handlers.text_input import MAX_INPUT_CHARS, checked

Run = Callable[[discord.Interaction, Callable[[Command, Reply, Services], Awaitable[None]]], Awaitable[None]]
"""How a command's work is started: the app defers, translates and runs it (see DiscordApp.run)."""


def register(tree: app_commands.CommandTree[discord.Client], run: Run) -> None:
    """Every application command, in one place."""
    installs = app_commands.allowed_installs(guilds=True, users=True)
    contexts = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)

    @tree.command(name="ask", description="Ask the AI; replies to its answer continue the conversation")
    @app_commands.describe(question="What you want to know")
    @installs
    @contexts
    async def ask_command(
        interaction: discord.Interaction, question: app_commands.Range[str, 1, MAX_INPUT_CHARS]
    ) -> None:
        async def answer(command: Command, reply: Reply, services: Services) -> None:
            request = AskRequest(question=checked(question, "usage_ask"))
            await ask.ask(request, command, reply, services)

        await run(interaction, answer)

    @tree.command(name="draw", description="Generate an image from a description")
    @app_commands.describe(prompt="What to draw", size="The image's shape", quality="Higher takes longer")
    @installs
    @contexts
    async def draw_command(
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_INPUT_CHARS],
        size: Literal["square", "landscape", "portrait"] = "square",
        quality: Literal["low", "medium", "high"] = "medium",
    ) -> None:
        async def picture(command: Command, reply: Reply, services: Services) -> None:
            request = draw.build_request(checked(prompt, "usage_draw"), size, quality)
            await draw.draw(request, command, reply, services)

        await run(interaction, picture)

    @tree.command(name="janken", description="Rock-paper-scissors against an AI-drawn opponent")
    @app_commands.describe(
        move="Play a round (starts a game if none runs)",
        character="Describe an opponent to draw and play against",
        action="Your record, or end the game",
    )
    @installs
    @contexts
    async def janken_command(
        interaction: discord.Interaction,
        move: Literal["rock", "paper", "scissors"] | None = None,
        character: app_commands.Range[str, 3, MAX_INPUT_CHARS] | None = None,
        action: Literal["stats", "quit"] | None = None,
    ) -> None:
        async def game(command: Command, reply: Reply, services: Services) -> None:
            await janken.run(janken_request(move, character, action), command, reply, services)

        await run(interaction, game)


def janken_request(
    move: str | None, character: str | None, action: Literal["stats", "quit"] | None
) -> JankenRequest:
    """What ``/janken``'s options ask for: an action, else a move, else a character, else the game."""
    if action == "stats" or action == "quit":
        return JankenRequest(action)
    if move is not None:
        try:
            return JankenRequest("play", move=Move(move))
        except ValueError:  # not a choice we declare (a command synced by another version): say so
            raise UserInputError("unknown_janken", word=move) from None
    if character:
        return JankenRequest("start", character=checked(character, "usage_janken"))
    return JankenRequest("show")
