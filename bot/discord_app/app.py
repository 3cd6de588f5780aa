"""The Discord platform: an auto-sharded client whose command tree, board buttons and replies to its
answers run the handlers.

Every interaction is claimed in the store first (:meth:`DiscordApp.first_delivery`), so
one delivered to two processes (two running the same shard during a rolling restart)
is answered by one of them only. It is then deferred, and its handler runs as work after the
ack (:class:`~bot.work.BackgroundWork`). Failures, whether in a command, a
button or the tree itself, are told to the user privately in one place
(:meth:`DiscordApp.tell`), through :mod:`handlers.failures`; no traceback
reaches Discord.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.discord_app import commands
from bot.discord_app import transcribe as transcription
from bot.discord_app.buttons import HistoryButton, JankenButton
from bot.discord_app.languages import CatalogueTranslator, interaction_language
from bot.discord_app.live import DiscordPacer
from bot.discord_app.messages import AnswerReplies
from bot.discord_app.outlet import NO_PINGS, Outlet
from bot.discord_app.reply import DiscordReply, board_ref
from bot.discord_app.roles import role_ids
from bot.work import BackgroundWork
from core.errors import NotPermitted
from core.store.base import DELIVERY_TTL
from handlers import allowlist, janken_board
from handlers.failures import unexpected, user_message
from handlers.port import DM_WORKSPACE, Command, Reply, Services
from handlers.registry import BOARD_CLICK, HISTORY_CLICK, TRANSCRIBE

_log = logging.getLogger(__name__)
Handler = Callable[[Command, Reply, Services], Awaitable[None]]


class DiscordApp(discord.AutoShardedClient):
    """The bot on Discord: commands synced at start-up, buttons that survive restarts."""

    def __init__(
        self,
        services: Services,
        downloads: aiohttp.ClientSession,
        *,
        guild_id: int | None = None,
        shard_ids: Sequence[int] | None = None,
        shard_count: int | None = None,
        pacer: DiscordPacer | None = None,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        """``downloads``: the session attachments are fetched on (to transcribe), opened and closed
        by its owner, the composition root, after this client closes. ``options`` go to
        discord.py's client (e.g. ``guild_ready_timeout`` in tests)."""
        sharding: dict[str, Any] = {"shard_count": shard_count, **options}
        if shard_ids is not None:
            sharding["shard_ids"] = list(shard_ids)
        super().__init__(
            intents=discord.Intents.default(),  # no privileged intent: commands, and replies that ping us, need none
            allowed_mentions=NO_PINGS,
            **sharding,
        )
        self._services = services
        self._downloads = downloads
        self._guild = discord.Object(id=guild_id) if guild_id else None
        self._pacer = pacer or DiscordPacer()
        self._work = BackgroundWork()
        self._replies = AnswerReplies(self, services, self._pacer, self._work)
        self._clock = clock
        self.tree: app_commands.CommandTree[DiscordApp] = app_commands.CommandTree(self)
        self.tree.on_error = self._tree_error  # type: ignore[method-assign]
        self.tree.interaction_check = self.first_delivery  # type: ignore[method-assign]
        commands.register(self.tree, self.run_command, self.transcribe_message)  # type: ignore[arg-type]

    async def setup_hook(self) -> None:
        """Route board buttons (before any click arrives) and sync the commands, localized."""
        self.add_dynamic_items(JankenButton, HistoryButton)
        await self.tree.set_translator(CatalogueTranslator())
        if self._guild is not None:  # instant, for development
            self.tree.copy_global_to(guild=self._guild)
            await self.tree.sync(guild=self._guild)
        else:
            await self.tree.sync()

    async def run_command(self, interaction: discord.Interaction, handler: Handler) -> None:
        """Defer within Discord's 3 seconds, then run ``handler`` as work after the ack.

        A command the allowlists refuse is answered instead, before any defer, with an
        ephemeral response (so no "thinking…" shows in the channel) and goes no further.
        The typed-option handlers do not pass through :mod:`handlers.registry`, whose
        wrappers check everything else (board clicks here, replies to answers); this is
        their one check.
        """
        if not await self._admitted(interaction):
            return
        await interaction.response.defer(thinking=True)
        self._start(interaction, handler)

    async def transcribe_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """The Transcribe context menu: the message's audio, transcribed in a reply to it."""
        if not await self._admitted(interaction):
            return
        await interaction.response.defer(thinking=True)
        hosts = transcription.file_hosts(discord.http.Route.BASE)

        async def transcribe(command: Command, reply: Reply, services: Services) -> None:
            request = transcription.audio_of(message, self._downloads, hosts)
            await TRANSCRIBE(request, command, reply, services)

        self._start(interaction, transcribe, reply_to=message)

    async def board_click(self, interaction: discord.Interaction, code: str) -> None:
        """A board button: one round (or one new game) per click, on the board that was clicked."""
        if not await self.first_delivery(interaction):
            return
        await interaction.response.defer()  # a silent acknowledgement; the board is edited in place

        async def click(command: Command, reply: Reply, services: Services) -> None:
            message = interaction.message
            ref = board_ref(message.channel.id, message.id) if message is not None else ""
            await BOARD_CLICK(janken_board.clicked(code, ref), command, reply, services)

        self._start(interaction, click)

    async def page_click(self, interaction: discord.Interaction, code: str) -> None:
        """A button under a private /history page: the page it asks for comes as a new private message."""
        if not await self.first_delivery(interaction):
            return
        await interaction.response.defer(ephemeral=True, thinking=True)

        async def click(command: Command, reply: Reply, services: Services) -> None:
            await HISTORY_CLICK(code, command, reply, services)

        self._start(interaction, click)

    async def first_delivery(self, interaction: discord.Interaction) -> bool:
        """Claim the interaction in the store: ``True`` for the one process that answers it.

        Every interaction passes here before any response: commands as the tree's
        ``interaction_check`` (before their options are read, so even a bad option is
        answered once), board buttons in :meth:`board_click`. The loser does nothing at all:
        Discord takes one response per interaction. A store failure is told to the user
        (discord.py would only log it) and the interaction goes no further.
        """
        try:
            first = await self._services.store.claim(f"discord:interaction:{interaction.id}", DELIVERY_TTL)
        except Exception as exc:  # noqa: BLE001 - every failure goes to the one error handler
            try:
                await self.tell(Outlet(interaction, clock=self._clock), exc)
            except discord.HTTPException:  # Discord is failing too: the log is all that is left
                _log.warning("could not tell %s about an error", interaction.user.id, exc_info=True)
            return False
        if not first:
            _log.info("interaction %s is answered by another process", interaction.id)
        return first

    async def on_message(self, message: discord.Message) -> None:
        """A reply to one of the bot's answers continues that answer's conversation."""
        self._replies.receive(message)

    async def _admitted(self, interaction: discord.Interaction) -> bool:
        """Whether ``ALLOWED_CHANNELS`` / ``ALLOWED_ROLES`` admit the interaction; else tell the user why."""
        try:
            allowlist.check(self._command(interaction), self._services.limits)
        except NotPermitted as refusal:
            await self.tell(Outlet(interaction, clock=self._clock), refusal)
            return False
        return True

    def _command(self, interaction: discord.Interaction) -> Command:
        """The interaction's command, with the user's roles when ``ALLOWED_ROLES`` needs them."""
        roles, locale = bool(self._services.limits.allowed_roles), self._services.locale
        return command_of(interaction, roles=roles, default_locale=locale)

    def _start(
        self, interaction: discord.Interaction, handler: Handler, reply_to: discord.Message | None = None
    ) -> None:
        """Run ``handler`` after the ack; with ``reply_to``, its text goes as replies to that message."""
        outlet = Outlet(interaction, clock=self._clock)
        locale = interaction_language(interaction, self._services.locale)

        async def work() -> None:
            reply: Reply = DiscordReply(outlet, self._pacer, locale)
            if reply_to is not None:
                reply = transcription.ReplyToMessage(reply_to, outlet, reply, locale)
            try:
                await handler(self._command(interaction), reply, self._services)
            finally:
                await outlet.tidy()

        async def on_error(error: Exception) -> None:
            await self.tell(outlet, error)

        self._work.start(work, on_error)

    async def tell(self, outlet: Outlet, error: BaseException) -> None:
        """The one place an error becomes a Discord message: privately, to whoever asked."""
        if unexpected(error):
            _log.error("interaction failed", exc_info=error)
        else:
            _log.info("answered with %s: %s", type(error).__name__, error)
        locale = interaction_language(outlet.interaction, self._services.locale)
        await outlet.send_private(user_message(error, locale))

    async def _tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        await self.tell(Outlet(interaction), getattr(error, "original", error))

    async def close(self) -> None:
        """Let answers in progress finish, then disconnect."""
        await self._work.drain()
        await super().close()


def command_of(
    interaction: discord.Interaction, *, roles: bool = False, default_locale: str = "en"
) -> Command:
    """The neutral command an interaction carries (its text is in typed options, read by the tree).

    ``roles``: fill :attr:`Command.roles` with the member's role ids (none in a DM).
    ``default_locale``: the language when neither the user's nor the guild's is one the bot speaks.
    """
    user = interaction.user
    return Command(
        "discord",
        str(interaction.guild_id or DM_WORKSPACE),
        str(interaction.channel_id or user.id),
        str(user.id),
        "",
        thread=None,
        user_name=user.display_name,
        locale=interaction_language(interaction, default_locale),
        request_id=str(interaction.id),
        roles=role_ids(user) if roles else frozenset(),
    )

