"""Every handler driven through a recording Reply, with the real AI service on the fake server."""

from __future__ import annotations

import random

import pytest

from core import errors
from core.ai import AIService
from core.janken import Move, Outcome
from core.store.memory import MemoryStore
from handlers import ask, draw, janken
from handlers.port import Board, Command, GameView, JankenRequest, JankenRules, Services
from handlers.registry import HANDLERS
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply


@pytest.fixture
def services(ai: AIService) -> Services:
    return Services(ai=ai, store=MemoryStore(), rng=random.Random(3))


def cmd(text: str, *, user: str = "alice", thread: str | None = None, request_id: str = "") -> Command:
    return Command("slack", "T1", "C1", user, text, thread=thread, request_id=request_id)


async def run(name: str, command: Command, services: Services) -> RecordingReply:
    reply = RecordingReply()
    await HANDLERS[name](command, reply, services)
    return reply


# /ask


async def test_ask_streams_into_a_new_thread_titled_with_the_question(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    reply = await run("ask", cmd("What is 2+2?"), services)
    assert reply.kinds() == ["thread", "stream"]
    assert reply.values("thread") == ["What is 2+2?"]
    assert reply.values("stream") == [("thread-1", fake_openai.chunks)]


async def test_a_follow_up_in_the_thread_sees_the_earlier_turns(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chunks = ["Hello ", "Ada."]
    await run("ask", cmd("I am Ada."), services)
    fake_openai.chunks = ["You are Ada."]
    reply = await run("ask", cmd("Who am I?", thread="thread-1"), services)
    assert reply.kinds() == ["stream"]  # no new thread for a follow-up
    messages = fake_openai.calls("chat")[1].body["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "I am Ada."),
        ("assistant", "Hello Ada."),
        ("user", "Who am I?"),
    ]


async def test_conversations_do_not_leak_between_threads(services: Services, fake_openai: FakeOpenAI) -> None:
    await run("ask", cmd("secret one", thread="t-a"), services)
    await run("ask", cmd("question two", thread="t-b"), services)
    messages = fake_openai.calls("chat")[1].body["messages"]
    assert [m["content"] for m in messages[1:]] == ["question two"]


async def test_history_is_bounded(ai: AIService, fake_openai: FakeOpenAI) -> None:
    services = Services(ai=ai, store=MemoryStore(), history_turns=4)
    for i in range(5):
        await run("ask", cmd(f"q{i}", thread="t"), services)
    last = fake_openai.calls("chat")[-1].body["messages"]
    assert [m["content"] for m in last[1:]] == ["q2", "Hello, world!", "q3", "Hello, world!", "q4"]


async def test_a_failed_answer_posts_nothing_and_is_not_remembered(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail("chat", "rate_limit")
    reply = RecordingReply()
    with pytest.raises(errors.RateLimited):
        await ask.handle(cmd("hi", thread="t"), reply, services)
    assert reply.events == []
    assert await services.store.load_history("slack:T1:C1:t") == []


async def test_a_stream_broken_midway_is_not_remembered(services: Services, fake_openai: FakeOpenAI) -> None:
    fake_openai.break_stream_after(2)
    with pytest.raises(errors.Unavailable):
        await run("ask", cmd("hi", thread="t"), services)
    assert await services.store.load_history("slack:T1:C1:t") == []


@pytest.mark.parametrize("name", ["ask", "draw"])
@pytest.mark.parametrize("text", ["", "   ", "x" * 4001])
async def test_empty_or_oversized_input_is_refused_without_calling_openai(
    services: Services, fake_openai: FakeOpenAI, name: str, text: str
) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        await run(name, cmd(text), services)
    assert "Usage" in caught.value.user_message or "4,000" in caught.value.user_message
    assert fake_openai.requests == []


# /draw


@pytest.mark.parametrize(
    ("text", "prompt", "size", "quality"),
    [
        ("a red fox", "a red fox", "1024x1024", "medium"),
        ("--size landscape a red fox", "a red fox", "1536x1024", "medium"),
        ("a red fox --quality high --size portrait", "a red fox", "1024x1536", "high"),
        ("--size=1536x1024 --quality=LOW fox", "fox", "1536x1024", "low"),
        ("it's a fox's den", "it's a fox's den", "1024x1024", "medium"),
    ],
)
def test_draw_reads_flags_anywhere(text: str, prompt: str, size: str, quality: str) -> None:
    assert draw.parse(cmd(text)) == draw.DrawRequest(prompt, size, quality)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["--size huge fox", "--quality ultra fox", "--size", "--size square", "fox --size"]
)
def test_draw_rejects_bad_flags(text: str) -> None:
    with pytest.raises(errors.UserInputError):
        draw.parse(cmd(text))


async def test_draw_shows_progress_then_posts_the_image_with_the_prompt(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.image = b"\x89PNG\r\n\x1a\n" + b"pixels" * 100
    reply = await run("draw", cmd("--size portrait a lighthouse"), services)
    assert reply.kinds() == ["progress", "progress_done", "image"]
    image, caption = reply.values("image")[0]  # type: ignore[misc]
    assert image.data == fake_openai.image and caption == "a lighthouse"
    assert fake_openai.calls("images")[0].body["size"] == "1024x1536"


async def test_a_refused_drawing_removes_its_progress_and_posts_no_image(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail("images", "moderation")
    reply = RecordingReply()
    with pytest.raises(errors.ContentBlocked):
        await draw.handle(cmd("something bad"), reply, services)
    assert reply.kinds() == ["progress", "progress_done"]


# /janken


def last_view(reply: RecordingReply) -> GameView:
    view = reply.values("game")[-1]
    assert isinstance(view, GameView)
    return view


async def test_janken_alone_starts_a_builtin_game_and_shows_it_again(services: Services) -> None:
    first = last_view(await run("janken", cmd(""), services))
    again = last_view(await run("janken", cmd(""), services))
    assert first.game == again.game and first.game.player_hp == 3 and first.played is None
    assert first.game.opponent.image_ref is None


@pytest.mark.parametrize("spelling", ["rock", "グー", "✊", "r"])
async def test_a_text_move_plays_a_round_against_the_builtin_opponent(
    services: Services, spelling: str
) -> None:
    view = last_view(await run("janken", cmd(spelling), services))
    assert view.played is not None and view.played.player_move is Move.ROCK
    assert view.game.rounds_played == 1


async def test_repeated_rock_plays_game_after_game(services: Services) -> None:
    finished = 0
    for i in range(40):
        view = last_view(await run("janken", cmd("rock", request_id=f"r{i}"), services))
        finished += view.finished
    stats = await services.store.get_stats(cmd("").player)
    assert finished >= 2 and stats.games_won + stats.games_lost == finished
    assert stats.wins + stats.losses + stats.draws == 40


async def test_the_same_request_id_plays_once(services: Services) -> None:
    await run("janken", cmd("paper", request_id="click-1"), services)
    await run("janken", cmd("paper", request_id="click-1"), services)
    game = await services.store.get_game(cmd("").player)
    assert game is not None and game.rounds_played == 1


async def test_mercy_setting_saves_a_player_on_one_hp(ai: AIService) -> None:
    services = Services(
        ai=ai, store=MemoryStore(), janken=JankenRules(hp=3, mercy=True), rng=random.Random(0)
    )
    outcomes = []
    for i in range(30):
        view = last_view(await run("janken", cmd("rock", request_id=f"m{i}"), services))
        assert view.played is not None
        if view.played.player_hp + (view.played.outcome is Outcome.LOSE) == 1:
            outcomes.append(view.played.outcome)
    assert outcomes and set(outcomes) == {Outcome.WIN}
    assert (await services.store.get_stats(cmd("").player)).games_lost == 0


async def test_a_character_description_draws_the_opponent(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    reply = await run("janken", cmd("a grumpy cat wizard"), services)
    assert reply.kinds() == ["progress", "progress_done", "image", "game"]
    prompt = fake_openai.calls("images")[0].body["prompt"]
    assert prompt.startswith("a grumpy cat wizard") and "white background" in prompt and "no words" in prompt
    view = last_view(reply)
    assert view.game.opponent.name == "a grumpy cat wizard" and view.game.opponent.image_ref == "image-1"
    assert await services.store.get_game(cmd("").player) == view.game


async def test_stats_and_quit(services: Services) -> None:
    await run("janken", cmd("rock", request_id="a"), services)
    stats = await run("janken", cmd("stats"), services)
    assert stats.kinds() == ["private"] and "rounds" in str(stats.values("private")[0])
    quit_reply = await run("janken", cmd("quit"), services)
    assert quit_reply.kinds() == ["text"] and "Janken Bot" in str(quit_reply.values("text")[0])
    assert await services.store.get_game(cmd("").player) is None
    again = await run("janken", cmd("quit"), services)
    assert again.kinds() == ["private"]


@pytest.mark.parametrize("text", ["rok", "help", "x" * 4001, "stats please", "quit now", "rock paper"])
async def test_unknown_janken_words_get_usage_and_call_nothing(
    services: Services, fake_openai: FakeOpenAI, text: str
) -> None:
    with pytest.raises(errors.UserInputError):
        await run("janken", cmd(text), services)
    assert fake_openai.requests == [] and await services.store.get_game(cmd("").player) is None


@pytest.mark.parametrize("name", ["draw", "janken"])
async def test_without_a_key_drawing_says_so_before_any_progress(name: str) -> None:
    from core.ai import DisabledAI

    services = Services(ai=DisabledAI(), store=MemoryStore())
    reply = RecordingReply()
    with pytest.raises(errors.NotConfigured, match="OPENAI_API_KEY"):
        await HANDLERS[name](cmd("a tall lighthouse"), reply, services)
    assert reply.events == []


async def test_players_have_separate_games(services: Services) -> None:
    await run("janken", cmd("rock", user="alice", request_id="1"), services)
    view = last_view(await run("janken", cmd("", user="bob"), services))
    assert view.game.rounds_played == 0


def test_every_command_has_a_handler() -> None:
    assert set(HANDLERS) == {"ask", "draw", "janken", "help"}
    assert janken.parse(cmd("")).action == "show"


async def test_a_board_button_plays_its_round_once_and_only_for_its_owner(services: Services) -> None:
    shown = last_view(await run("janken", cmd(""), services))
    board = Board(owner="alice", game_id=shown.game.game_id, round=1)
    press = JankenRequest("play", move=Move.ROCK, board=board)
    for request_id in ("click-a", "click-b"):  # the same button twice: one round
        await janken.run(press, cmd("", request_id=request_id), RecordingReply(), services)
    assert (await services.store.get_game(cmd("").player)).rounds_played == 1  # type: ignore[union-attr]
    with pytest.raises(errors.UserInputError):
        await janken.run(press, cmd("", user="mallory"), RecordingReply(), services)


async def test_a_stale_board_refreshes_instead_of_playing(services: Services) -> None:
    shown = last_view(await run("janken", cmd(""), services))
    await run("janken", cmd("rock", request_id="text-move"), services)
    old = JankenRequest("play", move=Move.PAPER, board=Board("alice", shown.game.game_id, 1))
    reply = RecordingReply()
    await janken.run(old, cmd(""), reply, services)
    assert reply.kinds() == ["private", "game"] and last_view(reply).played is None
    assert (await services.store.get_game(cmd("").player)).rounds_played == 1  # type: ignore[union-attr]


async def test_play_again_starts_a_fresh_game_against_the_same_opponent(services: Services) -> None:
    from core.janken import Opponent

    opponent = Opponent("Cat wizard", "a cat wizard", "F123")
    reply = RecordingReply()
    await janken.run(JankenRequest("again", opponent=opponent), cmd(""), reply, services)
    view = last_view(reply)
    assert view.game.opponent == opponent and view.game.player_hp == view.game.opponent_hp == 3
