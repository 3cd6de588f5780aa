"""The battle card of a game view: what it shows, in the reader's language, and its PNG.

Every adapter shows the same card (Slack and Discord in the board, the console as a file),
so it is made here, once per board shown, and handed over in :attr:`GameView.card`.

The opponent's art is the picture drawn for it. Its bytes are at hand only when it is
drawn, and the adapters' image refs (a Slack file id, a Discord attachment URL) are not
worth a download per round, so :func:`keep_art` keeps the art, as the card draws it (a
small JPEG), in the store under its image ref: a card drawn after a restart, or by another
process sharing the store, still shows it. A card is a picture of the game, not its state,
so art the store cannot keep or give back is drawn as the placeholder instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging

from core import battle_card
from core.battle_card import BattleCard
from core.errors import Unavailable
from core.janken import Outcome
from core.messages import text
from core.store import Store
from handlers.port import GameView

_log = logging.getLogger(__name__)

ART_TTL = 7 * 24 * 3600.0
"""How long a drawn opponent's art is kept (about 30 KB each): a week, like a conversation; a game
left waiting longer shows the placeholder on its card."""


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


def _art_key(image_ref: str) -> str:
    """A store key of bounded length, whatever the ref (a Discord URL can be long)."""
    return "art:" + hashlib.sha256(image_ref.encode()).hexdigest()[:32]


async def keep_art(store: Store, image_ref: str, art: bytes) -> None:
    """Keep a newly drawn opponent's art for every card of its games (in a worker thread: the
    art is decoded and scaled). An upload the platform gave no ref for cannot be asked for again."""
    thumbnail = await asyncio.to_thread(battle_card.art_thumbnail, art) if image_ref else None
    if thumbnail is None:
        return
    try:
        await store.keep_blob(_art_key(image_ref), thumbnail, ART_TTL)
    except Unavailable:
        _log.warning("the store could not keep the opponent's art; its cards show the placeholder")


async def with_card(view: GameView, locale: str, store: Store) -> GameView:
    """``view`` carrying its card's PNG, rendered in a worker thread (it is CPU-bound)."""
    image_ref, art = view.game.opponent.image_ref, None
    try:
        art = await store.blob(_art_key(image_ref)) if image_ref else None
    except Unavailable:
        _log.warning("the store could not give the opponent's art back; the card shows the placeholder")
    png = await asyncio.to_thread(battle_card.render, card_of(view, locale, art))
    return dataclasses.replace(view, card=png)
