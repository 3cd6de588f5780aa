"""What handlers see of the world: the command, the reply port and the services.

Adapters build a :class:`Command` from a platform payload and pass a
:class:`Reply` that knows how to talk back on that platform. Handlers never
import a chat library.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol

from core.ai import GeneratedImage, Quality, TokenMeter
from core.audio import Transcript
from core.conversation import Turn
from core.janken import Game, Move, RandomSource, Round
from core.pricing import Prices
from core.slots import Slots
from core.store import PlayerKey, Store

DM_WORKSPACE = "dm"
"""The workspace of a command from no shared workspace: a Discord DM or private channel (no guild).
Every such place has this one workspace, so what is kept per workspace (the leaderboard) means
nothing there: see :attr:`Command.in_dm`. (A Slack DM belongs to its team, a workspace like any.)"""


@dataclass(frozen=True)
class Command:
    """A user's command, neutral of platform. ``thread`` is set when it continues a thread."""

    platform: str
    workspace: str
    channel: str
    user: str
    text: str
    thread: str | None = None
    conversation: str | None = None
    """The history a question continues, when it is not simply the thread's (e.g. a whole DM)."""
    user_name: str = ""
    locale: str = "en"
    request_id: str = ""
    """Unique per delivery of this command; repeats of one delivery share it."""
    roles: frozenset[str] = frozenset()
    """The user's role ids (Discord) or user group ids (Slack), as far as ``ALLOWED_ROLES`` needs them."""

    @property
    def display_name(self) -> str:
        return self.user_name or self.user

    @property
    def player(self) -> PlayerKey:
        return PlayerKey(self.platform, self.workspace, self.user)

    @property
    def in_dm(self) -> bool:
        """Whether the command comes from no shared workspace (its workspace is :data:`DM_WORKSPACE`)."""
        return self.workspace == DM_WORKSPACE


@dataclass(frozen=True)
class AskRequest:
    question: str


@dataclass(frozen=True)
class DrawRequest:
    prompt: str
    size: str = "1024x1024"
    quality: Quality = "medium"


JankenAction = Literal["show", "play", "start", "stats", "quit", "again", "top"]


@dataclass(frozen=True)
class Board:
    """The game message a button was on: whose game, which game, which round it offered.

    ``owner``, ``game_id`` and ``round`` are what the button carried (its code, as
    :mod:`handlers.janken_board` writes it): client-side data, checked against the store.
    ``ref`` names the message itself, as the adapter's :meth:`Reply.show_game` returns it;
    the store links it to the game it shows.
    """

    owner: str
    game_id: str = ""
    round: int = 0
    ref: str = ""


@dataclass(frozen=True)
class JankenRequest:
    """What ``/janken`` (text, typed options or a button) asks for."""

    action: JankenAction
    move: Move | None = None
    character: str | None = None
    board: Board | None = None


@dataclass(frozen=True)
class GameView:
    """What a game message shows: the game's state and, after a move, the round just played."""

    player: str
    game: Game
    played: Round | None = None
    finished: bool = False
    card: bytes | None = field(default=None, repr=False, compare=False)
    """The battle card (PNG, :mod:`handlers.janken_card`) the board shows, when it has one."""


@dataclass(frozen=True)
class PageButton:
    """A button under a private message: ``code`` is what a click carries back
    (:mod:`handlers.history_buttons`); ``typed`` the text command that does the same."""

    label: str
    code: str
    typed: str


class AIPort(Protocol):
    """The slice of :class:`core.ai.AIService` handlers use."""

    @property
    def chat_model(self) -> str: ...

    @property
    def image_model(self) -> str: ...

    def check(self) -> None: ...

    def stream_answer(
        self, history: Sequence[Turn], question: str, meter: TokenMeter | None = None
    ) -> AsyncGenerator[str, None]: ...

    async def generate_image(self, prompt: str, *, size: str, quality: Quality) -> GeneratedImage: ...

    async def flagged(self, text: str) -> bool: ...

    async def transcribe(self, audio: bytes, filename: str) -> Transcript: ...


