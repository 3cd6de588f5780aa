"""What ``ALLOWED_ROLES`` needs of a Discord user: the ids of their roles where the command came from."""

from __future__ import annotations

import discord


def role_ids(user: discord.User | discord.Member) -> frozenset[str]:
    """The user's role ids (as strings) in the guild the command or message came from; none outside one.

    A member's roles include the guild's ``@everyone`` role, whose id is the guild's own: listing a
    guild id in ``ALLOWED_ROLES`` admits everyone in that guild. Roles are resolved from the guild
    the client has cached (the default intents keep it current), so in a guild the bot is not in
    (a user install used there) none are known, and the command is refused while roles are required.
    """
    if isinstance(user, discord.Member):
        return frozenset(str(role.id) for role in user.roles)
    return frozenset()
