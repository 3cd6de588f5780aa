"""Where per-user state lives: janken games and the boards showing them, stats and chat history."""

from core.store.base import BoardLink, Decide, Played, PlayerKey, Store
from core.store.factory import open_store

__all__ = ["BoardLink", "Decide", "Played", "PlayerKey", "Store", "open_store"]
