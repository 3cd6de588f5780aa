"""/janken: rock-paper-scissors against a built-in or AI-drawn opponent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from typing import Literal

from core import janken
from core.errors import UserInputError
from core.janken import Game, Move, Opponent
from core.messages import text
from handlers.port import Command, GameView, Reply, Services
from handlers.text_input import checked

Action = Literal["show", "play", "start", "stats", "quit"]
STICKER_STYLE = (
    "Sticker art of this character, whole body visible, bold clean outlines, "
    "plain white background, no words or letters"
)
NAME_CHARS = 40


@dataclass(frozen=True)
class JankenRequest:
    action: Action
    move: Move | None = None
    character: str | None = None


def parse(command: Command) -> JankenRequest:
    """``""`` show, a move plays, ``stats``/``quit``, two or more words describe a character."""
    if not command.text.strip():
        return JankenRequest("show")
    words = checked(command.text, "usage_janken", command.locale)
    move = janken.parse_move(words)
    if move is not None:
        return JankenRequest("play", move=move)
    if words.lower() in ("stats", "quit"):
        return JankenRequest(words.lower())  # type: ignore[arg-type]
    if len(words.split()) < 2:
        unknown = text("unknown_janken", command.locale, word=words)
        raise UserInputError(f"{unknown} {text('usage_janken', command.locale)}")
    return JankenRequest("start", character=words)


async def handle(command: Command, reply: Reply, services: Services) -> None:
    await run(parse(command), command, reply, services)


async def run(request: JankenRequest, command: Command, reply: Reply, services: Services) -> None:
    """Carry out one janken request."""
    if request.action == "play" and request.move is not None:
        await play(request.move, command, reply, services)
    elif request.action == "start" and request.character:
        await start_character(request.character, command, reply, services)
    elif request.action == "stats":
        stats = await services.store.get_stats(command.player)
        await reply.send_private(text("stats", command.locale, **vars(stats)))
    elif request.action == "quit":
        ended = await services.store.end_game(command.player)
        if ended is None:
            await reply.send_private(text("no_game", command.locale))
        else:
            await reply.post_text(text("game_quit", command.locale, opponent=ended.opponent.name))
    else:
        await show(command, reply, services)


async def show(command: Command, reply: Reply, services: Services) -> None:
    """Show the running game, starting one against the built-in opponent if none runs."""
    game = await services.store.get_game(command.player)
    if game is None:
        game = builtin_game(services, command.locale)
        await services.store.start_game(command.player, game)
    await reply.show_game(GameView(player=command.user, game=game))


async def play(move: Move, command: Command, reply: Reply, services: Services) -> None:
    """Play one round, exactly once per ``command.request_id``."""
    decide = partial(
        janken.play,
        player_move=move,
        opponent_move=janken.opponent_move(services.rng),
        mercy=services.janken.mercy,
    )
    played = await services.store.apply_round(
        command.player,
        command.request_id or uuid.uuid4().hex,
        decide,
        start=builtin_game(services, command.locale),
    )
    assert played is not None, "a start game was given"
    await reply.show_game(
        GameView(player=command.user, game=played.game, played=played.round, finished=played.game.over)
    )


async def start_character(description: str, command: Command, reply: Reply, services: Services) -> None:
    """Draw an opponent from ``description`` and start a game against it."""
    async with reply.progress(text("drawing_opponent", command.locale, description=description)):
        image = await services.ai.generate_image(f"{description}. {STICKER_STYLE}.", size="1024x1024", quality="low")
    name = description if len(description) <= NAME_CHARS else description[: NAME_CHARS - 1] + "…"
    image_ref = await reply.post_image(image, name)
    game = janken.new_game(uuid.uuid4().hex, Opponent(name, description, image_ref), services.janken.hp)
    await services.store.start_game(command.player, game)
    await reply.show_game(GameView(player=command.user, game=game))


def builtin_game(services: Services, locale: str = "en") -> Game:
    """A fresh game against the built-in opponent."""
    return janken.new_game(uuid.uuid4().hex, Opponent(text("builtin_opponent", locale)), services.janken.hp)
