"""Every sentence the bot says to users, by key, in English and Japanese.

``text(key, locale, **values)`` formats one; ``placeholders(key)`` names the values a
sentence needs, so an error can check its key when made; ``language(tag)`` reads a
platform's locale tag (``ja-JP``, ``en-GB``, Discord's ``ja``) as one of
:data:`LANGUAGES`. The sentences themselves live in :mod:`core.catalogues`.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Mapping

from core.catalogues import en, ja

DEFAULT = "en"
_CATALOGUES: Mapping[str, Mapping[str, str]] = {"en": en.MESSAGES, "ja": ja.MESSAGES}
LANGUAGES = tuple(_CATALOGUES)
"""The languages the bot speaks; a setting such as ``BOT_LOCALE`` names one of them."""


def language(tag: str | None) -> str | None:
    """The language of locale ``tag`` (``ja-JP`` -> ``ja``), or ``None`` if the bot does not speak it."""
    if not tag:
        return None
    code = tag.replace("_", "-").split("-")[0].lower()
    return code if code in _CATALOGUES else None


def text(key: str, locale: str = DEFAULT, **values: object) -> str:
    """The sentence ``key`` in ``locale`` (English for a language the bot lacks), filled with ``values``."""
    catalogue = _CATALOGUES[language(locale) or DEFAULT]
    return catalogue.get(key, en.MESSAGES[key]).format(**values)


def placeholders(key: str) -> frozenset[str]:
    """The names of the values sentence ``key`` needs; :class:`KeyError` if there is no such sentence."""
    if key not in en.MESSAGES:
        raise KeyError(f"no sentence {key!r} in core/catalogues/en.py")
    return frozenset(name for name, _, _ in fields(en.MESSAGES[key]))


@functools.cache
def fields(template: str) -> frozenset[tuple[str, str, str]]:
    """Each replacement field of ``template`` as (value name, conversion, format spec)."""
    parsed = string.Formatter().parse(template)
    return frozenset(
        (field.partition(".")[0].partition("[")[0], conversion or "", spec or "")
        for _, field, spec, conversion in parsed
        if field
    )
