"""The store interface every backend implements, and the values it trades in.

Backends persist; the rules live in :mod:`core.janken`. ``apply_round`` is the
one write that must be atomic and idempotent: the same ``move_id`` applied
twice changes state once and returns the first result again.

A stored record this build cannot read (:class:`core.store.codec.UndecodableRecord`:
an older or newer format, a missing field, garbage) must not lock its player
out: it counts as absent (no game, a fresh record), is logged once as a
warning naming the player, and is dropped or replaced by the next write.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.conversation import Turn
from core.janken import Game, Opponent, Round, Stats, advance, record
from core.store.activity import HistoryEntry, Measure, Usage, UsageByModel

Decide = Callable[[Game], Round]
"""A pure function that resolves one round of a game (no I/O, no awaits)."""

MOVES_REMEMBERED = 200
"""How many applied move ids a backend keeps per player to spot repeats."""

BOARDS_REMEMBERED = 50
"""How many board links a backend keeps per player (the newest); an older board reads as unknown."""

DELIVERY_TTL = 3600.0
"""Seconds a delivery's id (a Slack event or click, a Discord interaction or message) stays claimed
with :meth:`Store.claim`: far longer than any platform redelivers or a Discord token lives."""

ANSWERS_REMEMBERED = 100_000
"""How many answer links a backend keeps: a link is forgotten once this many more have been made."""

BLOB_MAX = 256 * 1024
"""Bytes one blob may hold: the store keeps small pictures, not files."""


@dataclass(frozen=True)
class PlayerKey:
    """Whose state: one user in one workspace of one platform."""

    platform: str
    workspace: str
    user: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.user}"


@dataclass(frozen=True)
class Played:
    """What one move did. ``game`` is the state after it, even when the game ended."""

    round: Round
    game: Game
    stats: Stats
    repeated: bool = False


@dataclass(frozen=True)
class BoardLink:
    """Whose game a board message shows, which game, and against whom, as the bot last drew it.

    ``opponent`` outlives the game (a finished game leaves the store), so "play again" on
    the board can read it; ``None`` when it was not recorded or cannot be read.
    """

    player: PlayerKey
    game_id: str
    opponent: Opponent | None = None


@dataclass(frozen=True)
class Ranked:
    """One row of a leaderboard: the player, their record, and the name they last played under
    (:meth:`Store.apply_round`'s ``name``), or their user id when none is known (a record kept
    before names were, or rounds played with none). The name is user input: show it as text."""

    player: PlayerKey
    stats: Stats
    name: str


def ranked(player: PlayerKey, stats: Stats, name: str | None) -> Ranked:
    """A leaderboard row; the user id stands in for a name not known."""
    return Ranked(player, stats, name or player.user)


def check_blob(data: bytes, ttl: float) -> None:
    """Refuse what :meth:`Store.keep_blob` must not keep, before a backend writes anything."""
    if len(data) > BLOB_MAX:
        raise ValueError(f"a blob holds at most {BLOB_MAX} bytes, not {len(data)}")
    if not 0 < ttl < math.inf:  # NaN fails too
        raise ValueError(f"a blob's ttl must be a positive number of seconds, not {ttl!r}")


def resolve(game: Game, stats: Stats, decide: Decide) -> Played:
    """Apply ``decide`` to the game and the player's record."""
    round_ = decide(game)
    return Played(round=round_, game=advance(game, round_), stats=record(stats, round_))


