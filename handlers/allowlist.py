"""Where the bot's commands run and who may run them: the optional ``ALLOWED_CHANNELS`` and ``ALLOWED_ROLES``.

One rule for every platform, applied by :mod:`handlers.registry` before any handler
runs, so a refused command does nothing at all (no model call, no post, no store
write); the adapter's one error handler tells the user privately.

- An empty list allows everything: ``ALLOWED_CHANNELS`` unset = every channel,
  ``ALLOWED_ROLES`` unset = everyone. With both set, a command needs both.
- A direct message is a channel like any other: with ``ALLOWED_CHANNELS`` set, a DM
  is refused unless its channel id is listed (the operator chose where the bot
  talks; a DM would be a way around that).
- Roles are what the adapter puts in :attr:`Command.roles`: the member's roles in the
  guild on Discord (so a Discord DM, which has no guild and so no roles, is refused
  while ``ALLOWED_ROLES`` is set), the user's user groups on Slack (workspace-wide,
  so they count in a Slack DM too).
- The console is the local operator at their own terminal: it is never refused.
"""

from __future__ import annotations

from core.errors import NotPermitted
from handlers.port import Command, Limits

EXEMPT_PLATFORMS = frozenset({"console"})
"""Platforms the allowlists do not apply to: the console has no channels, roles or strangers."""


def admits(command: Command, limits: Limits) -> bool:
    """Whether ``command`` may run: in an allowed channel, from a user with an allowed role."""
    if command.platform in EXEMPT_PLATFORMS:
        return True
    if limits.allowed_channels and command.channel not in limits.allowed_channels:
        return False
    return not limits.allowed_roles or not command.roles.isdisjoint(limits.allowed_roles)


def check(command: Command, limits: Limits) -> None:
    """Raise :class:`~core.errors.NotPermitted` unless the allowlists admit ``command``."""
    if not admits(command, limits):
        raise NotPermitted("not_enabled_here")
