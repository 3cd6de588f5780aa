"""/janken: rock-paper-scissors against a built-in or AI-drawn opponent."""

from __future__ import annotations

import unicodedata
import uuid

from core import janken
from core.errors import UserInputError
from core.janken import Game, Move, Opponent, Round, StaleMove
from core.messages import text
from core.store import BoardLink
from core.store.activity import Measure, Usage
from handlers import admission, janken_card, logbook
from handlers.port import Board, Command, GameView, JankenRequest, Reply, Services
from handlers.text_input import checked, shown

STICKER_STYLE = (
    "Sticker art of this character, whole body visible, bold clean outlines, "
    "plain white background, no words or letters"
)
NAME_CHARS = 40
SUBCOMMANDS = ("stats", "quit", "top")
TOP_PLAYERS = 10
TOP_TITLES: dict[Measure, str] = {"games_won": "top_won", "best_streak": "top_streak"}


def parse(command: Command) -> JankenRequest:
    """``""`` show, a move plays, ``stats``/``quit``, two or more other words describe a character."""
    if not command.text.strip():
        return JankenRequest("show")
    words = checked(command.text, "usage_janken")
    move = janken.parse_move(words)
    if move is not None:
        return JankenRequest("play", move=move)
    if words.lower() in SUBCOMMANDS:
        return JankenRequest(words.lower())  # type: ignore[arg-type]
    first = words.split()[0]
    if not _describes(words) or first.lower() in SUBCOMMANDS or janken.parse_move(first):
        raise UserInputError("unknown_janken", word=words)
    return JankenRequest("start", character=words)


def _describes(words: str) -> bool:
    """Whether ``words`` can describe a character: two words or more, or, as Japanese is written
    without spaces, three wide (CJK) characters or more (炎の魔法使い)."""
    wide = sum(unicodedata.east_asian_width(char) in "WF" for char in words)
    looks_like_moves = any(janken.parse_move(words[:n]) for n in (2, 3))  # グーパー: a typo, not a wizard
    return len(words.split()) >= 2 or (wide >= 3 and not looks_like_moves)


async def handle(command: Command, reply: Reply, services: Services) -> None:
    await run(parse(command), command, reply, services)


async def run(request: JankenRequest, command: Command, reply: Reply, services: Services) -> None:
    """Carry out one janken request."""
    if request.board is not None:
        await _click(request, request.board, command, reply, services)
    elif request.action == "play" and request.move is not None:
        await play(request.move, command, reply, services)
    elif request.action == "start" and request.character:
        await start_character(request.character, command, reply, services)
    elif request.action == "stats":
        stats = await services.store.get_stats(command.player)
        await reply.send_private(text("stats", command.locale, **vars(stats)))
    elif request.action == "top":
        await reply.send_private(await leaderboard(command, services))
    elif request.action == "quit":
        ended = await services.store.end_game(command.player)
        if ended is None:
            await reply.send_private(text("no_game", command.locale))
        else:
            await reply.post_text(text("game_quit", command.locale, opponent=ended.opponent.name))
    else:
        await show(command, reply, services)


async def leaderboard(command: Command, services: Services) -> str:
    """The workspace's best players by games won and by best streak, one list after the other,
    each under the name they last played under (the asker under their own name now).

    From no shared workspace (a Discord DM: every DM player of the bot would share one board) there
    is no leaderboard, only a note saying where it is and where one's own record is.
    """
    if command.in_dm:
        return text("top_dm", command.locale)
    sections = []
    for by, title in TOP_TITLES.items():
        rows = await services.store.top_players(command.platform, command.workspace, by=by, limit=TOP_PLAYERS)
        lines = [text(title, command.locale)]
        for rank, row in enumerate(rows, 1):
            name = (
                player_name(command.display_name) if row.player == command.player else player_name(row.name)
            )
            lines.append(text("top_row", command.locale, rank=rank, name=name, value=getattr(row.stats, by)))
        if not rows:
            lines.append(text("top_empty", command.locale))
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def player_name(name: str) -> str:
    """A player's name as the leaderboard keeps and shows it: one line of at most :data:`NAME_CHARS`
    characters. It stays text: the adapters escape it, so a name like ``@everyone`` pings no one."""
    return shown(" ".join(name.split()), NAME_CHARS)


async def _click(
    request: JankenRequest, board: Board, command: Command, reply: Reply, services: Services
) -> None:
    """A button on a board. The board is edited only where the store says it shows the clicker's game.

    What the button carried is client-side data: a board the store does not know (or knows
    for another game than the button names) is left alone, and the game goes in a new message.
    "Play again" plays the opponent the store says the board showed (the built-in one if the
    store does not know).
    """
    shown = await _board_link(board, command, services)
    if request.action == "again":
        if shown is None:
            await reply.send_private(text("stale_board", command.locale))
        opponent = shown.opponent if shown else None
        await again(opponent, command, reply, services, edit=shown is not None)
    elif request.action == "play" and request.move is not None and shown and shown.game_id == board.game_id:
        await play(request.move, command, reply, services, board=board)
    else:
        await _refresh(command, reply, services)


async def _board_link(board: Board, command: Command, services: Services) -> BoardLink | None:
    """What the store says the clicked board shows; ``None`` if the store does not know the board.

    A board whose button, or whose store link, names another player is refused.
    """
    if board.owner != command.user:
        raise UserInputError("not_your_game")
    link = await services.store.board_of(_board_key(command, board.ref)) if board.ref else None
    if link is None:
        return None
    if link.player != command.player:
        raise UserInputError("not_your_game")
    return link


