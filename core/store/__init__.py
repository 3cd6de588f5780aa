"""Where per-user state lives: janken games and the boards showing them, stats and chat history,
each user's command log and monthly usage, and the janken leaderboard."""

from core.store.activity import HistoryEntry, Measure, Usage, month_of
from core.store.base import BoardLink, Decide, Played, PlayerKey, Store
from core.store.factory import open_store

__all__ = [
    "BoardLink",
    "Decide",
    "HistoryEntry",
    "Measure",
    "Played",
    "PlayerKey",
    "Store",
    "Usage",
    "month_of",
    "open_store",
]
