"""The Discord application commands: typed options build the same requests the text forms do.

Every command is deferred at once (well within Discord's 3 seconds), then its
handler runs as work after the ack. The commands are declared for guild and
user installs, in guilds, the bot's DM and private channels. Their descriptions and
choice names are catalogue sentences, localized when the tree is synced
(:mod:`bot.discord_app.languages`); a choice's value is the English word the handlers read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord
from discord import app_commands

from bot.discord_app.languages import localized
from core.errors import UserInputError
from core.janken import Move
from handlers import ask, draw, history, janken, usage
from handlers.port import AskRequest, Command, JankenRequest, Reply, Services
from handlers.text_input import MAX_INPUT_CHARS, checked

Run = Callable[[discord.Interaction, Callable[[Command, Reply, Services], Awaitable[None]]], Awaitable[None]]
"""How a command's work is started: the app defers, translates and runs it (see DiscordApp.run)."""
OnMessage = Callable[[discord.Interaction, discord.Message], Awaitable[None]]
"""How a message command (the Transcribe context menu) is started (see DiscordApp.transcribe_message)."""
ACTIONS = ("stats", "top", "quit")
HISTORY_ACTIONS = ("clear", "confirm")


def choices(*values: str) -> list[app_commands.Choice[str]]:
    """A choice per value, named by the catalogue's ``choice_<value>`` in each language."""
    return [app_commands.Choice(name=localized(f"choice_{value}"), value=value) for value in values]


def register(tree: app_commands.CommandTree[discord.Client], run: Run, transcribe: OnMessage) -> None:
    """Every application command, in one place."""
    installs = app_commands.allowed_installs(guilds=True, users=True)
    contexts = app_commands.allowed_contexts(guilds=True, dms=True, private_channels=True)

    @tree.context_menu(name=localized("command_transcribe"))
    @installs
    @contexts
    async def transcribe_command(interaction: discord.Interaction, message: discord.Message) -> None:
        await transcribe(interaction, message)

    @tree.command(name="ask", description=localized("command_ask"))
    @app_commands.describe(question=localized("option_ask_question"))
    @installs
    @contexts
    async def ask_command(
        interaction: discord.Interaction, question: app_commands.Range[str, 1, MAX_INPUT_CHARS]
    ) -> None:
        async def answer(command: Command, reply: Reply, services: Services) -> None:
            request = AskRequest(question=checked(question, "usage_ask"))
            await ask.ask(request, command, reply, services)

        await run(interaction, answer)

    @tree.command(name="draw", description=localized("command_draw"))
    @app_commands.describe(
        prompt=localized("option_draw_prompt"),
        size=localized("option_draw_size"),
        quality=localized("option_draw_quality"),
    )
    @app_commands.choices(size=choices(*draw.SIZE_NAMES), quality=choices(*draw.QUALITIES))
    @installs
    @contexts
    async def draw_command(
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_INPUT_CHARS],
        size: str = "square",
        quality: str = "medium",
    ) -> None:
        async def picture(command: Command, reply: Reply, services: Services) -> None:
            request = draw.build_request(checked(prompt, "usage_draw"), size, quality)
            await draw.draw(request, command, reply, services)

        await run(interaction, picture)

    @tree.command(name="janken", description=localized("command_janken"))
    @app_commands.describe(
        move=localized("option_janken_move"),
        character=localized("option_janken_character"),
        action=localized("option_janken_action"),
    )
    @app_commands.choices(move=choices(*(move.value for move in Move)), action=choices(*ACTIONS))
    @installs
    @contexts
    async def janken_command(
        interaction: discord.Interaction,
        move: str | None = None,
        character: app_commands.Range[str, 3, MAX_INPUT_CHARS] | None = None,
        action: str | None = None,
    ) -> None:
        async def game(command: Command, reply: Reply, services: Services) -> None:
            await janken.run(janken_request(move, character, action), command, reply, services)

        await run(interaction, game)

    @tree.command(name="usage", description=localized("command_usage"))
    @installs
    @contexts
    async def usage_command(interaction: discord.Interaction) -> None:
        await run(interaction, usage.handle)

    @tree.command(name="history", description=localized("command_history"))
    @app_commands.describe(
        page=localized("option_history_page"),
        entry=localized("option_history_entry"),
        action=localized("option_history_action"),
    )
    @app_commands.choices(action=choices(*HISTORY_ACTIONS))
    @installs
    @contexts
    async def history_command(
        interaction: discord.Interaction,
        page: app_commands.Range[int, 1, 1_000_000] = 1,
        entry: app_commands.Range[int, 1, 1_000_000] | None = None,
        action: str | None = None,
    ) -> None:
        async def log(command: Command, reply: Reply, services: Services) -> None:
            await history.history(history_request(page, entry, action), command, reply, services)

        await run(interaction, log)


def history_request(page: int, entry: int | None, action: str | None) -> history.HistoryRequest:
    """What ``/history``'s options ask for: clearing, else one entry, else a page."""
    if action in HISTORY_ACTIONS:
        return history.HistoryRequest(action)  # type: ignore[arg-type]
    if entry is not None:
        return history.HistoryRequest("entry", entry)
    return history.HistoryRequest("page", page)


def janken_request(move: str | None, character: str | None, action: str | None) -> JankenRequest:
    """What ``/janken``'s options ask for: an action, else a move, else a character, else the game."""
    if action == "stats":
        return JankenRequest("stats")
    if action in ("quit", "top"):
        return JankenRequest(action)  # type: ignore[arg-type]
    if move is not None:
        try:
            return JankenRequest("play", move=Move(move))
        except ValueError:  # not a choice we declare (a command synced by another version): say so
            raise UserInputError("unknown_janken", word=move) from None
    if character:
        return JankenRequest("start", character=checked(character, "usage_janken"))
    return JankenRequest("show")
