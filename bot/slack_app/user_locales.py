"""Each Slack user's language: ``users.info`` with ``include_locale``, asked once an hour at most.

Slack gives a user's locale (``ja-JP``, ``en-US``) only through ``users.info`` (Tier 4,
about 100 a minute per workspace), so the answer is kept per user for :data:`TTL`
seconds, for at most :data:`MAX_USERS` users (the least recently asked go first), and
commands from one user arriving together wait for one call. The lookup runs in the work
after the ack, never before it: an acknowledgement can only use what is already known
(:meth:`UserLocales.known`).

A language is not worth failing or stalling a command: a call that fails (a missing
``users:read`` scope, Slack down) or takes longer than :data:`WAIT` leaves the user with
the default (``BOT_LOCALE``). A failure is remembered for :data:`RETRY_AFTER_FAILURE`, so
a workspace that cannot answer is not asked on every command.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_app.reply import UNREACHABLE
from core.errors import BotError
from core.messages import language

_log = logging.getLogger(__name__)
TTL = 3600.0
"""Seconds a user's language is trusted before Slack is asked again."""
RETRY_AFTER_FAILURE = 300.0
"""Seconds a user whose lookup failed keeps the default before Slack is asked again."""
MAX_USERS = 10_000
"""Users remembered at once; past this the least recently asked is forgotten."""
WAIT = 2.0
"""Seconds a command waits for ``users.info`` before going ahead in the default language."""


class UserLocales:
    """The language of each user of one workspace, as ``users.info`` says (``None``: one we lack)."""

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl: float = TTL,
        max_users: int = MAX_USERS,
        wait: float = WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl
        self._max_users = max_users
        self._wait = wait
        self._clock = clock
        self._known: OrderedDict[tuple[str, str], tuple[str | None, float]] = OrderedDict()
        """(team, user) -> (language, when it stops being trusted)."""
        self._asking: dict[tuple[str, str], asyncio.Future[str | None]] = {}

    def known(self, team: str, user: str) -> str | None:
        """The user's language if already known, without calling Slack (for acks and error paths)."""
        entry = self._known.get((team, user))
        if entry is None or entry[1] <= self._clock():
            return None
        self._known.move_to_end((team, user))
        return entry[0]

    async def of(self, team: str, user: str) -> str | None:
        """The user's language, asking Slack if it is not known; ``None`` for one the bot lacks."""
        key = (team, user)
        entry = self._known.get(key)
        if entry is not None and entry[1] > self._clock():
            self._known.move_to_end(key)
            return entry[0]
        asking = self._asking.get(key)
        if asking is None:
            asking = self._asking[key] = asyncio.ensure_future(self._ask(key))
            asking.add_done_callback(lambda _: self._asking.pop(key, None))
        try:
            return await asyncio.wait_for(asyncio.shield(asking), self._wait)
        except TimeoutError:
            _log.info("users.info for %s is slow; answering in the default language meanwhile", user)
            return None

    async def _ask(self, key: tuple[str, str]) -> str | None:
        """One ``users.info`` call; its answer (or failure) is remembered."""
        try:
            response = await self._client.users_info(user=key[1], include_locale=True)
        except (SlackApiError, BotError, *UNREACHABLE) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else repr(exc)
            _log.warning("users.info failed (%s); %s gets the default language for now", reason, key[1])
            self._remember(key, None, RETRY_AFTER_FAILURE)
            return None
        user = response.get("user")
        found = language(user.get("locale")) if isinstance(user, dict) else None
        self._remember(key, found, self._ttl)
        return found

    def _remember(self, key: tuple[str, str], found: str | None, ttl: float) -> None:
        self._known[key] = (found, self._clock() + ttl)
        self._known.move_to_end(key)
        while len(self._known) > self._max_users:
            self._known.popitem(last=False)
