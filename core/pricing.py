"""What OpenAI usage costs, from the price table in settings (``OPENAI_PRICES``); no prices in code.

The table reads ``model=IN/OUT`` (US dollars per million tokens in and out) or
``model=P/image`` (dollars per image), comma-separated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.store.history import Usage


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


def cost(usage: Usage, prices: Prices, *, chat_model: str, image_model: str) -> float | None:
    """The estimated dollars ``usage`` cost, its tokens at ``chat_model``'s price and its images at
    ``image_model``'s; ``None`` when a model that was used has no price."""
    chat, image = prices.get(chat_model), prices.get(image_model)
    if (chat is None and (usage.tokens_in or usage.tokens_out)) or (image is None and usage.images):
        return None
    total = 0.0
    if chat is not None:
        total += (usage.tokens_in * chat.per_million_in + usage.tokens_out * chat.per_million_out) / 1e6
    if image is not None:
        total += usage.images * image.per_image
    return total
