"""The battle card of a game view: what it shows, in the reader's language, and its PNG.

Every adapter shows the same card (Slack and Discord in the board, the console as a file),
so it is made here, once per board shown, and handed over in :attr:`GameView.card`.

The opponent's art is the picture drawn for it. Its bytes are at hand only when it is
drawn, and the adapters' image refs (a Slack file id, a Discord attachment URL) are not
worth a download per round, so :class:`ArtShelf` keeps the last few drawn pictures in
memory, keyed by image ref. After a restart (or on another process) the art is gone and
the card shows its placeholder instead: a card is a picture of the game, not its state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections import OrderedDict

from core import battle_card
from core.battle_card import BattleCard
from core.janken import Outcome
from core.messages import text
from handlers.port import GameView

ART_KEPT = 16
"""Drawn pictures kept (about 1-2 MB each): the games being played now."""


class ArtShelf:
    """The bytes of the opponents' pictures drawn lately, by image ref (least recently used go)."""

    def __init__(self, size: int = ART_KEPT) -> None:
        self._size = size
        self._arts: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, image_ref: str, art: bytes) -> None:
        if not image_ref:  # an upload the platform gave no ref for cannot be asked for again
            return
        with self._lock:
            self._arts[image_ref] = art
            self._arts.move_to_end(image_ref)
            while len(self._arts) > self._size:
                self._arts.popitem(last=False)

    def get(self, image_ref: str | None) -> bytes | None:
        with self._lock:
            art = self._arts.get(image_ref) if image_ref else None
            if art is not None and image_ref:
                self._arts.move_to_end(image_ref)
            return art


def card_of(view: GameView, locale: str, art: bytes | None = None) -> BattleCard:
    """What the card shows for ``view``: names, HP, the round just played and a banner."""
    game, opponent = view.game, view.game.opponent.name
    played = view.played
    if played is None:
        banner, tone, moves = text("card_prompt", locale, round=game.rounds_played + 1), None, None
    else:
        moves = (move_label(played.player_move.value, locale), move_label(played.opponent_move.value, locale))
        if view.finished and played.winner_of_game is not None:
            won = played.winner_of_game is Outcome.WIN
            banner = text("card_game_won" if won else "card_game_lost", locale)
            tone = played.winner_of_game
        else:
            banner, tone = (
                text(f"card_round_{played.outcome.value}", locale, round=played.number),
                played.outcome,
            )
    return BattleCard(
        player_name=view.player,
        opponent_name=opponent,
        player_hp=game.player_hp,
        opponent_hp=game.opponent_hp,
        max_hp=game.max_hp,
        opponent_art=art,
        last_round=moves,
        banner=banner,
        tone=tone,
    )


def move_label(move: str, locale: str) -> str:
    """A move as the card writes it: a word, no emoji (the card's font has none)."""
    return text(f"card_move_{move}", locale)


def alt_text(view: GameView, locale: str) -> str:
    """The card in words, for screen readers and Slack's ``alt_text``."""
    game = view.game
    return text(
        "card_alt",
        locale,
        player=view.player,
        opponent=game.opponent.name,
        player_hp=game.player_hp,
        opponent_hp=game.opponent_hp,
        max_hp=game.max_hp,
    )


SHELF = ArtShelf()
"""This process's drawn pictures: a cache like :mod:`core.battle_card`'s, not a client."""


async def with_card(view: GameView, locale: str, shelf: ArtShelf = SHELF) -> GameView:
    """``view`` carrying its card's PNG, rendered in a worker thread (it is CPU-bound)."""
    card = card_of(view, locale, shelf.get(view.game.opponent.image_ref))
    png = await asyncio.to_thread(battle_card.render, card)
    return dataclasses.replace(view, card=png)
