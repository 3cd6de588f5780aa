"""``ALLOWED_CHANNELS`` and ``ALLOWED_ROLES``: the rule, the registry's guard, and every platform's entry points.

A refused command is told privately ("not enabled here") and does nothing else: no
OpenAI call, no post, no store write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.discord_app.live import answer_ref
from bot.slack_app.user_groups import UserGroups
from core.ai import AIService
from core.errors import NotPermitted, UpstreamError
from core.janken import Move
from core.store import PlayerKey
from core.store.memory import MemoryStore
from handlers import allowlist
from handlers.port import Board, Command, JankenRequest, Limits, Services
from handlers.registry import ANSWER_REPLY, BOARD_CLICK, HANDLERS, TRANSCRIBE
from handlers.transcribe import TranscribeRequest
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import APPLICATION_ID, CALLBACK, CHANNEL_ID, EDIT_ORIGINAL, GUILD_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.recording_reply import RecordingReply
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import until
from tests.slack_harness import SlackBot, start_bot

REFUSAL = "The bot's commands are not enabled here."
EPHEMERAL = 1 << 6


def limits(channels: tuple[str, ...] = (), roles: tuple[str, ...] = ()) -> Limits:
    return Limits(allowed_channels=frozenset(channels), allowed_roles=frozenset(roles))


def command(
    platform: str = "slack", *, channel: str = "C1", roles: tuple[str, ...] = (), workspace: str = "T1"
) -> Command:
    return Command(platform, workspace, channel, "U1", "hi", roles=frozenset(roles))


def untouched(store: MemoryStore) -> bool:
    """No game, history, answer link or quota counter was written (delivery claims may be)."""
    return not (store._games or store._history or store._answers or store._counters)


# --- the rule ---


@pytest.mark.parametrize(
    ("where", "allowed", "admitted"),
    [
        (command(), limits(), True),  # neither list: everywhere, everyone
        (command(channel="C1"), limits(channels=("C1", "C2")), True),
        (command(channel="C3"), limits(channels=("C1", "C2")), False),
        (command(roles=("S1", "S2")), limits(roles=("S2", "S9")), True),
        (command(roles=("S1",)), limits(roles=("S9",)), False),
        (command(), limits(roles=("S9",)), False),  # no roles known: refused
        (command(channel="C1", roles=("S1",)), limits(channels=("C1",), roles=("S1",)), True),
        (command(channel="C1", roles=()), limits(channels=("C1",), roles=("S1",)), False),  # both needed
        (command(channel="C2", roles=("S1",)), limits(channels=("C1",), roles=("S1",)), False),
    ],
)
def test_the_lists_admit_listed_channels_and_members_of_listed_roles(
    where: Command, allowed: Limits, admitted: bool
) -> None:
    assert allowlist.admits(where, allowed) is admitted


def test_a_dm_is_a_channel_like_any_other() -> None:
    slack_dm = command(channel="D1")
    discord_dm = command("discord", channel="1180000000000000555", workspace="dm")
    for dm in (slack_dm, discord_dm):
        assert allowlist.admits(dm, limits())
        assert not allowlist.admits(dm, limits(channels=("C1",)))
        assert allowlist.admits(dm, limits(channels=("C1", dm.channel)))
    # Discord has no roles outside a guild; Slack's user groups hold in a DM too
    assert not allowlist.admits(discord_dm, limits(roles=("42",)))
    assert allowlist.admits(command(channel="D1", roles=("S1",)), limits(roles=("S1",)))


def test_the_console_is_never_refused() -> None:
    console = Command("console", "local", "console", "me", "/ask hi")
    assert allowlist.admits(console, limits(channels=("C1",), roles=("S1",)))


def test_check_raises_not_permitted_with_its_message() -> None:
    allowlist.check(command(), limits())
    with pytest.raises(NotPermitted) as refused:
        allowlist.check(command(channel="C3"), limits(channels=("C1",)))
    assert refused.value.key == "not_enabled_here" and refused.value.message() == REFUSAL


# --- the registry's guard: a refused command does nothing at all ---


@pytest.fixture
def closed(ai: AIService) -> Services:
    return Services(ai=ai, store=MemoryStore(), limits=limits(channels=("C9",)))


async def test_every_registered_handler_refuses_before_doing_anything(
    closed: Services, fake_openai: FakeOpenAI
) -> None:
    reply = RecordingReply()
    for name in HANDLERS:
        with pytest.raises(NotPermitted):
            await HANDLERS[name](command(), reply, closed)
    click = JankenRequest(
        "play", move=Move.ROCK, board=Board(owner="U1", game_id="g1", round=1, ref="C1:1.1")
    )
    with pytest.raises(NotPermitted):
        await BOARD_CLICK(click, command(), reply, closed)
    with pytest.raises(NotPermitted):
        await ANSWER_REPLY("C1:1.1", command(), reply, closed)
    fetched: list[int] = []

    async def fetch(limit: int) -> bytes:
        fetched.append(limit)
        return b"RIFF"

    with pytest.raises(NotPermitted):
        await TRANSCRIBE(TranscribeRequest("memo.wav", "audio/wav", 4, fetch), command(), reply, closed)
    assert reply.kinds() == [] and fake_openai.requests == [] and fetched == []
    assert isinstance(closed.store, MemoryStore) and untouched(closed.store)


async def test_the_console_runs_through_the_registry_whatever_the_lists(closed: Services) -> None:
    reply = RecordingReply()
    await HANDLERS["help"](Command("console", "local", "console", "me", ""), reply, closed)
    assert reply.kinds() != []


# --- Slack: user groups, listed once per workspace and cached ---


async def test_user_groups_are_listed_once_and_kept_for_their_ttl() -> None:
    now = {"t": 0.0}
    async with FakeSlackAPI() as slack:
        slack.set_usergroup("S1", ["U1", "U2"])
        slack.set_usergroup("S2", ["U1"])
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        groups = UserGroups(client, ttl=300.0, clock=lambda: now["t"])
        together = await asyncio.gather(groups.of("U1"), groups.of("U2"), groups.of("U3"))
        assert together == [frozenset({"S1", "S2"}), frozenset({"S1"}), frozenset()]
        assert len(slack.calls_to("usergroups.list")) == 1  # a burst makes one call
        assert slack.calls_to("usergroups.list")[0].args["include_users"] in ("1", "true")
        slack.set_usergroup("S2", ["U3"])
        now["t"] = 299.0
        assert await groups.of("U3") == frozenset()
        now["t"] = 300.0
        assert await groups.of("U3") == frozenset({"S2"})
        assert len(slack.calls_to("usergroups.list")) == 2


async def test_a_workspace_that_will_not_list_its_groups_is_not_asked_on_every_command() -> None:
    now = {"t": 0.0}
    async with FakeSlackAPI() as slack:
        slack.fail("usergroups.list", error="plan_upgrade_required", status=200, times=None)
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        groups = UserGroups(client, clock=lambda: now["t"])
        for moment in (0.0, 1.0, 59.0):
            now["t"] = moment
            with pytest.raises(UpstreamError) as refused:
                await groups.of("U1")
            assert refused.value.key == "roles_unavailable"
        assert len(slack.calls_to("usergroups.list")) == 1
        now["t"] = 60.0
        with pytest.raises(UpstreamError):
            await groups.of("U1")
        assert len(slack.calls_to("usergroups.list")) == 2  # asked again once the minute is up


# --- Slack end to end ---


@dataclass
class Slack:
    bot: SlackBot

    def allow(self, channels: tuple[str, ...] = (), roles: tuple[str, ...] = ()) -> None:
        self.bot.services.limits = limits(channels, roles)

    def refusals(self) -> list[str]:
        return [str(c.args["text"]) for c in self.bot.private_messages() if REFUSAL in str(c.args["text"])]

    def nothing_done(self) -> bool:
        slack = self.bot.slack
        return (
            self.bot.openai.requests == []
            and not slack.calls_to("chat.postMessage")
            and not slack.calls_to("chat.startStream")
            and not slack.calls_to("chat.update")
        )


@pytest.fixture
async def slack() -> AsyncIterator[Slack]:
    async for bot in start_bot():
        yield Slack(bot)


async def test_slack_ask_in_a_channel_not_listed_is_refused_privately(slack: Slack) -> None:
    slack.allow(channels=("C2",))
    status, _ = await slack.bot.send.slash("/ask", "hi", channel_id="C1")
    assert status == 200
    await until(slack.refusals)
    assert slack.nothing_done() and untouched(slack.bot.store)
    assert slack.bot.slack.calls_to("usergroups.list") == []  # no roles needed, none looked up


async def test_slack_ask_in_a_listed_channel_is_answered(slack: Slack) -> None:
    slack.allow(channels=("C1", "C2"))
    await slack.bot.send.slash("/ask", "hi", channel_id="C2")
    [answer] = await until(slack.bot.answers)
    assert answer.channel == "C2" and slack.refusals() == []


async def test_slack_roles_are_user_groups_looked_up_after_the_ack(slack: Slack) -> None:
    slack.bot.slack.set_usergroup("S1", ["U1"])
    slack.bot.slack.set_usergroup("S2", ["U2"])
    slack.allow(roles=("S1",))
    await slack.bot.send.slash("/ask", "hi", user="U2")
    await until(slack.refusals)
    assert slack.nothing_done() and untouched(slack.bot.store)
    await slack.bot.send.slash("/ask", "hi", user="U1")
    [answer] = await until(slack.bot.answers)
    assert answer.channel == "C1" and len(slack.refusals()) == 1
    assert len(slack.bot.slack.calls_to("usergroups.list")) == 1  # cached for the second command


async def test_slack_groups_slack_will_not_list_fail_closed(slack: Slack) -> None:
    slack.bot.slack.fail("usergroups.list", error="missing_scope", status=200, times=None)
    slack.allow(roles=("S1",))
    await slack.bot.send.slash("/ask", "hi")
    [told] = await until(slack.bot.private_messages)
    assert "cannot check who may use it" in told.args["text"] and slack.nothing_done()


async def test_slack_a_dm_is_refused_unless_its_channel_is_listed(slack: Slack) -> None:
    slack.allow(channels=("C1",))
    dm = {"type": "message", "channel_type": "im", "user": "U1", "text": "hi", "ts": "1800000000.000300"}
    await slack.bot.send.event({**dm, "channel": "D1"})
    [told] = await until(lambda: slack.bot.slack.calls_to("chat.postEphemeral"))
    assert (told.args["channel"], told.args["user"], told.args["text"]) == ("D1", "U1", REFUSAL)
    assert slack.nothing_done()


async def test_slack_a_janken_button_in_a_channel_not_listed_is_refused(slack: Slack) -> None:
    await slack.bot.send.slash("/janken", "", channel_id="C2")  # a board from before the list was set
    [board] = await until(lambda: [m for m in slack.bot.slack.messages.values() if m.blocks])
    slack.allow(channels=("C1",))
    payload = {"channel": board.channel, "ts": board.ts, "blocks": board.blocks, "text": board.text}
    status, _ = await slack.bot.send.click(payload, "janken_rock")
    assert status == 200
    await until(slack.refusals)
    assert slack.bot.slack.calls_to("chat.update") == []
    game = await slack.bot.store.get_game(PlayerKey("slack", "T1", "U1"))
    assert game is not None and game.rounds_played == 0


# --- Discord end to end ---

ROLE_ID = "1180000000000000777"


@dataclass
class Discord:
    fake: FakeDiscordAPI
    openai: FakeOpenAI
    services: Services

    def ephemeral(self) -> list[str]:
        return [m.content for m in self.fake.channel_messages(CHANNEL_ID) if m.ephemeral]

    def said(self) -> list[str]:
        """Every message the bot has in the channel (ephemeral ones included)."""
        return [m.id for m in self.fake.channel_messages(CHANNEL_ID) if m.author["id"] == APPLICATION_ID]

    async def ask(self, *, roles: tuple[str, ...] = ()) -> dict[str, Any]:
        payload = self.fake.slash_command("ask", {"question": "hi?"})
        payload["member"]["roles"] = list(roles)
        await self.fake.dispatch("INTERACTION_CREATE", payload)
        return payload


@pytest.fixture
async def discord_bot(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> AsyncIterator[Discord]:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services:
            services.limits = request.param
            async with running(fake, services):
                role = {"id": ROLE_ID, "name": "askers", "permissions": "0", "position": 1, "color": 0,
                        "hoist": False, "managed": False, "mentionable": False, "flags": 0}  # fmt: skip
                await fake.dispatch("GUILD_ROLE_CREATE", {"guild_id": GUILD_ID, "role": role})
                yield Discord(fake, fake_ai, services)


def refused_at_once(bot: Discord, payload: dict[str, Any]) -> bool:
    """The interaction's one response is an ephemeral refusal: no "thinking…", no OpenAI call."""
    [callback] = [c for c in bot.fake.calls_to(CALLBACK) if c.params.get("webhook_token") == payload["token"]]
    data = callback.json["data"]
    return (
        callback.json["type"] == 4
        and data["flags"] & EPHEMERAL == EPHEMERAL
        and data["content"] == REFUSAL
        and bot.openai.requests == []
        and bot.fake.calls_to(EDIT_ORIGINAL) == []
    )


