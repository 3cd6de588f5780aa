"""In-process store (``memory://``): for tests and throwaway runs; nothing survives a restart."""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque
from collections.abc import Sequence

from core.conversation import Turn
from core.janken import Game, Stats
from core.store.base import MOVES_REMEMBERED, Decide, Played, PlayerKey, Store, resolve


class MemoryStore(Store):
    """Dictionaries in one process. No method awaits mid-change, so each is atomic."""

    def __init__(self) -> None:
        self._games: dict[PlayerKey, Game] = {}
        self._stats: dict[PlayerKey, Stats] = {}
        self._moves: defaultdict[PlayerKey, OrderedDict[str, Played]] = defaultdict(OrderedDict)
        self._history: dict[str, deque[Turn]] = {}

    async def get_game(self, player: PlayerKey) -> Game | None:
        return self._games.get(player)

    async def start_game(self, player: PlayerKey, game: Game) -> None:
        self._games[player] = game

    async def ensure_game(self, player: PlayerKey, game: Game) -> Game:
        return self._games.setdefault(player, game)

    async def end_game(self, player: PlayerKey) -> Game | None:
        return self._games.pop(player, None)

    async def apply_round(
        self, player: PlayerKey, move_id: str, decide: Decide, *, start: Game | None = None
    ) -> Played | None:
        seen = self._moves[player]
        if move_id in seen:
            return _repeat(seen[move_id])
        game = self._games.get(player, start)
        if game is None:
            return None
        played = resolve(game, self._stats.get(player, Stats()), decide)
        if played.game.over:
            self._games.pop(player, None)
        else:
            self._games[player] = played.game
        self._stats[player] = played.stats
        seen[move_id] = played
        while len(seen) > MOVES_REMEMBERED:
            seen.popitem(last=False)
        return played

    async def get_stats(self, player: PlayerKey) -> Stats:
        return self._stats.get(player, Stats())

    async def load_history(self, conversation: str) -> list[Turn]:
        return list(self._history.get(conversation, ()))

    async def append_history(self, conversation: str, turns: Sequence[Turn], *, keep: int) -> None:
        kept = self._history.setdefault(conversation, deque(maxlen=keep))
        kept.extend(turns)


def _repeat(played: Played) -> Played:
    return Played(round=played.round, game=played.game, stats=played.stats, repeated=True)
