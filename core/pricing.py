"""What OpenAI usage costs, from the price table in settings (``OPENAI_PRICES``); no prices in code.

The table reads ``model=IN/OUT`` (US dollars per million tokens in and out) or
``model=P/image`` (dollars per image), comma-separated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.store.activity import UNRECORDED_MODEL, Usage, UsageByModel


@dataclass(frozen=True)
class Price:
    """One model's price: per million tokens in and out, and per image."""

    per_million_in: float = 0.0
    per_million_out: float = 0.0
    per_image: float = 0.0


Prices = Mapping[str, Price]


def parse_prices(raw: str) -> dict[str, Price]:
    """The table in ``raw``; ``ValueError`` naming the first entry that cannot be read."""
    prices: dict[str, Price] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        model, _, figures = item.partition("=")
        first, slash, second = figures.partition("/")
        try:
            if not model.strip() or not slash:
                raise ValueError(item)
            if second.strip() == "image":
                price = Price(per_image=_amount(first))
            else:
                price = Price(per_million_in=_amount(first), per_million_out=_amount(second))
        except ValueError:
            raise ValueError(f"{item!r} is not model=IN/OUT or model=PRICE/image") from None
        prices[model.strip()] = price
    return prices


def _amount(raw: str) -> float:
    value = float(raw)
    if not 0 <= value < float("inf"):
        raise ValueError(raw)
    return value


@dataclass(frozen=True)
class Estimate:
    """What a month's usage cost: ``dollars`` for the models priced, and the models used that
    have no price (sorted; none when ``dollars`` is the whole cost)."""

    dollars: float
    unpriced: tuple[str, ...] = ()


def cost(usage_by_model: UsageByModel, prices: Prices, *, chat_model: str, image_model: str) -> Estimate:
    """The estimated dollars ``usage_by_model`` cost, each model's usage at that model's price.

    Usage added before usage was kept per model (model :data:`core.store.activity.UNRECORDED_MODEL`)
    is priced as it was then: its tokens at ``chat_model``'s price and its images at ``image_model``'s. A model
    used (tokens or images) with no price is named in the estimate's ``unpriced``, and adds nothing.
    """
    dollars, unpriced = 0.0, set()
    for model, usage in usage_by_model.items():
        if model == UNRECORDED_MODEL:
            parts = [
                (chat_model, Usage(usage.tokens_in, usage.tokens_out)),
                (image_model, Usage(images=usage.images)),
            ]
        else:
            parts = [(model, usage)]
        for priced_as, used in parts:
            if used == Usage():
                continue
            price = prices.get(priced_as)
            if price is None:
                unpriced.add(priced_as)
                continue
            dollars += (used.tokens_in * price.per_million_in + used.tokens_out * price.per_million_out) / 1e6
            dollars += used.images * price.per_image
    return Estimate(dollars, tuple(sorted(unpriced)))
