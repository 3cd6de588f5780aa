"""Where per-user state lives: janken games, stats and chat history."""

from core.store.base import Decide, Played, PlayerKey, Store
from core.store.factory import open_store

__all__ = ["Decide", "Played", "PlayerKey", "Store", "open_store"]
