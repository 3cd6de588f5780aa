"""Slack 429s: retry after ``Retry-After`` and hold the shared edit budget meanwhile."""

from __future__ import annotations

import logging
from collections.abc import Mapping

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


class SharedRetryAfter(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 retry, plus: every stream editing with that method waits too."""

    def __init__(self, budgets: Mapping[str, EditBudget], max_retry_count: int = 5) -> None:
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
            if method in self._budgets:
                self._budgets[method].pause(method, retry_after)
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


def retry_handlers(budgets: Mapping[str, EditBudget]) -> list[AsyncRetryHandler]:
    """Connection errors as slack_sdk does by default, and 429s shared with the budgets."""
    return [AsyncConnectionErrorRetryHandler(), SharedRetryAfter(budgets)]
