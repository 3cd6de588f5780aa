"""Replies to the bot's answers on Discord: the real DiscordApp against the fake Discord and OpenAI.

A reply (MESSAGE_CREATE with `message_reference`) to a message of an answer continues that
answer's conversation, with its history, as a reply in the channel. The fake gateway withholds
a message's content the way Discord does for a bot without the message-content intent.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.discord_app.app import DiscordApp
from bot.discord_app.live import answer_ref
from core.conversation import conversation_key
from core.store.sqlite import SQLiteStore
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_payloads import user_payload
from tests.fakes.discord_state import (
    APPLICATION_ID,
    BOT_USER,
    CHANNEL_ID,
    CREATE_MESSAGE,
    EDIT_MESSAGE,
    GUILD_ID,
    USER_ID,
    Message,
)
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_client import until

BOT_MENTION = f"<@{APPLICATION_ID}>"
SETTLE = 0.3
"""Seconds to let an ignored message be (not) acted on before checking nothing happened."""


@dataclass
class Running:
    app: DiscordApp
    discord: FakeDiscordAPI
    openai: FakeOpenAI
    store: SQLiteStore

    def bot_messages(self, channel_id: str = CHANNEL_ID) -> list[Message]:
        """The bot's visible messages in the channel, oldest first."""
        return [
            m
            for m in self.discord.channel_messages(channel_id)
            if m.author["id"] == APPLICATION_ID and not m.ephemeral
        ]

    def questions(self) -> list[list[tuple[str, str]]]:
        """Each chat request's messages after the system prompt, as (role, content)."""
        return [
            [(m["role"], m["content"]) for m in r.body["messages"][1:]] for r in self.openai.calls("chat")
        ]

    async def ask(self, question: str, **where: Any) -> Message:
        """/ask through an interaction; the answer's first message, once the answer is linked."""
        payload = self.discord.slash_command("ask", {"question": question}, **where)
        await self.discord.dispatch("INTERACTION_CREATE", payload)
        original = await until(lambda: self.discord.interaction(payload["id"]).original_id)
        await self.linked(payload["channel_id"], original)
        return self.discord.message(original)

    async def reply(self, text: str, to: Message, **options: Any) -> Message:
        """A user's reply to ``to`` (once linked); the bot's answer to it (its first message), once linked."""
        await self.linked(to.channel_id, to.id)
        data = self.discord.user_message(text, reply_to=to.id, channel_id=to.channel_id, **options)
        await self.discord.dispatch("MESSAGE_CREATE", data)
        answer = await until(lambda: self.answer_to(data["id"], to.channel_id))
        await self.linked(to.channel_id, answer.id)
        return answer

    def answer_to(self, message_id: str, channel_id: str = CHANNEL_ID) -> Message | None:
        replies = self.bot_messages(channel_id)
        return next((m for m in replies if (m.message_reference or {}).get("message_id") == message_id), None)

    async def linked(self, channel_id: str, message_id: str) -> str:
        """The conversation the store links the message to, waiting for the link to be made."""
        async with asyncio.timeout(10):
            while (
                conversation := await self.store.conversation_of(answer_ref(int(channel_id), int(message_id)))
            ) is None:
                await asyncio.sleep(0.02)
        return conversation

    async def ignored(self, data: dict[str, Any]) -> None:
        """Dispatch ``data`` and check the bot did nothing: no model call, no message."""
        calls, messages = len(self.openai.requests), len(self.bot_messages())
        await self.discord.dispatch("MESSAGE_CREATE", data)
        await asyncio.sleep(SETTLE)
        assert (len(self.openai.requests), len(self.bot_messages())) == (calls, messages)


@pytest_asyncio.fixture
async def bot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Running]:
    async with FakeDiscordAPI() as fake_discord, FakeOpenAI() as fake_ai:
        fake_discord.patch_discord(monkeypatch)
        store = await SQLiteStore.open(tmp_path / "bot.db")
        try:
            async with openai_services(fake_ai, store) as services, running(fake_discord, services) as app:
                yield Running(app, fake_discord, fake_ai, store)
        finally:
            await store.close()


async def test_a_reply_to_an_answer_continues_its_conversation_as_a_reply(bot: Running) -> None:
    bot.openai.chunks = ["Hello ", "Ada."]
    answer = await bot.ask("I am Ada.")
    assert answer.content == "Hello Ada." and answer.interaction_id is not None

    bot.openai.chunks = ["You ", "are ", "Ada."]
    follow_up = await bot.reply("Who am I?", to=answer)
    await until(lambda: bot.discord.message(follow_up.id).content == "You are Ada.")
    assert bot.questions()[-1] == [("user", "I am Ada."), ("assistant", "Hello Ada."), ("user", "Who am I?")]
    assert follow_up.type == 19 and follow_up.interaction_id is None  # a reply in the channel
    conversation = conversation_key("discord", GUILD_ID, CHANNEL_ID, answer.interaction_id)
    assert await bot.linked(CHANNEL_ID, follow_up.id) == conversation


