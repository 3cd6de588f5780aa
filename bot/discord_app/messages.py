"""Replies to the bot's answers on Discord: a reply continues the conversation of the answer it replies to.

The client keeps the default intents, without the privileged message-content
one. Discord still gives a bot the content of a message that mentions it, of a
DM with it, and of its own messages; a reply mentions the author of the message
it replies to unless the user switches the reply's "@ ping" off. So a reply to
an answer (with the ping on, or with ``@bot`` typed in it, or in a DM) arrives
with its text, and is answered with that answer's history: the store links every
answer message to its conversation (:meth:`core.store.Store.link_answer`).

A reply whose ping was switched off, outside a DM, arrives with empty content:
there is no question to read, and it is ignored like any other message that is
no reply to a linked answer, or that comes from a bot (this one included).
The answer is a reply to the user's message (:mod:`bot.discord_app.message_reply`),
and its messages are linked too, so a chain of replies keeps the conversation going.

A reply the allowlists refuse (``ALLOWED_CHANNELS``, ``ALLOWED_ROLES``: checked by
:data:`handlers.registry.ANSWER_REPLY`) is ignored without a word: with no interaction
there is no private way to say so, and a public reply to every refused message would
let anyone make the bot talk where it was not meant to.
"""

from __future__ import annotations

import logging
import re

import discord

from bot.discord_app.languages import message_language
from bot.discord_app.live import DiscordPacer, answer_ref
from bot.discord_app.message_reply import MessageReply
from bot.discord_app.roles import role_ids
from bot.work import BackgroundWork
from core.errors import NotPermitted
from core.store.base import DELIVERY_TTL
from handlers.failures import unexpected, user_message
from handlers.port import DM_WORKSPACE, Command, Services
from handlers.registry import ANSWER_REPLY

_log = logging.getLogger(__name__)


class AnswerReplies:
    """Turns replies to the bot's answers into follow-up questions, run as tracked work."""

    def __init__(
        self, client: discord.Client, services: Services, pacer: DiscordPacer, work: BackgroundWork
    ) -> None:
        self._client = client
        self._services = services
        self._pacer = pacer
        self._work = work

    def receive(self, message: discord.Message) -> None:
        """Start answering ``message`` if it is a readable reply to one of the bot's messages.

        Whether the message it replies to is a linked answer is the handler's to find out:
        if it is not, nothing is posted. The message id is claimed in the store first, so
        of two processes that both receive it (one shard run twice during a rolling
        restart), one answers.
        """
        replied_to, question = self._readable_reply(message)
        if replied_to is None:
            return
        ref = answer_ref(message.channel.id, replied_to)
        needs_roles = bool(self._services.limits.allowed_roles)
        command = command_of(
            message, question, thread=str(replied_to), roles=needs_roles, default_locale=self._services.locale
        )
        reply = MessageReply(message, self._pacer, command.locale)

        async def work() -> None:
            if not await self._services.store.claim(f"discord:message:{message.id}", DELIVERY_TTL):
                _log.info("reply %s is answered by another process", message.id)
                return
            if not await ANSWER_REPLY(ref, command, reply, self._services):
                _log.debug("reply %s is to no linked answer; ignored", message.id)

        async def on_error(error: Exception) -> None:
            if isinstance(error, NotPermitted):  # see the module's docstring: no reply at all
                _log.info("reply %s is not admitted by the allowlists; ignored", message.id)
                return
            if unexpected(error):
                _log.error("reply to an answer failed", exc_info=error)
            else:
                _log.info("answered with %s: %s", type(error).__name__, error)
            await reply.send_private(user_message(error, command.locale))

        self._work.start(work, on_error)

    def _readable_reply(self, message: discord.Message) -> tuple[int | None, str]:
        """The id of the message ``message`` replies to and its question; ``None`` for a message
        that is no reply from a person, or whose text Discord withheld."""
        me, reference = self._client.user, message.reference
        if me is None or message.author.bot or message.type is not discord.MessageType.reply:
            return None, ""
        if reference is None or reference.message_id is None:
            return None, ""
        question = question_of(message, me.id)
        if not question:
            _log.debug("reply %s has no text to read (its ping to the bot was off?)", message.id)
            return None, ""
        return reference.message_id, question


def question_of(message: discord.Message, bot_id: int) -> str:
    """The message's text without mentions of the bot ("" when Discord withheld the content)."""
    return re.sub(rf"<@!?{bot_id}>", "", message.content).strip()


def command_of(
    message: discord.Message, text: str, *, thread: str, roles: bool = False, default_locale: str = "en"
) -> Command:
    """The neutral command a reply carries; its thread is the message it replies to.

    ``roles``: fill :attr:`Command.roles` with the author's role ids (none in a DM). A message
    carries no locale of its own: the guild's chosen one, else ``default_locale``, is used.
    """
    guild, user = message.guild, message.author
    return Command(
        "discord",
        str(guild.id) if guild is not None else DM_WORKSPACE,
        str(message.channel.id),
        str(user.id),
        text,
        thread=thread,
        user_name=user.display_name,
        locale=message_language(message, default_locale),
        request_id=str(message.id),
        roles=role_ids(user) if roles else frozenset(),
    )