@pytest.mark.parametrize("discord_bot", [limits(channels=("1180000000000000001",))], indirect=True)
async def test_discord_a_command_in_a_channel_not_listed_is_refused_ephemerally(discord_bot: Discord) -> None:
    payload = await discord_bot.ask()
    await until(discord_bot.ephemeral)
    assert refused_at_once(discord_bot, payload)


@pytest.mark.parametrize("discord_bot", [limits(channels=(CHANNEL_ID,), roles=(ROLE_ID,))], indirect=True)
async def test_discord_a_member_needs_an_allowed_role(discord_bot: Discord) -> None:
    refused = await discord_bot.ask()
    await until(discord_bot.ephemeral)
    assert refused_at_once(discord_bot, refused)
    await discord_bot.ask(roles=(ROLE_ID,))
    await until(lambda: discord_bot.fake.calls_to(EDIT_ORIGINAL))
    await until(lambda: discord_bot.openai.requests)
    assert discord_bot.ephemeral() == [REFUSAL]


@pytest.mark.parametrize("discord_bot", [limits()], indirect=True)
async def test_discord_a_refused_reply_to_an_answer_is_ignored_without_a_word(discord_bot: Discord) -> None:
    fake, store = discord_bot.fake, discord_bot.services.store
    payload = await discord_bot.ask()
    answer = await until(lambda: fake.interaction(payload["id"]).original_id)
    async with asyncio.timeout(10):
        while await store.conversation_of(answer_ref(int(CHANNEL_ID), int(answer))) is None:
            await asyncio.sleep(0.02)
    discord_bot.services.limits = limits(roles=(ROLE_ID,))
    calls, said = len(discord_bot.openai.requests), discord_bot.said()

    await fake.dispatch("MESSAGE_CREATE", fake.user_message("and then?", reply_to=answer))
    await asyncio.sleep(0.3)
    assert (len(discord_bot.openai.requests), discord_bot.said()) == (calls, said)  # not a word

    member_reply = fake.user_message(
        "and then?", reply_to=answer
    )  # the same reply from a member with the role
    member_reply["member"]["roles"] = [ROLE_ID]
    await fake.dispatch("MESSAGE_CREATE", member_reply)
    await until(lambda: len(discord_bot.openai.requests) > calls)
