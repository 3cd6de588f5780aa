"""Every handler driven through a recording Reply, with the real AI service on the fake server."""

from __future__ import annotations

import random

import pytest

from core import errors
from core.ai import AIService
from core.conversation import conversation_key
from core.janken import Move, Opponent, Outcome
from core.messages import text
from core.store.memory import MemoryStore
from core.store.sqlite import SQLiteStore
from handlers import ask, draw, janken
from handlers.port import Board, Command, GameView, JankenRequest, JankenRules, Services
from handlers.registry import ANSWER_REPLY, HANDLERS
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply, cmd, run


@pytest.fixture
def services(ai: AIService) -> Services:
    return Services(ai=ai, store=MemoryStore(), rng=random.Random(3))


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


async def test_an_answer_cut_at_the_length_limit_ends_with_a_note_in_the_readers_language(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.finish_reason = "length"
    command = Command("slack", "T1", "C1", "alice", "長い話をして", thread="t", locale="ja")
    reply = await run("ask", command, services)
    [(_, pieces)] = reply.values("stream")  # type: ignore[misc]
    assert pieces[:-1] == fake_openai.chunks and pieces[-1] == "\n\n" + text("answer_truncated", "ja")
    stored = await services.store.load_history(conversation_key("slack", "T1", "C1", "t"))
    assert stored[-1].content.endswith(text("answer_truncated", "ja"))


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


async def test_the_messages_of_an_answer_are_linked_to_its_conversation(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    reply = await run("ask", cmd("I am Ada."), services)
    assert await services.store.conversation_of(reply.answers[0]) == "slack:T1:C1:thread-1"


async def test_a_reply_to_an_answer_continues_its_conversation_and_is_linked_too(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chunks = ["Hello ", "Ada."]
    first = await run("ask", cmd("I am Ada."), services)
    fake_openai.chunks = ["You are Ada."]
    reply = RecordingReply()
    assert await ANSWER_REPLY(first.answers[0], cmd("Who am I?", thread="elsewhere"), reply, services)
    assert reply.kinds() == ["stream"]  # no new thread: the answer goes where the reply is
    assert [m["content"] for m in fake_openai.calls("chat")[1].body["messages"][1:]] == [
        "I am Ada.",
        "Hello Ada.",
        "Who am I?",
    ]
    assert await services.store.conversation_of(reply.answers[0]) == "slack:T1:C1:thread-1"
    assert len(await services.store.load_history("slack:T1:C1:thread-1")) == 4


async def test_a_reply_to_a_message_that_is_no_answer_does_nothing(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    reply = RecordingReply()
    assert not await ANSWER_REPLY("C1:not-an-answer", cmd("Who am I?"), reply, services)
    assert reply.events == [] and fake_openai.requests == []


@pytest.mark.parametrize("name", ["ask", "draw"])
@pytest.mark.parametrize("text", ["", "   ", "x" * 4001])
async def test_empty_or_oversized_input_is_refused_without_calling_openai(
    services: Services, fake_openai: FakeOpenAI, name: str, text: str
) -> None:
    with pytest.raises(errors.UserInputError) as caught:
        await run(name, cmd(text), services)
    assert "Usage" in caught.value.message() or "4,000" in caught.value.message()
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


async def test_a_long_prompt_is_drawn_whole_but_repeated_only_in_part(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    prompt = "a red fox " * 300  # 3,000 characters: fine for OpenAI, too long for a chat line
    reply = await run("draw", cmd(prompt), services)
    assert fake_openai.calls("images")[0].body["prompt"] == prompt.strip()
    [progress] = reply.values("progress")
    _, caption = reply.values("image")[0]  # type: ignore[misc]
    assert len(str(progress)) < 1100 and len(caption) == 1000 and caption.endswith("…")


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


@pytest.mark.parametrize(("text", "character"), [("炎の魔法使い", True), ("a wizard", True), ("魔法", False), ("wizard", False)])
def test_a_character_is_two_words_or_three_wide_characters(text: str, character: bool) -> None:
    if character:
        assert janken.parse(cmd(text)).character == text
    else:
        with pytest.raises(errors.UserInputError):
            janken.parse(cmd(text))


@pytest.mark.parametrize("text", ["rok", "help", "x" * 4001, "stats please", "quit now", "rock paper", "グーパー"])
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
    assert set(HANDLERS) == {"ask", "draw", "janken", "help", "usage", "history"}
    assert janken.parse(cmd("")).action == "show"


async def posted_board(services: Services, text: str = "", user: str = "alice") -> tuple[str, GameView]:
    """A typed ``/janken`` command's board: its ref and what it shows."""
    reply = await run("janken", cmd(text, user=user, request_id=f"typed-{text}-{user}"), services)
    [ref] = reply.posted()
    return ref, last_view(reply)


def press(ref: str, view: GameView, owner: str = "alice", move: Move = Move.ROCK) -> JankenRequest:
    """A move button on board ``ref`` as the board draws it (its value is the client's to forge)."""
    board = Board(owner, view.game.game_id, view.game.rounds_played + 1, ref=ref)
    return JankenRequest("play", move=move, board=board)


async def click(request: JankenRequest, services: Services, *, user: str = "alice") -> RecordingReply:
    assert request.board is not None
    reply = RecordingReply(clicked=request.board.ref)
    await janken.run(request, cmd("", user=user, request_id=f"click-{request.board.ref}"), reply, services)
    return reply


async def rounds_of(services: Services, user: str = "alice") -> int | None:
    game = await services.store.get_game(cmd("", user=user).player)
    return None if game is None else game.rounds_played


async def test_a_board_button_plays_its_round_once_and_edits_its_board(services: Services) -> None:
    ref, shown = await posted_board(services)
    first, again = await click(press(ref, shown), services), await click(press(ref, shown), services)
    assert first.edited() == [ref] and first.posted() == [] and last_view(first).played is not None
    assert again.events == []  # the double click: the first shows the round (no second card upload)
    assert await rounds_of(services) == 1
    nxt = await click(press(ref, last_view(first)), services)  # the edited board's next round
    assert nxt.edited() == [ref] and await rounds_of(services) == 2


async def test_a_double_click_on_a_games_last_round_logs_the_game_once(services: Services) -> None:
    ref, view = await posted_board(services)
    while not view.finished:
        request = press(ref, view)
        first, again = await click(request, services), await click(request, services)
        assert again.events == []
        view = last_view(first)
    player = cmd("", user="alice").player
    assert await services.store.count_entries(player, keep=services.accounting.history_keep) == 1


async def test_a_board_button_named_for_someone_else_is_refused(services: Services) -> None:
    ref, shown = await posted_board(services)
    reply = RecordingReply(clicked=ref)
    with pytest.raises(errors.UserInputError, match="someone else"):
        await janken.run(press(ref, shown), cmd("", user="mallory"), reply, services)
    assert (
        reply.events == [] and await rounds_of(services) == 0 and await rounds_of(services, "mallory") is None
    )


async def test_a_move_forged_onto_another_players_board_neither_plays_nor_edits_it(
    services: Services,
) -> None:
    """The finding: bob's click on alice's board, its value forged to name bob and bob's real game."""
    alices, _ = await posted_board(services)
    _, bobs_view = await posted_board(services, user="bob")
    reply = RecordingReply(clicked=alices)
    with pytest.raises(errors.UserInputError, match="someone else"):
        await janken.run(press(alices, bobs_view, owner="bob"), cmd("", user="bob"), reply, services)
    assert reply.events == [] and reply.boards == []
    assert await rounds_of(services, "bob") == 0
    mine = await click(press(alices, (await posted_board(services))[1]), services)
    assert mine.edited() == [alices]  # still alice's board, and only hers


async def test_play_again_forged_onto_another_players_board_neither_starts_nor_edits(
    services: Services,
) -> None:
    alices, _ = await posted_board(services)
    forged = JankenRequest("again", board=Board(owner="bob", ref=alices))
    reply = RecordingReply(clicked=alices)
    with pytest.raises(errors.UserInputError, match="someone else"):
        await janken.run(forged, cmd("", user="bob"), reply, services)
    assert reply.boards == [] and await rounds_of(services, "bob") is None


@pytest.mark.parametrize("ref", ["C9:1700000000.000001", ""])
async def test_a_board_the_store_does_not_know_is_not_edited_and_the_game_is_posted_anew(
    services: Services, ref: str
) -> None:
    _, shown = await posted_board(services)
    reply = await click(press(ref, shown), services)
    assert reply.kinds() == ["private", "game"] and "out of date" in str(reply.values("private")[0])
    assert reply.edited() == [] and len(reply.posted()) == 1
    assert last_view(reply).game == shown.game and await rounds_of(services) == 0
    [new_ref] = reply.posted()
    played = await click(press(new_ref, shown), services)  # the new board is linked: it plays
    assert played.edited() == [new_ref] and await rounds_of(services) == 1


async def test_a_board_showing_an_older_game_does_not_play_the_game_its_value_names(
    services: Services,
) -> None:
    old_ref, _ = await posted_board(services)
    await run("janken", cmd("quit"), services)
    _, current = await posted_board(services)  # a new game, on a new board
    reply = await click(press(old_ref, current), services)  # the old board, its value naming the new game
    assert reply.kinds() == ["private", "game"] and reply.edited() == [] and len(reply.posted()) == 1
    assert await rounds_of(services) == 0


async def test_a_stale_round_on_the_players_current_board_refreshes_that_board(services: Services) -> None:
    ref, shown = await posted_board(services)
    await run("janken", cmd("rock", request_id="text-move"), services)
    reply = await click(press(ref, shown, move=Move.PAPER), services)
    assert reply.kinds() == ["private", "game"] and last_view(reply).played is None
    assert reply.edited() == [ref] and await rounds_of(services) == 1


CAT = Opponent("Cat wizard", "a cat wizard", "F123")


async def finished_board(services: Services, opponent: Opponent | None = None) -> tuple[str, GameView]:
    """A board played to the end by its buttons: against the built-in opponent, or ``opponent``."""
    if opponent is None:
        ref, view = await posted_board(services)
    else:
        reply = RecordingReply()
        await janken.start(opponent, cmd(""), reply, services)
        [ref], view = reply.posted(), last_view(reply)
    for _ in range(60):
        view = last_view(await click(press(ref, view), services))
        if view.finished:
            return ref, view
    pytest.fail("the game never ended")


async def test_play_again_on_the_players_board_edits_it_and_its_buttons_play_the_new_game(
    services: Services,
) -> None:
    ref, finished = await finished_board(services)
    again = JankenRequest("again", board=Board("alice", ref=ref))
    first, second = await click(again, services), await click(again, services)
    assert first.edited() == second.edited() == [ref] and first.posted() == second.posted() == []
    assert last_view(first).game == last_view(second).game != finished.game  # one new game
    assert last_view(first).game.opponent == finished.game.opponent
    played = await click(press(ref, last_view(first)), services)
    assert played.edited() == [ref] and await rounds_of(services) == 1


async def test_play_again_on_an_unknown_board_posts_a_new_game_against_the_builtin_opponent(
    services: Services,
) -> None:
    await finished_board(services, CAT)
    reply = await click(JankenRequest("again", board=Board("alice", ref="forged")), services)
    assert reply.kinds() == ["private", "game"] and reply.edited() == [] and len(reply.posted()) == 1
    assert last_view(reply).game.rounds_played == 0 and await rounds_of(services) == 0
    assert last_view(reply).game.opponent == janken.builtin_opponent()


async def test_play_again_plays_the_opponent_the_store_says_that_board_showed(services: Services) -> None:
    cats, _ = await finished_board(services, CAT)
    await finished_board(services, Opponent("Dog knight"))  # a later game, on another board
    reply = await click(JankenRequest("again", board=Board("alice", ref=cats)), services)
    view = last_view(reply)
    assert reply.edited() == [cats] and view.game.opponent == CAT
    assert view.game.player_hp == view.game.opponent_hp == 3 and view.game.rounds_played == 0


async def test_play_again_on_a_board_linked_without_an_opponent_plays_the_builtin_one(
    services: Services,
) -> None:
    await services.store.link_board("slack:T1:old", cmd("").player, "g0")  # as an older build linked it
    reply = await click(JankenRequest("again", board=Board("alice", ref="old")), services)
    assert reply.edited() == ["old"] and last_view(reply).game.opponent == janken.builtin_opponent()


async def test_play_again_after_a_restart_plays_the_same_opponent(ai: AIService, tmp_path) -> None:  # type: ignore[no-untyped-def]
    before = Services(ai=ai, store=await SQLiteStore.open(tmp_path / "bot.db"), rng=random.Random(3))
    ref, _ = await finished_board(before, CAT)
    await before.store.close()
    after = Services(ai=ai, store=await SQLiteStore.open(tmp_path / "bot.db"))
    try:
        reply = await click(JankenRequest("again", board=Board("alice", ref=ref)), after)
    finally:
        await after.store.close()
    assert reply.edited() == [ref] and last_view(reply).game.opponent == CAT


def test_only_slow_commands_acknowledge_with_a_thinking_note() -> None:
    from handlers.registry import HANDLERS, policy

    assert {name for name in HANDLERS if policy(name).thinking_note} == {"ask"}


async def test_a_follow_up_after_a_huge_answer_does_not_resend_it_whole(
    services: Services, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chunks = ["x" * 300_000]
    await run("ask", cmd("write a lot"), services)
    fake_openai.chunks = ["ok"]
    await run("ask", cmd("and more?", thread="thread-1"), services)
    sent = fake_openai.calls("chat")[1].body["messages"]
    assert sent[-1]["content"] == "and more?" and sent[1]["content"] == "write a lot"
    assert sum(len(m["content"]) for m in sent) < 30_000  # the answer went back cut, not 300,000 long