async def test_a_chain_of_replies_keeps_the_whole_conversation(bot: Running) -> None:
    bot.openai.chunks = ["One."]
    answer = await bot.ask("Count with me.")
    bot.openai.chunks = ["Two."]
    second = await bot.reply("Next?", to=answer)
    bot.openai.chunks = ["Three."]
    await bot.reply(f"{BOT_MENTION} and next?", to=second)  # a typed mention is not part of the question
    assert bot.questions()[-1] == [
        ("user", "Count with me."),
        ("assistant", "One."),
        ("user", "Next?"),
        ("assistant", "Two."),
        ("user", "and next?"),
    ]


async def test_a_reply_to_any_message_of_a_long_answer_continues_it(bot: Running) -> None:
    bot.openai.chunks = [f"Paragraph {i}: " + "words " * 60 + "\n\n" for i in range(12)]
    first = await bot.ask("Tell me a lot.")
    parts = bot.bot_messages()
    assert len(parts) >= 2 and parts[0].id == first.id  # the response, then follow-ups
    bot.openai.chunks = ["Sure."]
    await bot.reply("Shorter, please.", to=parts[-1])
    assert bot.questions()[-1][0] == ("user", "Tell me a lot.") and len(bot.questions()[-1]) == 3


async def test_nothing_the_bot_posts_pings_anyone(bot: Running) -> None:
    bot.openai.chunks, bot.openai.chunk_delay = [f"w{i} " for i in range(20)], 0.02
    answer = await bot.ask("hi")
    bot.openai.chunks = [f"<@{USER_ID}> @everyone <@&{GUILD_ID}> ", *(f"x{i} " for i in range(20))]
    follow_up = await bot.reply("ping me", to=answer)
    await until(lambda: bot.discord.message(follow_up.id).content.endswith("x19 "))
    writes = [*bot.discord.calls_to(CREATE_MESSAGE), *bot.discord.calls_to(EDIT_MESSAGE)]
    assert writes and all(c.json["allowed_mentions"] == {"parse": []} for c in writes)  # not even the asker


async def test_replies_to_messages_that_are_no_linked_answer_are_ignored(bot: Running) -> None:
    answer = await bot.ask("hi")
    someone = bot.discord.add_message(
        CHANNEL_ID, "a person's message", author=user_payload("1180000000000000777")
    )
    unlinked = bot.discord.add_message(CHANNEL_ID, "an old message of the bot", author=dict(BOT_USER))
    await bot.ignored(bot.discord.user_message(f"{BOT_MENTION} what?", reply_to=someone.id))
    await bot.ignored(bot.discord.user_message("what?", reply_to=unlinked.id))
    await bot.ignored(bot.discord.user_message(f"{BOT_MENTION} not a reply"))
    await bot.reply("and this?", to=answer)  # the same path, with a linked answer, is answered


async def test_messages_from_bots_are_ignored_the_bots_own_included(bot: Running) -> None:
    answer = await bot.ask("hi")
    other_bot = {**user_payload("1180000000000000888", "otherbot"), "bot": True}
    await bot.ignored(bot.discord.user_message(f"{BOT_MENTION} hi", reply_to=answer.id, author=other_bot))
    await bot.ignored(
        bot.discord.user_message(f"{BOT_MENTION} hi", reply_to=answer.id, author=dict(BOT_USER))
    )
    await bot.reply("and me?", to=answer)


async def test_a_reply_with_its_ping_off_cannot_be_read_and_is_ignored(bot: Running) -> None:
    answer = await bot.ask("I am Ada.")
    await bot.ignored(bot.discord.user_message("Who am I?", reply_to=answer.id, ping=False))
    follow_up = await bot.reply(f"{BOT_MENTION} Who am I?", to=answer, ping=False)  # mentioned by hand
    assert follow_up.content and bot.questions()[-1][-1] == ("user", "Who am I?")


async def test_in_a_dm_a_reply_is_read_even_with_its_ping_off(bot: Running) -> None:
    answer = await bot.ask(
        "I am Ada.", guild_id=None, strict=False
    )  # synced to the guild here; global in use
    assert answer.channel_id != CHANNEL_ID
    await bot.reply("Who am I?", to=answer, ping=False, guild_id=None)
    assert bot.questions()[-1][-1] == ("user", "Who am I?") and len(bot.questions()[-1]) == 3


async def test_a_failed_follow_up_is_a_short_reply_and_is_not_remembered(bot: Running) -> None:
    answer = await bot.ask("I am Ada.")
    bot.openai.fail("chat", "rate_limit")
    data = bot.discord.user_message("Who am I?", reply_to=answer.id)
    await bot.discord.dispatch("MESSAGE_CREATE", data)
    note = await until(lambda: bot.answer_to(data["id"]))
    assert "rate limit" in note.content.lower() and "Traceback" not in note.content
    assert note.allowed_mentions == {"parse": []}
    assert await bot.store.conversation_of(answer_ref(int(CHANNEL_ID), int(note.id))) is None
    bot.openai.chunks = ["You are Ada."]
    await bot.reply("Who am I, then?", to=answer)  # the failed turn left no trace in the history
    assert bot.questions()[-1] == [
        ("user", "I am Ada."),
        ("assistant", "Hello, world!"),
        ("user", "Who am I, then?"),
    ]
