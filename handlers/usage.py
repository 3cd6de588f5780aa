"""/usage: the user's uses today against their quotas, this month's tokens and images, and their cost."""

from __future__ import annotations

import datetime as dt

from core import quota
from core.messages import text
from core.pricing import cost
from core.store.activity import Usage, month_of
from handlers.port import Command, Reply, Services


async def handle(command: Command, reply: Reply, services: Services) -> None:
    await reply.send_private(await report(command, services))


async def report(command: Command, services: Services, now: dt.datetime | None = None) -> str:
    """The usage report, in the user's language.

    Today's figures are the daily counters :mod:`handlers.admission` keeps for every use, quota
    or not (the quota reads "unlimited" when there is none); the month's are the totals the
    handlers add as they finish (:mod:`handlers.logbook`), transcriptions' tokens included, summed
    over the models used; the estimate prices each model's at that model's price, and names the
    models ``OPENAI_PRICES`` has no price for instead when there are any.
    """
    now = now or dt.datetime.now(dt.UTC)
    who = quota.spender(command.player)
    asks = await services.store.count(quota.counter_key("ask", who, now))
    images_today = await services.store.count(quota.counter_key("draw", who, now))
    month = month_of(now.timestamp())
    used = await services.store.usage(command.player, month)
    price = cost(
        used,
        services.accounting.prices,
        chat_model=services.ai.chat_model,
        image_model=services.ai.image_model,
    )
    estimate = (
        text("usage_cost_unpriced", command.locale, models=", ".join(map(repr, price.unpriced)))
        if price.unpriced
        else text("usage_cost", command.locale, cost=price.dollars)
    )
    totals = Usage.total(used.values())
    return text(
        "usage_report",
        command.locale,
        asks=asks,
        ask_quota=_quota(services.limits.quota_ask_per_day, command.locale),
        images_today=images_today,
        image_quota=_quota(services.limits.quota_draw_per_day, command.locale),
        month=month,
        tokens_in=totals.tokens_in,
        tokens_out=totals.tokens_out,
        images=totals.images,
        cost=estimate,
    )


def _quota(limit: int, locale: str) -> str:
    return str(limit) if limit else text("quota_unlimited", locale)
