"""The Slack platform end to end: signed requests into the real Bolt app over HTTP,
Slack's Web API faked on a local port, OpenAI faked on another."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp import web

from bot.slack_app import server
from core.errors import Unavailable
from core.store import PlayerKey
from handlers import janken_board
from tests.fakes.slack_api import Message
from tests.fakes.slack_client import FORM, SIGNING_SECRET, mention, until
from tests.slack_harness import SlackBot, start_bot

PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U999>")


@pytest.fixture
async def bot() -> AsyncIterator[SlackBot]:
    async for running in start_bot():
        yield running


@pytest.fixture
async def edit_bot() -> AsyncIterator[SlackBot]:
    async for running in start_bot(native=False):
        yield running


# --- HTTP basics ---


async def test_healthz_answers_while_up(bot: SlackBot) -> None:
    async with bot.send.session.get(f"{bot.base_url}/healthz") as response:
        assert response.status == 200 and (await response.json()) == {"ok": True}


async def test_bad_signatures_and_stale_timestamps_get_401(bot: SlackBot) -> None:
    status, _ = await bot.send.post(
        "command=/ask&text=hi", "application/x-www-form-urlencoded", signature="v0=bad"
    )
    assert status == 401
    stale = int(time.time()) - 3600
    status, _ = await bot.send.post(
        "command=/ask&text=hi", "application/x-www-form-urlencoded", timestamp=stale
    )
    assert status == 401
    assert bot.openai.requests == [] and bot.slack.calls_to("chat.postMessage") == []


# --- /ask ---


async def test_ask_acks_at_once_posts_the_question_and_streams_the_answer_in_its_thread(
    bot: SlackBot,
) -> None:
    bot.openai.chunks = [f"word{i} " for i in range(30)]
    bot.openai.chunk_delay = 0.01
    status, body = await bot.send.slash("/ask", "Count for me")
    assert status == 200 and "Thinking" in body
    stop = await until(lambda: bot.slack.calls_to("chat.stopStream"))
    question = next(m for m in bot.slack.messages.values() if "Count for me" in m.text)
    assert "<@U1>" in question.text and question.thread_ts is None
    start = bot.slack.calls_to("chat.startStream")[0].args
    assert start["thread_ts"] == question.ts
    assert (start["recipient_user_id"], start["recipient_team_id"]) == ("U1", "T1")
    ts = stop[0].args["ts"]
    assert bot.slack.message_text("C1", ts) == "".join(bot.openai.chunks)


async def test_appends_coalesce_deltas(bot: SlackBot) -> None:
    bot.openai.chunks = [f"w{i} " for i in range(60)]
    bot.openai.chunk_delay = 0.005
    await bot.send.slash("/ask", "go")
    await until(lambda: bot.slack.calls_to("chat.stopStream"))
    assert len(bot.slack.calls_to("chat.appendStream")) < 20


async def test_a_follow_up_mention_in_the_thread_continues_the_conversation(bot: SlackBot) -> None:
    bot.openai.chunks = ["Nice to meet you, Ada."]
    await bot.send.slash("/ask", "I am Ada")
    [answer] = await until(bot.answers)
    thread = answer.thread_ts
    bot.openai.chunks = ["You are Ada."]
    await bot.send.event(
        {
            "type": "app_mention",
            "user": "U1",
            "text": "<@UBOT> who am I?",
            "ts": "1800000000.000200",
            "thread_ts": thread,
            "channel": "C1",
        }
    )
    await until(lambda: len(bot.answers()) == 2)
    sent = [(m["role"], m["content"]) for m in bot.openai.calls("chat")[1].body["messages"][1:]]
    assert sent == [("user", "I am Ada"), ("assistant", "Nice to meet you, Ada."), ("user", "who am I?")]
    assert bot.answers()[1].thread_ts == thread


async def test_every_direct_message_continues_the_dm_conversation(bot: SlackBot) -> None:
    await bot.send.event(
        {
            "type": "message",
            "channel_type": "im",
            "user": "U1",
            "text": "hello there",
            "ts": "1800000000.000300",
            "channel": "D1",
        }
    )
    [answer] = await until(bot.answers)
    assert (answer.channel, answer.thread_ts, answer.text) == ("D1", "1800000000.000300", "Hello, world!")
    await bot.send.event(
        {
            "type": "message",
            "channel_type": "im",
            "user": "U1",
            "text": "and again",
            "ts": "1800000000.000400",
            "channel": "D1",
        }
    )
    await until(lambda: len(bot.answers()) == 2)
    sent = [m["content"] for m in bot.openai.calls("chat")[1].body["messages"][1:]]
    assert sent == ["hello there", "Hello, world!", "and again"]


async def test_the_bots_own_and_edited_messages_are_ignored(bot: SlackBot) -> None:
    for event in ({"subtype": "message_changed"}, {"bot_id": "B1"}):
        await bot.send.event(
            {
                "type": "message",
                "channel_type": "im",
                "user": "U1",
                "text": "x",
                "ts": "1800000000.000500",
                "channel": "D1",
                **event,
            }
        )
    await bot.send.slash("/janken", "")  # something observable after them
    await until(lambda: bot.slack.calls_to("chat.postMessage"))
    assert bot.openai.requests == []


async def test_model_output_never_pings(bot: SlackBot, edit_bot: SlackBot) -> None:
    for running in (bot, edit_bot):
        running.openai.chunks = ["Hey <!", "channel> and <!here> ", "@everyone <@U", "999> bye"]
        await running.send.slash("/ask", "ping everyone")
        await until(lambda: any("bye" in m.text for m in running.thread_messages()))
        shown = " ".join(m.text for m in running.slack.messages.values())
        assert not any(ping in shown for ping in PINGS) and "@everyone" not in shown


async def test_a_long_answer_continues_in_further_messages_and_is_complete(edit_bot: SlackBot) -> None:
    paragraph = "This sentence is part of a long answer. " * 20
    edit_bot.openai.chunks = [paragraph + "\n\n" for _ in range(12)]
    await edit_bot.send.slash("/ask", "write a lot")
    whole = "".join(edit_bot.openai.chunks).strip()
    await until(lambda: len("".join(m.text for m in edit_bot.thread_messages())) >= len(whole) - 20)
    await until(lambda: _settled(edit_bot))
    parts = sorted(edit_bot.thread_messages(), key=lambda m: m.ts)
    assert len(parts) >= 2 and all(len(m.text) <= 4000 for m in parts)
    assert "".join(m.text for m in parts).replace("\n", "").replace(" ", "") == whole.replace(
        "\n", ""
    ).replace(" ", "")


def _settled(running: SlackBot) -> bool:
    calls = running.slack.calls
    return bool(calls) and time.time() - calls[-1].time > 0.3


async def test_a_429_on_update_still_ends_with_the_full_text(edit_bot: SlackBot) -> None:
    edit_bot.openai.chunks = [f"piece{i} " for i in range(20)]
    edit_bot.openai.chunk_delay = 0.01
    edit_bot.slack.fail("chat.update", status=429, retry_after=1, times=2)
    await edit_bot.send.slash("/ask", "go")
    whole = "".join(edit_bot.openai.chunks).strip()
    await until(lambda: any(m.text.strip() == whole for m in edit_bot.thread_messages()), timeout=15)
    assert [c for c in edit_bot.slack.calls_to("chat.update") if c.failed]


async def test_native_stream_refused_falls_back_to_post_and_update(bot: SlackBot) -> None:
    bot.openai.chunk_delay = 0.05  # still arriving at its first post: it would stream natively
    bot.slack.fail("chat.startStream", error="not_allowed_token_type", status=200, times=None)
    await bot.send.slash("/ask", "hi")
    await until(lambda: any(m.text == "Hello, world!" for m in bot.thread_messages()))
    assert bot.streamer.native_for("T1") is False and bot.streamer.native_for("T2") is True


async def test_ask_errors_reach_only_the_asker_and_leave_nothing_behind(bot: SlackBot) -> None:
    bot.openai.fail("chat", "rate_limit")
    await bot.send.slash("/ask", "hi")
    responses = await until(bot.private_messages)
    assert "rate limiting" in responses[0].args["text"] and responses[0].args["response_type"] == "ephemeral"
    assert bot.slack.calls_to("chat.postMessage") == [] and bot.slack.calls_to("chat.startStream") == []
    dismissed = [c for c in bot.slack.calls_to("response_url") if c.args.get("delete_original")]
    assert len(dismissed) == 1  # the private "Thinking…" note is gone too


async def test_a_refused_stream_start_tells_the_asker_what_slack_said(bot: SlackBot) -> None:
    bot.openai.chunk_delay = 0.05  # the answer is still arriving when Slack refuses
    bot.slack.fail("chat.startStream", error="not_in_channel", status=200, times=None)
    await bot.send.slash("/ask", "hi")
    responses = await until(bot.private_messages)
    assert "Slack refused the bot's message (not_in_channel)" in responses[0].args["text"]


async def test_a_click_on_a_board_we_cannot_read_is_acked_and_answered_privately(bot: SlackBot) -> None:
    old = '{"u": "U1", "g": "g1", "r": 1}'  # a board from before the compact codec
    button = {"type": "button", "action_id": "janken_rock", "value": old}
    board = {"channel": "C1", "ts": "1.000001", "blocks": [{"type": "actions", "elements": [button]}]}
    status, _ = await bot.send.click(board, "janken_rock")
    assert status == 200
    responses = await until(bot.private_messages)
    assert "older version of the bot" in responses[0].args["text"]
    assert bot.slack.calls_to("chat.update") == []


async def test_a_request_with_a_broken_body_does_not_hold_later_work_back(bot: SlackBot) -> None:
    application = server.web_app(bot.app, signing_secret=SIGNING_SECRET)
    runner = web.AppRunner(application)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}{server.EVENTS_PATH}"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=b"\xff\xfe", headers={"Content-Type": FORM}) as response:
                assert response.status >= 400
        assert application[server.ACK_FIRST].pending == 0
    finally:
        await runner.cleanup()


async def test_empty_ask_gets_private_usage(bot: SlackBot) -> None:
    await bot.send.slash("/ask", "   ")
    responses = await until(bot.private_messages)
    assert "Usage: /ask" in responses[0].args["text"] and bot.openai.requests == []


async def test_a_question_that_mentions_payload_is_answered(bot: SlackBot) -> None:
    """Bolt reads a form containing the text "payload" as an interactive payload (and finds none)."""
    bot.openai.chunks = ["A payload is the data a message carries."]
    status, _ = await bot.send.slash("/ask", "what is a payload?")
    assert status == 200
    [answer] = await until(bot.answers)
    assert answer.text == "A payload is the data a message carries."
    [chat] = bot.openai.calls("chat")
    assert chat.body["messages"][-1] == {"role": "user", "content": "what is a payload?"}


async def test_a_command_from_a_channel_named_payloads_is_answered(bot: SlackBot) -> None:
    status, _ = await bot.send.slash("/janken", "rock", channel_name="payloads")
    assert status == 200
    await until(lambda: [m for m in bot.slack.messages.values() if m.blocks])


async def test_a_usage_message_without_a_response_url_is_posted_ephemerally(bot: SlackBot) -> None:
    form = dict(parse_qsl(bot.send.slash_body("/draw", "")))
    del form["response_url"]  # Bolt's respond() cannot answer it: "no response_url"
    status, _ = await bot.send.post(urlencode(form), FORM)
    assert status == 200
    [sent] = await until(lambda: bot.slack.calls_to("chat.postEphemeral"))
    assert (sent.args["channel"], sent.args["user"]) == ("C1", "U1") and "Usage: /draw" in sent.args["text"]
    assert bot.slack.calls_to("response_url") == [] and bot.openai.requests == []


# --- /draw ---


async def test_draw_uploads_the_generated_bytes_with_caption_and_removes_its_status(bot: SlackBot) -> None:
    bot.openai.image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 50
    await bot.send.slash("/draw", "--size landscape a <!here> lighthouse")
    completed = await until(lambda: bot.slack.calls_to("files.completeUploadExternal"))
    upload = next(iter(bot.slack.uploaded.values()))
    assert upload.data == bot.openai.image and upload.channel_id == "C1"
    assert "lighthouse" in upload.initial_comment and "<@U1>" in upload.initial_comment
    assert "<!here>" not in upload.initial_comment
    status = next(m for m in bot.slack.messages.values() if "Drawing" in m.text)
    await until(lambda: bot.slack.calls_to("chat.delete"))
    assert bot.slack.calls_to("chat.delete")[0].args["ts"] == status.ts and status.deleted
    assert completed and bot.openai.calls("images")[0].body["size"] == "1536x1024"


async def test_a_refused_drawing_tells_the_user_privately_and_removes_the_status(bot: SlackBot) -> None:
    bot.openai.fail("images", "moderation")
    await bot.send.slash("/draw", "something awful")
    responses = await until(bot.private_messages)
    assert "safety system" in responses[0].args["text"]
    await until(lambda: bot.slack.calls_to("chat.delete"))
    assert bot.slack.uploaded == {}


# --- /janken ---


def boards(running: SlackBot) -> list:  # type: ignore[type-arg]
    return [m for m in running.slack.messages.values() if m.blocks and not m.deleted]


def as_payload(message) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {"channel": message.channel, "ts": message.ts, "blocks": message.blocks, "text": message.text}


async def play_to_the_end(bot: SlackBot, character: str = "") -> tuple[Message, int]:
    """Click rock until the game ends; the final board and the number of rounds."""
    await bot.send.slash("/janken", character)
    board = (await until(lambda: [b for b in boards(bot) if b.blocks[-1]["type"] == "actions"]))[0]
    for click in range(60):
        actions = [e["action_id"] for b in board.blocks if b["type"] == "actions" for e in b["elements"]]
        if actions == ["janken_again"]:
            return board, click
        updates = len(bot.slack.calls_to("chat.update"))
        status, _ = await bot.send.click(as_payload(board), "janken_rock")
        assert status == 200
        await until(lambda: len(bot.slack.calls_to("chat.update")) > updates)
        board = bot.slack.messages[(board.channel, board.ts)]
    pytest.fail("the game never ended")


async def test_janken_plays_to_the_end_by_button_clicks(bot: SlackBot) -> None:
    board, rounds = await play_to_the_end(bot)
    assert "You beat" in board.text or "wins the game" in board.text
    stats = await bot.store.get_stats(_player("U1"))
    assert stats.games_won + stats.games_lost == 1 and stats.wins + stats.losses + stats.draws == rounds


async def test_play_again_clicked_twice_starts_one_game(bot: SlackBot) -> None:
    board, _ = await play_to_the_end(bot)
    updates = len(bot.slack.calls_to("chat.update"))
    await bot.send.click(as_payload(board), "janken_again", action_ts="1800000000.3")
    await bot.send.click(as_payload(board), "janken_again", action_ts="1800000000.3")
    await until(lambda: len(bot.slack.calls_to("chat.update")) >= updates + 2)
    await until(lambda: _settled(bot))
    game = await bot.store.get_game(_player("U1"))
    assert game is not None and game.rounds_played == 0
    shown = [json.dumps(c.args.get("blocks")) for c in bot.slack.calls_to("chat.update")[updates:]]
    assert len(shown) == 2 and all(game.game_id in blocks for blocks in shown)


def _player(user: str) -> PlayerKey:
    return PlayerKey("slack", "T1", user)


async def test_a_click_delivered_twice_plays_once(bot: SlackBot) -> None:
    await bot.send.slash("/janken", "")
    board = (await until(lambda: boards(bot)))[0]
    payload = as_payload(board)
    await bot.send.click(payload, "janken_paper", action_ts="1800000000.1")
    await bot.send.click(payload, "janken_paper", action_ts="1800000000.1")
    await bot.send.click(
        payload, "janken_scissors", action_ts="1800000000.2"
    )  # a double click on the same board
    await until(lambda: len(bot.slack.calls_to("chat.update")) >= 1)
    await until(lambda: _settled(bot))
    game = await bot.store.get_game(_player("U1"))
    assert game is not None and game.rounds_played == 1


async def test_another_users_click_does_not_change_the_game(bot: SlackBot) -> None:
    await bot.send.slash("/janken", "")
    board = (await until(lambda: boards(bot)))[0]
    await bot.send.click(as_payload(board), "janken_rock", user="U2")
    responses = await until(bot.private_messages)
    assert "someone else" in responses[0].args["text"]
    assert (await bot.store.get_game(_player("U1"))).rounds_played == 0  # type: ignore[union-attr]
    assert await bot.store.get_game(_player("U2")) is None
    assert bot.slack.calls_to("chat.update") == []


def forged(message: Message, **fields: object) -> dict:  # type: ignore[type-arg]
    """``message`` as a click would carry it, every button's code rewritten with ``fields``."""
    payload = json.loads(json.dumps(as_payload(message)))
    for block in payload["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            button = janken_board.decode(element["value"])
            element["value"] = janken_board.encode(dataclasses.replace(button, **fields))  # type: ignore[arg-type]
    return payload


async def test_a_click_on_another_users_board_forged_to_name_the_clicker_edits_nothing(bot: SlackBot) -> None:
    await bot.send.slash("/janken", "")
    [u1_board] = await until(lambda: boards(bot))
    u1_blocks = json.loads(json.dumps(u1_board.blocks))
    await bot.send.slash("/janken", "", user="U2")
    await until(lambda: len(boards(bot)) == 2)
    u2_game = await bot.store.get_game(_player("U2"))
    assert u2_game is not None
    await bot.send.click(
        forged(u1_board, game_id=u2_game.game_id, round=1, owner="U2"), "janken_rock", user="U2"
    )
    responses = await until(bot.private_messages)
    assert "someone else" in responses[0].args["text"]
    await until(lambda: _settled(bot))
    assert [c for c in bot.slack.calls_to("chat.update") if c.args.get("ts") == u1_board.ts] == []
    assert bot.slack.calls_to("chat.update") == [] and len(bot.slack.calls_to("chat.postMessage")) == 2
    assert bot.slack.messages[(u1_board.channel, u1_board.ts)].blocks == u1_blocks
    assert (await bot.store.get_game(_player("U2"))).rounds_played == 0  # type: ignore[union-attr]


async def test_a_click_on_a_board_the_bot_never_linked_posts_the_game_anew(bot: SlackBot) -> None:
    await bot.send.slash("/janken", "")
    [board] = await until(lambda: boards(bot))
    copy = {**as_payload(board), "ts": "1700000000.000001"}  # U1's real buttons, on another message
    await bot.send.click(copy, "janken_rock")
    responses = await until(bot.private_messages)
    assert "out of date" in responses[0].args["text"]
    await until(lambda: len(boards(bot)) == 2)
    await until(lambda: _settled(bot))
    assert bot.slack.calls_to("chat.update") == []
    assert (await bot.store.get_game(_player("U1"))).rounds_played == 0  # type: ignore[union-attr]
    newest = bot.slack.calls_to("chat.postMessage")[-1].args
    assert newest["channel"] == "C1" and json.dumps(newest["blocks"][1:]) == json.dumps(board.blocks[1:])
    assert newest["blocks"][0]["type"] == board.blocks[0]["type"] == "image"  # each board its own card


async def test_after_play_again_the_same_board_plays_the_new_game(bot: SlackBot) -> None:
    board, _ = await play_to_the_end(bot)
    updates = len(bot.slack.calls_to("chat.update"))
    await bot.send.click(as_payload(board), "janken_again")
    await until(lambda: len(bot.slack.calls_to("chat.update")) > updates)
    board = bot.slack.messages[(board.channel, board.ts)]
    await bot.send.click(as_payload(board), "janken_rock")
    await until(lambda: len(bot.slack.calls_to("chat.update")) > updates + 1)
    assert {c.args["ts"] for c in bot.slack.calls_to("chat.update")} == {board.ts}
    assert (await bot.store.get_game(_player("U1"))).rounds_played == 1  # type: ignore[union-attr]


async def test_play_again_against_a_drawn_character_reads_it_from_the_store(bot: SlackBot) -> None:
    board, _ = await play_to_the_end(bot, "a grumpy cat wizard")
    [again] = board.blocks[-1]["elements"]
    assert "cat" not in again["value"] and len(again["value"]) <= 100  # ids only, no opponent
    updates = len(bot.slack.calls_to("chat.update"))
    await bot.send.click(as_payload(board), "janken_again")
    await until(lambda: len(bot.slack.calls_to("chat.update")) > updates)
    game = await bot.store.get_game(_player("U1"))
    assert game is not None and game.rounds_played == 0 and game.opponent.name == "a grumpy cat wizard"
    shown = bot.slack.messages[(board.channel, board.ts)].blocks
    assert shown[0]["type"] == "image" and "a grumpy cat wizard" in shown[0]["alt_text"]  # a new card
    assert shown[0]["slack_file"] != board.blocks[0]["slack_file"]


async def test_janken_against_a_drawn_character_shows_its_picture(bot: SlackBot) -> None:
    await bot.send.slash("/janken", "a grumpy cat wizard")
    board = (await until(lambda: [b for b in boards(bot) if b.blocks[0]["type"] == "image"]))[0]
    uploads = bot.slack.uploaded
    [picture] = [m for m in bot.slack.messages.values() if m.files]  # the drawing, shared in the channel
    assert [uploads[f].data for f in picture.files] == [bot.openai.image]
    card = uploads[board.blocks[0]["slack_file"]["id"]]  # the board shows the battle card, drawn on it
    assert card.channel_id is None and card.data.startswith(b"\x89PNG") and card.data != bot.openai.image


async def test_text_moves_and_stats_work_in_slack(bot: SlackBot) -> None:
    await bot.send.slash("/janken", "グー")
    await until(lambda: boards(bot))
    await bot.send.slash("/janken", "stats")
    responses = await until(bot.private_messages)
    assert "Your record" in responses[0].args["text"]


# --- deadlines, failures and limits ---


async def test_commands_and_clicks_are_acknowledged_before_slow_work(bot: SlackBot) -> None:
    bot.openai.delay = 3.0  # OpenAI takes its time; Slack wants an answer within 3 s
    await bot.send.slash("/janken", "")
    board = (await until(lambda: boards(bot)))[0]
    bot.send.ack_times.clear()
    for status, _ in [
        await bot.send.slash("/ask", "slow question"),
        await bot.send.slash("/draw", "a slow picture"),
        await bot.send.slash("/janken", "a slowly drawn wizard"),
        await bot.send.click(as_payload(board), "janken_rock"),
    ]:
        assert status == 200
    assert max(bot.send.ack_times) < 1.0, bot.send.ack_times
    await until(lambda: [m for m in bot.slack.messages.values() if "Drawing" in m.text])  # progress shows


async def test_the_thinking_note_is_removed_once_the_answer_is_in(bot: SlackBot) -> None:
    await bot.send.slash("/ask", "hi")
    await until(bot.answers)
    dismissed = await until(
        lambda: [c for c in bot.slack.calls_to("response_url") if c.args.get("delete_original")]
    )
    assert len(dismissed) == 1 and bot.private_messages() == []


async def test_a_stream_slack_stops_accepting_is_closed_with_a_note(bot: SlackBot) -> None:
    bot.openai.chunks = [f"part{i} " for i in range(30)]
    bot.openai.chunk_delay = 0.02
    bot.slack.fail("chat.appendStream", error="internal_error", status=200, times=None)
    await bot.send.slash("/ask", "go")
    stop = await until(lambda: bot.slack.calls_to("chat.stopStream"))
    text = bot.slack.message_text("C1", stop[0].args["ts"])
    assert text.startswith("part0") and "Slack stopped accepting updates" in text
    responses = await until(bot.private_messages)
    assert "Slack refused" in responses[0].args["text"]


async def test_a_long_native_answer_continues_in_further_streams_with_nothing_lost() -> None:
    async for small in start_bot(native_limit=400):
        words = [f"word{i}" for i in range(300)]
        small.openai.chunks = [f"{w} " if i % 40 else f"{w}\n\n" for i, w in enumerate(words)]
        small.openai.chunk_delay = 0.002
        await small.send.slash("/ask", "a long one")
        await until(lambda: any("word299" in m.text for m in small.thread_messages()), timeout=15)
        await until(lambda: _settled(small))
        parts = sorted(small.thread_messages(), key=lambda m: m.ts)
        assert len(parts) >= 3 and all(len(m.text) <= 400 for m in parts)
        assert len(small.slack.calls_to("chat.startStream")) == len(small.slack.calls_to("chat.stopStream"))
        assert " ".join(" ".join(m.text for m in parts).split()) == " ".join(words)


async def test_redelivered_events_are_answered_once(bot: SlackBot) -> None:
    await bot.send.event(mention(ts="1800000000.0009"), event_id="Ev1")
    await bot.send.event(mention(ts="1800000000.0009"), event_id="Ev1", retry=1)  # seen: ignored
    await bot.send.event(mention(ts="1800000000.0010"), event_id="Ev2", retry=1)  # first delivery lost
    await until(lambda: len(bot.answers()) == 2)
    await until(lambda: _settled(bot))
    assert len(bot.openai.calls("chat")) == 2


async def test_a_store_failure_at_the_delivery_check_is_told_privately_and_nothing_runs(
    bot: SlackBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def store_down(key: str, ttl: float) -> bool:
        raise Unavailable("store_unavailable")

    monkeypatch.setattr(bot.store, "claim", store_down)  # the check is the store's first call
    status, _ = await bot.send.event(mention(), event_id="Ev3")
    assert status == 200  # the ack does not wait for the store
    [told] = await until(lambda: bot.slack.calls_to("chat.postEphemeral"))
    assert "storage is temporarily unavailable" in told.args["text"] and told.args["user"] == "U1"
    assert bot.openai.requests == [] and bot.answers() == []


async def test_a_link_in_a_question_or_an_answer_shows_its_host(bot: SlackBot) -> None:
    bot.openai.chunks = ["See [the docs](https://evil.example/login) ", "for more."]
    bot.openai.chunk_delay = 0.05
    await bot.send.slash("/ask", "is [Sign in to Slack](https://evil.example/x) real?")
    [answer] = await until(bot.answers)
    [question] = [m for m in bot.slack.messages.values() if m.ts == answer.thread_ts]
    assert "Sign in to Slack ([evil.example](https://evil.example/x))" in question.blocks[1]["text"]
    assert "evil.example/x|" not in question.text  # the notification text: escaped mrkdwn
    assert (
        "the docs ([evil.example](https://evil.example/login))" in answer.text
    )  # a native stream's Markdown
