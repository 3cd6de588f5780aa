"""Discord rendering of a janken game: an embed with both HP lines, and the buttons that play it."""

from __future__ import annotations

import io

import discord

from bot.discord_app.buttons import JankenButton
from core.janken import Move
from core.messages import text
from handlers.janken_board import BoardButton, encode
from handlers.janken_text import describe, move_label
from handlers.port import GameView

CARD_FILE = "card.png"
"""The card's attachment name; the embed points at it, so every edit replaces it."""


def game_embed(view: GameView, locale: str = "en") -> discord.Embed:
    """The board: the battle card (else the opponent's picture, when drawn), the round's result
    and both HP lines."""
    embed = discord.Embed(title=view.game.opponent.name, description=describe(view, locale))
    image = view.game.opponent.image_ref
    drawn = bool(image and image.startswith("https://"))
    if view.card:  # the card shows the drawing (kept in the store), so no thumbnail repeats it
        embed.set_image(url=f"attachment://{CARD_FILE}")
    elif drawn:
        embed.set_image(url=image)
    return embed


def card_files(view: GameView) -> list[discord.File]:
    """The battle card as the attachment the embed shows (none if the view has no card)."""
    return [discord.File(io.BytesIO(view.card), filename=CARD_FILE)] if view.card else []


def board(view: GameView, owner: str, locale: str = "en") -> discord.ui.View:
    """Three move buttons while the game runs, one "play again" once it is over."""
    buttons = discord.ui.View(timeout=None)
    game = view.game
    if view.finished:
        code = encode(BoardButton(None, game.game_id, 0, owner))
        buttons.add_item(JankenButton(code, text("play_again", locale), discord.ButtonStyle.primary))
    else:
        for move in Move:
            code = encode(BoardButton(move, game.game_id, game.rounds_played + 1, owner))
            buttons.add_item(JankenButton(code, move_label(move, locale), discord.ButtonStyle.secondary))
    return buttons
