"""Open the store a ``STORE_URL`` names."""

from __future__ import annotations

from core.errors import BotError, Unavailable
from core.store.base import Store
from core.store.memory import MemoryStore
from core.store.redaction import scrubbed
from core.store.redis import RedisStore
from core.store.sqlite import SQLiteStore

SCHEMES = ("sqlite", "memory", "redis", "rediss")
"""The ``STORE_URL`` schemes this build can open."""


class OpenFailure(Exception):
    """Why a store could not be opened, with the URL's secrets masked.

    It stands in for the driver's error as the cause of :class:`Unavailable`: that
    error's text (and so any logged traceback) may quote the URL, password and all.
    """


def sqlite_path(url: str) -> str:
    """``sqlite:///bot.db`` -> ``bot.db``; ``sqlite:////var/bot.db`` -> ``/var/bot.db``."""
    return url.removeprefix("sqlite:///")


async def open_store(url: str) -> Store:
    """Open the backend for ``url``; the URL was validated by the settings.

    Any failure raises :class:`Unavailable` caused by an :class:`OpenFailure`
    that says why; the driver's own error is not chained.
    """
    try:
        return await _open(url)
    except (BotError, OSError, ValueError) as exc:  # the backends convert their drivers' errors
        reason = scrubbed(_described(exc.__cause__ or exc), url)
    raise Unavailable("store_unavailable") from OpenFailure(reason)


async def _open(url: str) -> Store:
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        return await SQLiteStore.open(sqlite_path(url))
    if scheme in ("redis", "rediss"):
        return await RedisStore.open(url)
    raise ValueError(f"unsupported store URL scheme {scheme!r}")


def _described(error: BaseException) -> str:
    return str(error) or type(error).__name__
