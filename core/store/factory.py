"""Open the store a ``STORE_URL`` names."""

from __future__ import annotations

from core.store.base import Store
from core.store.memory import MemoryStore
from core.store.sqlite import SQLiteStore

SCHEMES = ("sqlite", "memory")
"""The ``STORE_URL`` schemes this build can open."""


def sqlite_path(url: str) -> str:
    """``sqlite:///bot.db`` -> ``bot.db``; ``sqlite:////var/bot.db`` -> ``/var/bot.db``."""
    return url.removeprefix("sqlite:///")


async def open_store(url: str) -> Store:
    """Open the backend for ``url``; the URL was validated by the settings."""
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        return MemoryStore()
    if scheme == "sqlite":
        return await SQLiteStore.open(sqlite_path(url))
    raise ValueError(f"unsupported store URL scheme {scheme!r}")
