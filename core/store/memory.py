"""In-process store (``memory://``): for tests and throwaway runs; nothing survives a restart."""

from __future__ import annotations

import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Sequence

from core.conversation import Turn
from core.janken import Game, Opponent, Stats
from core.store import codec
from core.store.activity import ENTRIES_REMEMBERED, Measure, player_name, ranking
from core.store.base import (
    ANSWERS_REMEMBERED,
    BOARDS_REMEMBERED,
    MOVES_REMEMBERED,
    BoardLink,
    Decide,
    Played,
    PlayerKey,
    Ranked,
    check_blob,
    ranked,
    resolve,
)
from core.store.memory_activity import MemoryActivity

BLOBS_KEPT = 64
"""Blobs a memory store holds at most (the oldest kept go first): each may be 256 KB, and this store
lives in the bot's own memory, where the other backends' disk or Redis has room."""


class MemoryStore(MemoryActivity):
    """Dictionaries in one process. No method awaits mid-change, so each is atomic.

    They hold the encoded records the other backends keep, so every backend reads
    (and refuses) the same records in the same way.
    """

    def __init__(
        self, *, answers_remembered: int = ANSWERS_REMEMBERED, entries_remembered: int = ENTRIES_REMEMBERED
    ) -> None:
        super().__init__(entries_remembered=entries_remembered)
        self._games: dict[PlayerKey, str] = {}
        self._stats: dict[PlayerKey, str] = {}
        self._names: dict[PlayerKey, str] = {}
        """The name each player last played under (the leaderboard's)."""
        self._moves: defaultdict[PlayerKey, OrderedDict[str, str]] = defaultdict(OrderedDict)
        self._history: dict[str, deque[Turn]] = {}
        self._boards: dict[str, tuple[PlayerKey, str, str | None]] = {}
        """Each board's player, game id and encoded opponent."""
        self._boards_of: defaultdict[PlayerKey, OrderedDict[str, None]] = defaultdict(OrderedDict)
        """Each player's board refs, oldest first, to keep the newest ``BOARDS_REMEMBERED``."""
        self._answers: OrderedDict[str, tuple[int, str]] = OrderedDict()
        """Each answer ref's link number and conversation, oldest link first."""
        self._answer_links = 0
        self._answers_remembered = answers_remembered
        self._history_expiry: dict[str, float] = {}
        self._claims: dict[str, float] = {}
        """Each taken key's expiry (``time.monotonic()``)."""
        self._claim_holders: dict[str, str] = {}
        """Each taken key's holder."""
        self._counters: dict[str, int] = {}
        self._counter_expiry: dict[str, float] = {}
        self._blobs: dict[str, bytes] = {}
        self._blob_expiry: dict[str, float] = {}
        self._swept_size = 0
        """How many entries expire (claims, counters, conversations, blobs) after the last sweep."""

    async def get_game(self, player: PlayerKey) -> Game | None:
        return self._game(player)

    async def start_game(self, player: PlayerKey, game: Game) -> None:
        self._games[player] = codec.dump_game(game)

    async def ensure_game(self, player: PlayerKey, game: Game) -> Game:
        running = self._game(player)
        if running is not None:
            return running
        self._games[player] = codec.dump_game(game)
        return game

    async def end_game(self, player: PlayerKey) -> Game | None:
        game = self._game(player)
        self._games.pop(player, None)
        return game

    async def apply_round(
        self, player: PlayerKey, move_id: str, decide: Decide, *, start: Game | None = None, name: str = ""
    ) -> Played | None:
        seen = self._moves[player]
        if move_id in seen:
            return self._repeat(player, move_id)
        game = self._game(player) or start
        if game is None:
            return None
        played = resolve(game, self._stats_of(player), decide)
        if played.game.over:
            self._games.pop(player, None)
        else:
            self._games[player] = codec.dump_game(played.game)
        self._stats[player] = codec.dump_stats(played.stats)
        if name:
            self._names[player] = player_name(name)
        seen[move_id] = codec.dump_played(played)
        while len(seen) > MOVES_REMEMBERED:
            seen.popitem(last=False)
        return played

    async def get_stats(self, player: PlayerKey) -> Stats:
        return self._stats_of(player)

    async def link_board(
        self, ref: str, player: PlayerKey, game_id: str, opponent: Opponent | None = None
    ) -> None:
        previous = self._boards.get(ref)
        if previous is not None:
            self._boards_of[previous[0]].pop(ref, None)
        self._boards[ref] = (player, game_id, None if opponent is None else codec.dump_opponent(opponent))
        newest = self._boards_of[player]
        newest[ref] = None
        while len(newest) > BOARDS_REMEMBERED:
            dropped, _ = newest.popitem(last=False)
            del self._boards[dropped]

    async def board_of(self, ref: str) -> BoardLink | None:
        if ref not in self._boards:
            return None
        player, game_id, opponent = self._boards[ref]
        if opponent is None:
            return BoardLink(player, game_id)
        try:
            return BoardLink(player, game_id, codec.load_opponent(opponent))
        except codec.UndecodableRecord as exc:
            self._boards[ref] = (player, game_id, None)
            codec.log_discarded(str(player), f"opponent of board {ref!r}", exc)
            return BoardLink(player, game_id)

    async def link_answer(self, ref: str, conversation: str) -> None:
        self._answer_links += 1
        self._answers.pop(ref, None)
        self._answers[ref] = (self._answer_links, conversation)
        forgotten = self._answer_links - self._answers_remembered  # this link number and older go
        while self._answers and next(iter(self._answers.values()))[0] <= forgotten:
            self._answers.popitem(last=False)

    async def conversation_of(self, ref: str) -> str | None:
        link = self._answers.get(ref)
        return None if link is None else link[1]

    async def load_history(self, conversation: str) -> list[Turn]:
        if self._expired(self._history_expiry, conversation):
            self._history.pop(conversation, None)
        return list(self._history.get(conversation, ()))

    async def append_history(
        self, conversation: str, turns: Sequence[Turn], *, keep: int, ttl: float | None = None
    ) -> None:
        self._sweep()
        if self._expired(self._history_expiry, conversation):
            self._history.pop(conversation, None)
        kept = self._history.setdefault(conversation, deque(maxlen=keep))
        kept.extend(turns)
        if ttl is None:
            self._history_expiry.pop(conversation, None)
        else:
            self._history_expiry[conversation] = time.monotonic() + ttl

    async def claim(self, key: str, ttl: float, *, holder: str = "") -> bool:
        self._sweep()
        if key in self._claims and not self._expired(self._claims, key):
            return False
        self._claims[key] = time.monotonic() + ttl
        self._claim_holders[key] = holder
        return True

    async def release(self, key: str, *, holder: str = "") -> None:
        if key in self._claims and self._claim_holders.get(key) == holder:
            del self._claims[key], self._claim_holders[key]

    async def take_unit(self, key: str, limit: int, ttl: float) -> int | None:
        self._sweep()
        count = self._count(key)
        if count >= limit:
            return None
        self._counters[key] = count + 1
        self._counter_expiry.setdefault(key, time.monotonic() + ttl)
        return count + 1

    async def give_unit(self, key: str) -> None:
        if self._count(key) > 0:
            self._counters[key] -= 1

    def _count(self, key: str) -> int:
        """Counter ``key`` now; an expired one is forgotten and counts 0."""
        if self._expired(self._counter_expiry, key) or key not in self._counter_expiry:
            self._counters.pop(key, None)
        return self._counters.get(key, 0)

    async def count(self, key: str) -> int:
        return self._count(key)

    async def keep_blob(self, key: str, data: bytes, ttl: float) -> None:
        check_blob(data, ttl)
        self._sweep()
        self._blobs.pop(key, None)  # kept again: the newest, the last to be dropped
        self._blobs[key] = bytes(data)
        self._blob_expiry[key] = time.monotonic() + ttl
        while len(self._blobs) > BLOBS_KEPT:  # in process memory: the oldest go first
            oldest = next(iter(self._blobs))
            del self._blobs[oldest]
            self._blob_expiry.pop(oldest, None)

    async def blob(self, key: str) -> bytes | None:
        if self._expired(self._blob_expiry, key):
            self._blobs.pop(key, None)
        return self._blobs.get(key)

    async def top_players(self, platform: str, workspace: str, *, by: Measure, limit: int) -> list[Ranked]:
        order = ranking(by)
        rows = []
        for player, text in self._stats.items():
            if (player.platform, player.workspace) != (platform, workspace):
                continue
            try:
                stats = codec.load_stats(text)
            except codec.UndecodableRecord:
                continue  # left out; get_stats drops and logs it
            if getattr(stats, by) > 0:
                rows.append((player.user, stats))
        rows.sort(key=order)
        top = [(PlayerKey(platform, workspace, user), stats) for user, stats in rows[: max(0, limit)]]
        return [ranked(player, stats, self._names.get(player)) for player, stats in top]

    async def ping(self) -> None:
        """Always answers: it is this process."""

    def _sweep(self) -> None:
        """Forget every expired claim, counter, conversation and blob once their number has doubled
        since the last sweep: a key never touched again (each event's claim) would otherwise stay
        for ever. Doubling keeps the cost per write constant on average."""
        size = self._expiring()
        if size < 2 * self._swept_size + 64:
            return
        now = time.monotonic()
        for expiries, values in (
            (self._claims, self._claim_holders),
            (self._counter_expiry, self._counters),
            (self._history_expiry, self._history),
            (self._blob_expiry, self._blobs),
        ):
            for key in [key for key, expiry in expiries.items() if expiry <= now]:
                del expiries[key]
                if values is not None:
                    values.pop(key, None)
        self._swept_size = self._expiring()

    def _expiring(self) -> int:
        """How many entries have an expiry (claims, counters, conversations, blobs)."""
        expiries = (self._claims, self._counter_expiry, self._history_expiry, self._blob_expiry)
        return sum(len(expiry) for expiry in expiries)

    def _expired(self, expiries: dict[str, float], key: str) -> bool:
        """Whether ``key`` has an expiry that has passed; an expired entry is forgotten."""
        expiry = expiries.get(key)
        if expiry is None or expiry > time.monotonic():
            return False
        del expiries[key]
        return True

    def _game(self, player: PlayerKey) -> Game | None:
        """The running game; an unreadable one is logged, dropped, and counts as none."""
        text = self._games.get(player)
        if text is None:
            return None
        try:
            return codec.load_game(text)
        except codec.UndecodableRecord as exc:
            del self._games[player]
            codec.log_discarded(str(player), "game", exc)
            return None

    def _stats_of(self, player: PlayerKey) -> Stats:
        """The player's record; an unreadable one is logged, dropped, and counts as a fresh one."""
        try:
            return codec.load_stats(self._stats.get(player))
        except codec.UndecodableRecord as exc:
            del self._stats[player]
            codec.log_discarded(str(player), "stats", exc)
            return Stats()

    def _repeat(self, player: PlayerKey, move_id: str) -> Played | None:
        """A seen move's first result; ``None`` once it proved unreadable (logged when found)."""
        seen = self._moves[player]
        if seen[move_id] == codec.FORGOTTEN:
            return None
        try:
            return codec.load_played(seen[move_id])
        except codec.UndecodableRecord as exc:
            seen[move_id] = codec.FORGOTTEN
            codec.log_discarded(str(player), f"result of move {move_id!r}", exc)
            return None
