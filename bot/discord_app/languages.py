"""Which language a Discord user reads, and the translator that localizes the command list.

Discord sends the user's client language with every interaction (``interaction.locale``):
that decides. Where the bot does not speak it, the guild's preferred locale does, and
otherwise ``BOT_LOCALE``. A guild's preferred locale is ``en-US`` unless a Community guild
chose another, so only another value says anything. A reply to one of the bot's answers
is a plain message with no locale of its own: it gets its guild's, or ``BOT_LOCALE``.

Command and option descriptions and choice names are :func:`localized` strings: the
English sentence is what Discord shows by default, and :class:`CatalogueTranslator` gives
discord.py the other languages when the tree is synced. Command and option names stay
as they are in every language, like the words typed after them.
"""

from __future__ import annotations

import discord
from discord import app_commands

from core.messages import DEFAULT, language, text

UNCHOSEN_GUILD_LOCALE = discord.Locale.american_english
"""What Discord reports for a guild that never chose a language."""


def guild_language(locale: discord.Locale | None) -> str | None:
    """The language a guild chose, if the bot speaks it."""
    if locale is None or locale == UNCHOSEN_GUILD_LOCALE:
        return None
    return language(str(locale.value))


def interaction_language(interaction: discord.Interaction, default: str) -> str:
    """The user's language, else their guild's, else ``default`` (``BOT_LOCALE``)."""
    return language(str(interaction.locale.value)) or guild_language(interaction.guild_locale) or default


def message_language(message: discord.Message, default: str) -> str:
    """The language for a plain message (no user locale): its guild's, else ``default``."""
    guild = message.guild
    return (guild_language(guild.preferred_locale) if guild is not None else None) or default


def localized(key: str) -> app_commands.locale_str:
    """Catalogue sentence ``key`` as discord.py's translatable string: English, carrying its key."""
    return app_commands.locale_str(text(key, DEFAULT), key=key)


class CatalogueTranslator(app_commands.Translator):
    """Gives discord.py each :func:`localized` string in every other language the catalogues hold."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        code = language(str(locale.value))
        if not isinstance(key, str) or code is None or code == DEFAULT:
            return None  # Discord shows the English default
        return text(key, code)
