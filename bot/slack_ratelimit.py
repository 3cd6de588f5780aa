"""Slack's rate limits: pace every write before it is sent, and obey a 429 when one comes.

Slack counts per method per workspace (``chat.update`` is Tier 3, about 50 a
minute; ``chat.appendStream`` Tier 4) and posts per channel (about one a
second). :class:`SlackPacer` makes each write wait its turn in a shared
:class:`~bot.throttle.EditBudget`, so many answers at once slow down instead
of meeting a storm of 429s; :class:`SharedRetryAfter` retries a 429 after
``Retry-After`` and holds that method's budget for everyone meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.throttle import EditBudget

_log = logging.getLogger(__name__)
POST = "chat.postMessage"
"""The budget every new message draws from (posts, stream starts, uploads), per channel."""


class SlackPacer:
    """The budgets of one Slack app: per-channel posts and per-workspace edits by method."""

    def __init__(self, budgets: dict[str, EditBudget] | None = None, *, min_interval: float = 1.0) -> None:
        self.budgets = budgets or {
            POST: EditBudget(per_minute=60, burst=3),
            "chat.update": EditBudget(per_minute=45, burst=3),
            "chat.appendStream": EditBudget(per_minute=90, burst=5),
        }
        self._min_interval = min_interval

    async def post(self, team: str, channel: str) -> None:
        """Wait for a turn to post a new message into ``channel``."""
        await self.budgets[POST].acquire((team, channel))

    async def edit(self, method: str, team: str, since: float) -> None:
        """Space one message's edits ``min_interval`` apart, then wait for the workspace's turn."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, since + self._min_interval - loop.time()))
        await self.budgets[method].acquire(team)

    def retry_handlers(self) -> list[AsyncRetryHandler]:
        """For the web client: connection errors as slack_sdk does by default, and shared 429s."""
        return [AsyncConnectionErrorRetryHandler(), SharedRetryAfter(self.budgets)]


class SharedRetryAfter(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry, plus: every write drawing on that method's budget waits too."""

    def __init__(self, budgets: dict[str, EditBudget], max_retry_count: int = 5) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._budgets = budgets

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is not None:
            method = request.url.rstrip("/").rsplit("/", 1)[-1]
            retry_after = _retry_after(response)
            _log.warning("Slack rate limited %s; retrying in %ss", method, retry_after)
            budget = self._budgets.get(method) or (
                self._budgets[POST] if method == "chat.startStream" else None
            )
            if budget is not None:
                budget.pause(retry_after)
        await super().prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def _retry_after(response: HttpResponse) -> float:
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return float(values[0] if isinstance(values, list) else values)
            except ValueError:
                break
    return 1.0