class Store(abc.ABC):
    """Async state storage. Implementations never block the event loop."""

    @abc.abstractmethod
    async def get_game(self, player: PlayerKey) -> Game | None:
        """The player's running game, if any."""

    @abc.abstractmethod
    async def start_game(self, player: PlayerKey, game: Game) -> None:
        """Make ``game`` the player's running game, replacing any other."""

    @abc.abstractmethod
    async def ensure_game(self, player: PlayerKey, game: Game) -> Game:
        """The running game, or ``game`` stored as the running one if none runs (atomically)."""

    @abc.abstractmethod
    async def end_game(self, player: PlayerKey) -> Game | None:
        """Drop the running game and return it (``None`` if there was none)."""

    @abc.abstractmethod
    async def apply_round(
        self, player: PlayerKey, move_id: str, decide: Decide, *, start: Game | None = None, name: str = ""
    ) -> Played | None:
        """Atomically play one round of the running game (or of ``start`` if none runs).

        A ``move_id`` seen before returns its first result with ``repeated=True``
        and changes nothing. A finished game is removed. ``None`` when there is
        no game and no ``start``, and for a move seen before whose result can no
        longer be read (it stays applied: it is not played again).

        ``name``, when not empty, becomes the name :meth:`top_players` shows for the player
        (cut to :data:`core.store.activity.PLAYER_NAME_CHARS`), written with the stats in the same
        atomic step; an empty one keeps the name they had.
        """

    @abc.abstractmethod
    async def get_stats(self, player: PlayerKey) -> Stats:
        """The player's record (zeros for a newcomer)."""

    @abc.abstractmethod
    async def link_board(
        self, ref: str, player: PlayerKey, game_id: str, opponent: Opponent | None = None
    ) -> None:
        """Record that board message ``ref`` now shows ``player``'s game ``game_id`` against ``opponent``.

        ``ref`` is opaque (the caller makes it unique per platform and message). Linking a
        ref again replaces its link and makes it the player's newest; each player keeps
        only the newest :data:`BOARDS_REMEMBERED` links, so the links stay bounded.
        """

    @abc.abstractmethod
    async def board_of(self, ref: str) -> BoardLink | None:
        """Whose game (which, and against whom) the board message ``ref`` shows; ``None`` for a
        board never linked or no longer remembered. A click on a board trusts this, not the
        board's own data. An opponent that cannot be read is logged once and reads as ``None``.
        """

    @abc.abstractmethod
    async def link_answer(self, ref: str, conversation: str) -> None:
        """Record that answer message ``ref`` belongs to ``conversation`` (a history key).

        ``ref`` is opaque (the caller makes it unique per platform and message). Linking a ref
        again replaces its conversation and renews it. The links are bounded by count, not time:
        a link is forgotten once :data:`ANSWERS_REMEMBERED` further links have been made after it
        (a backend may take the bound from its constructor), so at most that many are kept.
        """

    @abc.abstractmethod
    async def conversation_of(self, ref: str) -> str | None:
        """The conversation answer message ``ref`` belongs to; ``None`` for a message never linked
        or no longer remembered. A reply to that message continues this conversation."""

    @abc.abstractmethod
    async def load_history(self, conversation: str) -> list[Turn]:
        """The kept turns of a conversation, oldest first."""

    @abc.abstractmethod
    async def append_history(
        self, conversation: str, turns: Sequence[Turn], *, keep: int, ttl: float | None = None
    ) -> None:
        """Add turns and keep only the newest ``keep`` of the conversation.

        With ``ttl`` (seconds), the whole conversation expires that long after this append
        (each append renews it): :meth:`load_history` then returns ``[]``, and the backend
        frees its turns (Redis by key expiry; the others when they next touch it, or sweep).
        """

    @abc.abstractmethod
    async def claim(self, key: str, ttl: float, *, holder: str = "") -> bool:
        """Atomically mark ``key`` as taken by ``holder`` for ``ttl`` seconds: ``True`` for the one
        caller that took it, ``False`` while it is taken (by anyone, in any process sharing the store).

        Used to answer a redelivered event once (``event:…``) and to hold a per-user
        lock (``inflight:…``); a lock is freed by its holder's :meth:`release`, or by its ``ttl``
        if the process holding it died. A lock's ``holder`` should be unique to the one taking
        it (a random token), so that a holder whose lock expired and was taken by another
        cannot free the other's.
        """

    @abc.abstractmethod
    async def release(self, key: str, *, holder: str = "") -> None:
        """Free ``key`` if ``holder`` holds it, comparing and deleting atomically; nothing happens
        when it is not taken or another holder has it (a claim made without a holder is released
        without one)."""

    @abc.abstractmethod
    async def take_unit(self, key: str, limit: int, ttl: float) -> int | None:
        """Atomically count one use on counter ``key`` unless it has reached ``limit``.

        Returns the count after this use, or ``None`` (nothing counted) when ``limit`` uses
        are already counted. A counter starts at 0 and expires ``ttl`` seconds after its
        first use (not renewed by later uses).
        """

    @abc.abstractmethod
    async def give_unit(self, key: str) -> None:
        """Take back one use from counter ``key`` (never below 0; nothing for a missing counter)."""

    @abc.abstractmethod
    async def count(self, key: str) -> int:
        """The uses counted on counter ``key`` (as :meth:`take_unit` made it); 0 for a missing or
        expired one. Reading changes nothing."""

    @abc.abstractmethod
    async def keep_blob(self, key: str, data: bytes, ttl: float) -> None:
        """Keep ``data`` under ``key`` for ``ttl`` seconds, replacing what was there (and its expiry).

        Raises ValueError, keeping nothing, for more than :data:`BLOB_MAX` bytes or a ttl that is
        not positive (or not finite): :func:`check_blob`. Used for a picture another process, or
        this one after a restart, must still be able to show (a janken opponent's drawn art).
        """

    @abc.abstractmethod
    async def blob(self, key: str) -> bytes | None:
        """The bytes kept under ``key``; None when missing or expired. Reading changes nothing."""

    # The command log. ``keep`` is the retention (seconds; the deployment's HISTORY_DAYS), passed to
    # every call, the same in all: an entry whose ``time`` is more than ``keep`` before now is gone.
    # It is never returned nor counted, and backends delete it: Redis on each write to the player's
    # log and by key expiry, SQLite on each write (the player's, and a bounded batch of others'),
    # memory on each write to the player's log. Each player keeps at most the newest
    # ENTRIES_REMEMBERED (a backend may take the bound from its constructor).

    @abc.abstractmethod
    async def log_entry(self, player: PlayerKey, entry: HistoryEntry, *, keep: float) -> None:
        """Add ``entry`` to ``player``'s log, its texts cut to ENTRY_CHARS each (atomically, with
        the trimming of what is older than ``keep`` or beyond the bound)."""

    @abc.abstractmethod
    async def entries(self, player: PlayerKey, *, offset: int, limit: int, keep: float) -> list[HistoryEntry]:
        """``player``'s entries newest first (by ``time``; equal times, the later logged first),
        skipping ``offset`` and returning at most ``limit``: one page. An unreadable entry counts as
        absent: it is dropped and logged once, and the page is read again without it."""

    @abc.abstractmethod
    async def count_entries(self, player: PlayerKey, *, keep: float) -> int:
        """How many entries ``player``'s log holds (one not yet found unreadable counts)."""

    @abc.abstractmethod
    async def clear_entries(self, player: PlayerKey, *, keep: float) -> int:
        """Delete ``player``'s whole log atomically; how many entries it held (as :meth:`count_entries`)."""

    @abc.abstractmethod
    async def add_usage(self, player: PlayerKey, month: str, model: str, used: Usage) -> None:
        """Add ``used`` to ``player``'s totals of ``model`` for ``month`` (UTC, ``YYYY-MM``:
        :func:`core.store.activity.month_of`), atomically. The month's totals, every model's,
        expire USAGE_TTL after the month's last addition."""

    @abc.abstractmethod
    async def usage(self, player: PlayerKey, month: str) -> UsageByModel:
        """``player``'s totals for ``month`` per model (:data:`core.store.activity.UsageByModel`);
        empty when there are none (or they expired). Totals added before usage was kept per model
        read as model :data:`core.store.activity.UNRECORDED_MODEL`."""

    @abc.abstractmethod
    async def top_players(self, platform: str, workspace: str, *, by: Measure, limit: int) -> list[Ranked]:
        """The workspace's best ``limit`` players, their records and names, highest ``by`` first; equal
        ones by the other measure, then by user id. Only players of that platform's workspace appear, and
        only those whose ``by`` is above 0; a player whose record cannot be read is left out. Redis and
        SQLite keep the ranking and the names where :meth:`apply_round` writes stats (memory sorts on
        each call)."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Check the backend answers now; raise :class:`core.errors.Unavailable` if it does not."""

    async def close(self) -> None:
        """Release connections; the default has none."""
