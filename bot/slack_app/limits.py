"""Slack's rate limits: every Web API call waits its turn by its method's tier; a 429 is waited out.

Slack counts calls per method per workspace (per app), by published tier, and
``chat.postMessage`` per channel. :data:`SLACK_LIMITS` is that table, in one
place; :class:`SlackPacer` keeps one budget per method for one workspace (kept
in this process, or shared through Redis by every process serving the workspace:
:mod:`bot.shared_rate_budget`), and :class:`PacedWebClient` makes every call take
its turn before it is sent. A 429 holds that method's budget for ``Retry-After``
and the call is tried again, for as long as :data:`GIVE_UP_AFTER` allows: no
answer is dropped because of a rate limit.

A caller that must read what it sends only once its turn has come (a live
stream, so each write carries the newest text) takes the turn first, waiting
with :meth:`SlackPacer.turn` or only if one is free at once with
:meth:`SlackPacer.turn_now`, and sends inside :meth:`SlackPacer.prepaid`, so
that call does not queue twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.rate_budget import Budget, BudgetFactory, local_budget
from core.errors import RateLimited

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most ``calls`` in any ``seconds``, per workspace (or per channel, for ``per_channel``)."""

    calls: int
    seconds: float = 60.0
    per_channel: bool = False


TIER_1, TIER_2, TIER_3, TIER_4 = Limit(1), Limit(20), Limit(50), Limit(100)
SLACK_LIMITS: Mapping[str, Limit] = {
    "chat.postMessage": Limit(3, 3.0, per_channel=True),  # "1 per second per channel, short bursts"
    "chat.startStream": TIER_2,
    "chat.stopStream": TIER_2,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.replies": TIER_3,
    "chat.appendStream": TIER_4,
    "chat.postEphemeral": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "files.info": TIER_4,
    "files.delete": TIER_3,  # a board's previous battle card, once the board shows the new one
    "users.info": TIER_4,
    "usergroups.list": TIER_2,  # ALLOWED_ROLES; cached for minutes (bot.slack_app.user_groups)
    "auth.test": TIER_4,  # "special"; called once at start-up
    "apps.connections.open": TIER_1,
}
"""Slack's published limits per method (api.slack.com method reference; the Java SDK's MethodsRateLimits)."""
UNLISTED = TIER_2
"""A method missing from the table is paced as Slack's most common tier."""
MARGIN = 0.02
"""Each window is kept this much longer (at least 0.3 s), for calls that leave a little late."""
GIVE_UP_AFTER = 240.0
"""Seconds a call may wait, for its turn or through 429s, before the person who asked is told."""

_prepaid: contextvars.ContextVar[str | None] = contextvars.ContextVar("slack_prepaid", default=None)


class SlackPacer:
    """The budgets of one workspace: one per method, keyed by channel where Slack counts per channel."""

    def __init__(
        self,
        limits: Mapping[str, Limit] = SLACK_LIMITS,
        *,
        min_interval: float = 1.0,
        give_up_after: float = GIVE_UP_AFTER,
        budgets: BudgetFactory = local_budget,
    ) -> None:
        """``budgets`` makes each method's budget: in this process unless told otherwise."""
        self.limits = limits
        self.min_interval = min_interval
        """Seconds between two edits of one live message."""
        self.give_up_after = give_up_after
        self._make_budget = budgets
        self._budgets: dict[str, Budget] = {}

    def budget(self, method: str) -> Budget:
        if (budget := self._budgets.get(method)) is None:
            limit = self.limits.get(method, UNLISTED)
            window = limit.seconds + max(0.3, limit.seconds * MARGIN)
            budget = self._budgets[method] = self._make_budget(method, limit.calls, window)
        return budget

    def _key(self, method: str, channel: str | None) -> str | None:
        return channel if self.limits.get(method, UNLISTED).per_channel else None

    async def turn(self, method: str, channel: str | None = None) -> None:
        """Wait for a turn to call ``method`` (in ``channel``, where that counts), or give up.

        :raises RateLimited: no turn came within ``give_up_after``.
        """
        try:
            await asyncio.wait_for(
                self.budget(method).acquire(self._key(method, channel)), self.give_up_after
            )
        except TimeoutError as exc:
            _log.error("no turn to call Slack's %s came within %.0f s; giving up", method, self.give_up_after)
            raise RateLimited("slack_busy") from exc

    async def turn_now(self, method: str, channel: str | None = None) -> bool:
        """Take a turn to call ``method`` only if one is free at once; the call must be made prepaid."""
        return await self.budget(method).take_now(self._key(method, channel))

    async def free_now(self, method: str, channel: str | None = None) -> bool:
        """Whether a call to ``method`` could go at once; takes no turn."""
        return await self.budget(method).free_now(self._key(method, channel))

    async def hold(self, method: str, seconds: float) -> None:
        """Slack said Retry-After: nobody calls ``method`` until it has passed (or we would give up)."""
        await self.budget(method).hold(min(seconds, self.give_up_after))

    @staticmethod
    @contextlib.contextmanager
    def prepaid(method: str) -> Iterator[None]:
        """The next ``method`` call made inside uses the turn its caller already took."""
        token = _prepaid.set(method)
        try:
            yield
        finally:
            _prepaid.reset(token)

    @staticmethod
    def _spend_prepaid(method: str) -> bool:
        if _prepaid.get() != method:
            return False
        _prepaid.set(None)
        return True


class PacedWebClient(AsyncWebClient):
    """slack_sdk's web client, with every call paced by :class:`SlackPacer` and 429s waited out."""

    def __init__(self, *, pacer: SlackPacer, **kwargs: Any) -> None:
        kwargs.setdefault("retry_handlers", [AsyncConnectionErrorRetryHandler()])
        super().__init__(**kwargs)
        self.pacer = pacer

    async def api_call(  # type: ignore[override]
        self, api_method: str, *, json: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> AsyncSlackResponse:  # fmt: skip
        channel = _channel_of(json, params)
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.pacer.give_up_after
        paid = self.pacer._spend_prepaid(api_method)
        while True:
            if not paid:
                await self.pacer.turn(api_method, channel)
            paid = False
            try:
                return await super().api_call(api_method, json=json, params=params, **kwargs)
            except SlackApiError as exc:
                if exc.response.status_code != 429:
                    raise
                wait = retry_after(exc.response.headers)
                await self.pacer.hold(api_method, wait)
                if loop.time() + wait > give_up:
                    _log.error("Slack kept rate limiting %s; giving up", api_method)
                    raise RateLimited("slack_busy") from exc
                _log.warning("Slack rate limited %s; trying again in %ss", api_method, wait)


def budget_scope(token: str) -> str:
    """Whose budgets a bot token spends: one app in one workspace, the unit Slack counts by.

    A digest, so the token itself never reaches Redis.
    """
    return "slack:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def _channel_of(*bodies: dict[str, Any] | None) -> str | None:
    for body in bodies:
        if body and body.get("channel"):
            return str(body["channel"])
    return None


def retry_after(headers: Mapping[str, Any]) -> float:
    """Slack's ``Retry-After`` in seconds (1 when missing, unreadable or not a finite number >= 0)."""
    for name, value in headers.items():
        if name.lower() == "retry-after" and value:
            try:
                seconds = float(value[0] if isinstance(value, list) else value)
            except ValueError:
                break
            return seconds if math.isfinite(seconds) and seconds >= 0 else 1.0
    return 1.0