async def show(command: Command, reply: Reply, services: Services) -> None:
    """Show the running game, starting one against the built-in opponent if none runs."""
    game = await services.store.ensure_game(
        command.player, new_game(builtin_opponent(command.locale), services)
    )
    await _show(GameView(player=command.display_name, game=game), command, reply, services)


async def again(
    opponent: Opponent | None, command: Command, reply: Reply, services: Services, *, edit: bool = False
) -> None:
    """Play ``opponent`` again (the built-in one if ``None``); a repeat click shows the game it started."""
    fresh = new_game(opponent or builtin_opponent(command.locale), services)
    game = await services.store.ensure_game(command.player, fresh)
    await _show(GameView(player=command.display_name, game=game), command, reply, services, edit=edit)


async def play(
    move: Move, command: Command, reply: Reply, services: Services, *, board: Board | None = None
) -> None:
    """Play one round. A board's button plays its round once; a text move once per request id,
    and only the request that played it shows it (a second click uploads no second card).

    A text move with no game running starts one against the built-in opponent. A ``board``
    must be one the store links to the player and to ``board.game_id``; it shows the result.
    """
    opponent_move = janken.opponent_move(services.rng)

    def decide(game: Game) -> Round:
        if board and (game.game_id, game.rounds_played + 1) != (board.game_id, board.round):
            raise StaleMove(board.game_id)
        return janken.play(game, move, opponent_move, mercy=services.janken.mercy)

    move_id = f"{board.game_id}:{board.round}" if board else command.request_id or uuid.uuid4().hex
    start_game = None if board else new_game(builtin_opponent(command.locale), services)
    try:
        played = await services.store.apply_round(
            command.player, move_id, decide, start=start_game, name=player_name(command.user_name)
        )
    except StaleMove:
        played = None
    if played is None:
        await _refresh(command, reply, services, board_game=board.game_id if board else None)
        return
    if played.repeated:  # a double click or a redelivery: the first one shows the round and logs the game
        return
    view = GameView(command.display_name, played.game, played=played.round, finished=played.game.over)
    await _show(view, command, reply, services, edit=board is not None and board.game_id == view.game.game_id)
    if played.game.over:
        await _log_game(played.game, command, services)


async def _log_game(game: Game, command: Command, services: Services) -> None:
    """Log a finished game: the opponent as the prompt, the result as the answer."""
    result = "history_game_won" if game.opponent_hp <= 0 else "history_game_lost"
    answer = text(result, command.locale, player_hp=game.player_hp, opponent_hp=game.opponent_hp)
    model = services.ai.image_model if game.opponent.image_ref else ""
    prompt = game.opponent.description or game.opponent.name
    await logbook.record(command, services, "janken", prompt=prompt, answer=answer, model=model)


async def _refresh(
    command: Command, reply: Reply, services: Services, *, board_game: str | None = None
) -> None:
    """An out-of-date board: say so, and show the running game if there is one.

    The clicked board is edited only when it shows (per the store, ``board_game``) the game
    running now; otherwise the game goes in a new message.
    """
    game = await services.store.get_game(command.player)
    if game is None:
        raise UserInputError("no_game")
    await reply.send_private(text("stale_board", command.locale))
    view = GameView(player=command.display_name, game=game)
    await _show(view, command, reply, services, edit=game.game_id == board_game)


async def _show(
    view: GameView, command: Command, reply: Reply, services: Services, *, edit: bool = False
) -> None:
    """Show a board (with its battle card) and link it to the game it shows, so a later click
    on it can be checked."""
    view = await janken_card.with_card(view, command.locale, services.store)
    ref = await reply.show_game(view, edit_clicked=edit)
    key = _board_key(command, ref)
    await services.store.link_board(key, command.player, view.game.game_id, view.game.opponent)


def _board_key(command: Command, ref: str) -> str:
    """A board's ref is the adapter's; the platform and workspace make it unique in the store."""
    return f"{command.platform}:{command.workspace}:{ref}"


async def start_character(description: str, command: Command, reply: Reply, services: Services) -> None:
    """Draw an opponent from ``description`` and start a game against it.

    One character drawing per user at a time, moderated and counted as an image first.
    """
    async with admission.one_at_a_time("character", command, services):
        async with (
            admission.spending("draw", description, command, reply, services),
            reply.progress(text("drawing_opponent", command.locale, description=shown(description))),
        ):
            image = await services.ai.generate_image(
                f"{description}. {STICKER_STYLE}.", size="1024x1024", quality="low"
            )
        name = shown(description, NAME_CHARS)
        image_ref = await reply.post_image(image, name)
        await logbook.add_usage(command, services, Usage(images=1), model=services.ai.image_model)
    await janken_card.keep_art(services.store, image_ref, image.data)
    await start(Opponent(name, description, image_ref), command, reply, services)


async def start(opponent: Opponent, command: Command, reply: Reply, services: Services) -> None:
    """Start a fresh game against ``opponent``, replacing any running one."""
    game = new_game(opponent, services)
    await services.store.start_game(command.player, game)
    await _show(GameView(player=command.display_name, game=game), command, reply, services)


def builtin_opponent(locale: str = "en") -> Opponent:
    return Opponent(text("builtin_opponent", locale))


def new_game(opponent: Opponent, services: Services) -> Game:
    return janken.new_game(uuid.uuid4().hex, opponent, services.janken.hp)
