"""Slack user groups as the roles ``ALLOWED_ROLES`` lists: one ``usergroups.list`` per workspace, cached.

Slack has no roles a command could be limited to; its user groups (``S…`` ids) are the
nearest thing, and the only way to learn a user's groups in one call is to list every
group with its members (``include_users``). That call is Tier 2 (20 a minute per
workspace), so its answer is kept for :data:`TTL` seconds and shared by every command:
a burst of commands makes one call, not one each. A change to a group shows within
that time. The lookup happens in the work after the ack, never before it.

The call needs the ``usergroups:read`` scope, and user groups exist only on Slack's
paid plans (``plan_upgrade_required`` otherwise): a failure is logged for the operator
and the command fails (closed) with Slack's error, like any other Slack failure.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_app.reply import slack_errors
from core.errors import UpstreamError

_log = logging.getLogger(__name__)
TTL = 300.0
"""Seconds a workspace's group memberships are trusted before they are listed again."""
RETRY_AFTER_FAILURE = 60.0
"""Seconds commands are refused without asking Slack again after it would not list the groups."""


class UserGroups:
    """Which user groups each user of one workspace is in, listed at most once per :data:`TTL`."""

    def __init__(
        self, client: AsyncWebClient, *, ttl: float = TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._members: Mapping[str, frozenset[str]] = {}
        self._listed_at: float | None = None
        self._failed_at: float | None = None
        self._listing = asyncio.Lock()  # commands arriving together wait for one call

    async def of(self, user: str) -> frozenset[str]:
        """The ids of the user groups ``user`` is in (none when the user is in no group).

        :raises UpstreamError: Slack refused the listing or could not be reached.
        """
        if self._stale():
            async with self._listing:
                if self._stale():
                    await self._refresh()
        return self._members.get(user, frozenset())

    async def _refresh(self) -> None:
        """List the groups again; a refusal is remembered for :data:`RETRY_AFTER_FAILURE`, so a
        workspace that cannot list them (no scope, a free plan) is not asked on every command."""
        if self._failed_at is not None and self._clock() - self._failed_at < RETRY_AFTER_FAILURE:
            raise UpstreamError("roles_unavailable")
        try:
            self._members = await self._list()
        except UpstreamError:
            self._failed_at = self._clock()
            raise
        self._listed_at, self._failed_at = self._clock(), None

    def _stale(self) -> bool:
        return self._listed_at is None or self._clock() - self._listed_at >= self._ttl

    async def _list(self) -> Mapping[str, frozenset[str]]:
        with slack_errors():
            try:
                response = await self._client.usergroups_list(include_users=True)
            except SlackApiError as exc:
                _log.error(
                    "Slack refused usergroups.list (%s); ALLOWED_ROLES needs the usergroups:read scope "
                    "and a plan with user groups",
                    exc.response.get("error"),
                )
                raise UpstreamError("roles_unavailable") from exc
        return members_of(response.get("usergroups") or [])


def members_of(groups: Iterable[Mapping[str, Any]]) -> Mapping[str, frozenset[str]]:
    """User id -> the ids of its groups, from ``usergroups.list``'s groups (with their ``users``)."""
    members: dict[str, set[str]] = {}
    for group in groups:
        for user in group.get("users") or ():
            members.setdefault(str(user), set()).add(str(group["id"]))
    return {user: frozenset(ids) for user, ids in members.items()}