class Reply(Protocol):
    """How a handler talks back on the platform the command came from."""

    async def post_text(self, text: str) -> None:
        """Post a message everyone in the conversation sees."""

    async def send_private(self, text: str) -> None:
        """Show a message only to the user who sent the command."""

    async def send_private_page(self, text: str, buttons: Sequence[PageButton]) -> None:
        """Show ``text`` only to the user, with ``buttons`` under it (a platform without buttons
        shows each button's :attr:`PageButton.typed` command instead)."""

    async def start_thread(self, title: str) -> str:
        """Post ``title`` as the root of a new thread and return the thread's id."""

    async def stream_text(self, thread: str, deltas: AsyncIterator[str]) -> list[str]:
        """Post text into ``thread`` as it arrives; it must end complete.

        Return the refs of the messages that carry the answer, where a reply to one of them
        continues the conversation (Discord); the store links them to it. A platform whose
        threads are the conversation (Slack, the console) returns none.
        """

    async def post_image(self, image: GeneratedImage, caption: str) -> str:
        """Upload an image with a caption; return a reference to show it again."""

    async def show_game(self, view: GameView, *, edit_clicked: bool = False) -> str:
        """Show the game with move buttons (or its result once finished); return the message's ref.

        A new message is posted, unless ``edit_clicked`` and the command is a click on a
        board: then that board message is edited (the handler checked it is the player's).
        The ref is stable for the message and equal to the :attr:`Board.ref` of a click on it.
        """

    def progress(self, text: str) -> AbstractAsyncContextManager[None]:
        """Show ``text`` while slow work runs; it is removed or replaced on exit, even on error."""


@dataclass(frozen=True)
class JankenRules:
    hp: int = 3
    mercy: bool = False


Moderation = Literal["off", "draw", "all"]


@dataclass(frozen=True)
class Limits:
    """What a user may spend and where commands run (``QUOTA_*``, ``MODERATION``, ``ALLOWED_*``)."""

    quota_ask_per_day: int = 0
    """``/ask`` questions per user per UTC day; 0 = unlimited."""
    quota_draw_per_day: int = 0
    """Images (``/draw`` and drawn janken opponents) per user per UTC day; 0 = unlimited."""
    quota_ttl: float = 48 * 3600.0
    """Seconds a day's quota counter is kept after its first use (at least a day)."""
    conversation_ttl: float | None = 7 * 24 * 3600.0
    """Seconds a conversation's history is kept after its last turn; ``None`` = for ever."""
    moderation: Moderation = "off"
    """Which inputs go through the moderation endpoint first (settings default to ``draw``)."""
    allowed_channels: frozenset[str] = frozenset()
    """Channel ids where commands run; empty = everywhere."""
    allowed_roles: frozenset[str] = frozenset()
    """Role / user group ids whose members may use commands; empty = everyone."""


@dataclass(frozen=True)
class Accounting:
    """How long the command log keeps entries (``HISTORY_DAYS``) and what usage costs (``OPENAI_PRICES``)."""

    history_keep: float = 30 * 24 * 3600.0
    """Seconds an entry of the command log is kept."""
    prices: Prices = field(default_factory=dict)


@dataclass
class Services:
    """Everything handlers call, built once by the composition root."""

    ai: AIPort
    store: Store
    janken: JankenRules = field(default_factory=JankenRules)
    history_turns: int = 20
    rng: RandomSource | None = None
    """The opponent's RNG; ``None`` means ``secrets``."""
    limits: Limits = field(default_factory=Limits)
    openai_slots: Slots = field(default_factory=Slots)
    """How many OpenAI calls this process makes at once (``OPENAI_MAX_CONCURRENCY``)."""
    accounting: Accounting = field(default_factory=Accounting)
    locale: str = "en"
    """The language for a user whose platform does not say theirs (``BOT_LOCALE``); adapters fill
    :attr:`Command.locale` with the user's own where they can."""
