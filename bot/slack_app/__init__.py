"""The Slack platform: :func:`build` wires it (clients, pacer, streamer, Bolt app, listeners).

Modules: ``listeners`` (the Bolt app and every listener, with payload translators),
``reply`` (the Slack Reply), ``stream`` and ``live_message`` (answers shown as they
are generated), ``limits`` (Slack's tier table, the pacer and the paced web client),
``render`` (mrkdwn and Block Kit), ``server`` (HTTP and Socket Mode), ``verify``
(request signatures), ``inbound`` (a signed payload's shape, checked before Bolt reads it),
``user_groups`` (``ALLOWED_ROLES``), ``user_locales`` (each user's language) and ``ack``
(acknowledge first under a burst).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.rate_budget import BudgetFactory, local_budget
from bot.slack_app.limits import PacedWebClient, SlackPacer, budget_scope
from bot.slack_app.listeners import SlackListeners, build_app
from bot.slack_app.stream import SlackStreamer
from handlers.port import Services

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True)
class SlackBuild:
    """What :func:`build` made: the Bolt app to serve, and the parts a caller may need."""

    app: AsyncApp
    listeners: SlackListeners
    streamer: SlackStreamer
    pacer: SlackPacer
    client: PacedWebClient
    """Every Web API call of the bot goes through it (Socket Mode's connection too)."""


async def build(
    services: Services,
    session: aiohttp.ClientSession,
    *,
    token: str,
    signing_secret: str,
    api_url: str,
    native: bool = True,
    pacer: SlackPacer | None = None,
    redis: Redis | None = None,
    **message_limits: int,
) -> SlackBuild:
    """The Slack app for one workspace's bot token, on ``session``; checks the token once.

    With ``redis``, Slack's rate budgets are kept there, shared with every process
    that serves the same token. ``message_limits`` (``native_limit``, ``edit_limit``)
    and ``pacer`` are for tests.
    """
    pacer = pacer or SlackPacer(budgets=_budgets(redis, token))
    client = PacedWebClient(pacer=pacer, token=token, base_url=api_url, session=session)
    request_client = AsyncWebClient(  # Bolt's: a copy per request, with the checked token
        base_url=api_url, session=session, retry_handlers=client.retry_handlers
    )
    streamer = SlackStreamer(client, pacer, native=native, **message_limits)
    app, listeners = await build_app(client, request_client, signing_secret, services, streamer, session)
    return SlackBuild(app, listeners, streamer, pacer, client)


def _budgets(redis: Redis | None, token: str) -> BudgetFactory:
    """Budgets in ``redis`` under the token's scope, or kept in this process without one."""
    if redis is None:
        return local_budget
    from bot.shared_rate_budget import shared_budgets  # imports redis: only when it is used

    return shared_budgets(redis, budget_scope(token))
