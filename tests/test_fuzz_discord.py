"""Property-based fuzzing of Discord interactions (hypothesis), through the real client.

The real DiscordApp (discord.py) runs against the fake Discord and OpenAI as
tests/discord_harness.py drives it; hypothesis runs in a worker thread and dispatches
each example as an INTERACTION_CREATE on the gateway, from the test's event loop.

An example is a slash command (known or unknown name; options of random names, types
and values), a click (a custom id shaped like ``jk:<action>:<game>:<round>:<owner>``, a
real board's, or junk, on a message that carries it or on the real board; any
component type), or now and then an autocomplete or a modal submit; in a guild or a
DM, by the board's owner or someone else, with optional fields left out. Whatever it is:

- the client keeps running: it receives the interaction, and a plain ``/janken`` still
  works at the end;
- it is acknowledged exactly when it should be: every command, and every click on a
  button of ours (a custom id our router reads, on the message clicked); anything else is
  left alone;
- no request the fake Discord recorded carries a traceback or a Python exception repr
  the input did not hold, and every private (ephemeral) message is one of our catalogue
  sentences;
- a command Discord can send for our declarations (any text in its string options) or a
  click on a button of ours is never answered with the "something went wrong" apology,
  which means an unexpected exception (two findings, a missing channel object and a
  prompt too long to repeat in a message, are fixed and kept as tests at the end).
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import string
import zlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from bot.discord_app.app import DiscordApp
from core import messages
from core.store.memory import MemoryStore
from handlers.janken_board import PATTERN
from tests.discord_harness import openai_services, running
from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_state import CALLBACK, CHANNEL_ID, EPHEMERAL, FOLLOWUP, USER_ID
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_client import until
from tests.test_fuzz_handlers import JANKEN_WORDS, hostile_text, leaks

T = TypeVar("T")
OTHER_USER = "1180000000000000999"
FUZZ = settings(
    max_examples=120,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: an example takes up to Discord's 3 s to fail
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _template(sentence: str) -> re.Pattern[str]:
    """A catalogue sentence as a pattern: its text literally, each ``{value}`` anything."""
    parts = string.Formatter().parse(sentence)
    return re.compile(
        "".join(re.escape(text) + ("(?s:.*)" if name is not None else "") for text, name, _, _ in parts)
    )


CATALOGUE = [_template(s) for catalogue in messages._CATALOGUES.values() for s in catalogue.values()]


def in_catalogue(text: str) -> bool:
    return any(t.fullmatch(text) for t in CATALOGUE)


@dataclass
class Bot:
    app: DiscordApp
    discord: FakeDiscordAPI
    openai: FakeOpenAI
    loop: asyncio.AbstractEventLoop
    board_id: str = ""
    codes: tuple[str, ...] = ()
    """The real board's custom ids, as the bot made them."""

    def run(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the bot's loop from hypothesis's worker thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def bot(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    async with FakeDiscordAPI() as fake, FakeOpenAI() as fake_ai:
        fake.patch_discord(monkeypatch)
        async with openai_services(fake_ai, MemoryStore()) as services, running(fake, services) as app:
            yield Bot(app, fake, fake_ai, asyncio.get_running_loop())


async def board(bot: Bot) -> None:
    """A real board from a plain ``/janken``: the clicks below reach it and its game."""
    boards = len([m for m in bot.discord.channel_messages(CHANNEL_ID) if m.components])
    await bot.discord.dispatch("INTERACTION_CREATE", bot.discord.slash_command("janken", {}))
    await until(
        lambda: len([m for m in bot.discord.channel_messages(CHANNEL_ID) if m.components]) > boards, 5
    )
    message = [m for m in bot.discord.channel_messages(CHANNEL_ID) if m.components][-1]
    bot.board_id = message.id
    bot.codes = tuple(c["custom_id"] for row in message.components for c in row["components"])


# --- random interactions ---

OPTION_NAMES = ["question", "prompt", "size", "quality", "move", "character", "action"]
typed_values = {
    3: st.one_of(
        hostile_text, st.sampled_from(["square", "huge", "low", "ultra", "stats", "quit", *JANKEN_WORDS])
    ),
    4: st.integers(-(2**53), 2**53),
    5: st.booleans(),
    10: st.floats(allow_nan=False, allow_infinity=False),
}
"""An option's value always has its own type's JSON type (Discord's guarantee), whatever type our
command declares for that name: after a command changed, Discord sends what was synced last."""


@st.composite
def an_option(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.one_of(st.sampled_from(OPTION_NAMES), st.text(max_size=10)))
    kind = draw(st.sampled_from([3, 3, 3, 4, 5, 10, 1, 2]))
    if kind in (1, 2):  # a subcommand (group) our commands do not have
        return {"name": name, "type": kind, "options": []}
    option = {"name": name, "type": kind, "value": draw(typed_values[kind])}
    if draw(st.integers(0, 4)) == 0:
        option["focused"] = True
    return option


options = st.lists(an_option(), max_size=4)
ids = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
jk_codes = st.builds(
    lambda action, game, round_, owner: f"jk:{action}:{game}:{round_}:{owner}",
    st.one_of(st.sampled_from(["rock", "paper", "scissors", "again"]), st.sampled_from(["lizard", "", "ROCK", "again "])),
    st.one_of(st.just("<game>"), ids, st.text(max_size=34)),
    st.one_of(st.just("<round>"), st.integers(0, 12), st.integers(-(10**12), 10**12), st.text(max_size=4)),
    st.one_of(st.just(USER_ID), st.just(OTHER_USER), ids, st.text(max_size=21)),
)  # fmt: skip
custom_ids = st.one_of(jk_codes, jk_codes, st.just("<real>"), st.text(min_size=1, max_size=100))
OPTIONAL = ("channel", "locale", "guild_locale", "app_permissions", "entitlements", "authorizing_integration_owners",
            "context")  # fmt: skip
"""Fields of an interaction Discord may leave out. (discord.py reads ``id``, ``type``, ``token``,
``version``, ``application_id`` and ``attachment_size_limit`` as always there: without one, its gateway
parser raises and the whole client stops, before any of our code runs.)"""


@dataclass(frozen=True)
class Slash:
    name: str
    options: list[dict[str, Any]]
    autocomplete: bool = False
    valid: bool = False
    """Options as Discord sends them for our declared command (names, types, required ones), with any
    text as values: choices are not enforced, as when a command was synced by another version."""


DECLARED = {
    "ask": {"question": True},
    "draw": {"prompt": True, "size": False, "quality": False},
    "janken": {"move": False, "character": False, "action": False},
}
"""Each command's string options, and whether each is required (checked against the synced commands)."""
text_values = st.one_of(hostile_text, st.sampled_from(["square", "huge", "low", "ultra", "stats", "quit", "dance",
                                                       *JANKEN_WORDS, "lizard"])).map(
    lambda s: s.encode("utf-8", "replace").decode()  # Discord's strings are valid UTF-8: no lone surrogates
)  # fmt: skip


@st.composite
def valid_slashes(draw: st.DrawFn) -> Slash:
    name = draw(st.sampled_from(sorted(DECLARED)))
    given = [o for o, required in DECLARED[name].items() if required or draw(st.booleans())]
    return Slash(name, [{"name": o, "type": 3, "value": draw(text_values)} for o in given], valid=True)


@dataclass(frozen=True)
class Click:
    custom_id: str
    component_type: int
    on: str  # "own": a message carrying the button; "board": the real board; "none": no message
    values: list[str] | None


@dataclass(frozen=True)
class Modal:
    custom_id: str


@dataclass(frozen=True)
class Sent:
    what: Slash | Click | Modal
    dm: bool
    user: str
    locale: str
    missing: frozenset[str]


interactions = st.builds(
    Sent,
    st.one_of(
        valid_slashes(),
        valid_slashes(),
        st.builds(
            Slash,
            st.one_of(st.sampled_from(["ask", "draw", "janken", "janken", "janken"]), st.sampled_from(["help", "x", ""])),
            options,
        ),
        st.builds(
            Click,
            custom_ids,
            st.one_of(st.just(2), st.just(2), st.sampled_from([3, 4, 5, 6, 7, 8, 1, 0, 99])),
            st.sampled_from(["own", "own", "board", "none"]),
            st.one_of(st.none(), st.lists(st.text(max_size=10), max_size=2)),
        ),
        st.builds(Slash, st.sampled_from(["ask", "draw", "janken"]), options, st.just(True)),  # autocomplete
        st.builds(Modal, st.one_of(custom_ids, st.text(max_size=20))),
    ),
    st.booleans(),
    st.sampled_from([USER_ID, USER_ID, OTHER_USER]),
    st.sampled_from(["en-US", "ja", "fr", "zz"]),
    st.frozensets(st.sampled_from(OPTIONAL), max_size=3),
)  # fmt: skip


def fill(custom_id: str, bot: Bot) -> str:
    """``<real>``: one of the real board's buttons; ``<game>`` / ``<round>``: the game and round it shows."""
    real = bot.codes[zlib.crc32(custom_id.encode()) % len(bot.codes)] if bot.codes else "jk:rock:x:1:y"
    if custom_id == "<real>":
        return real
    game, round_ = real.split(":")[2:4] if real.count(":") == 4 else ("x", "1")
    return custom_id.replace("<game>", game).replace("<round>", round_)


def payload_of(sent: Sent, bot: Bot) -> dict[str, Any]:
    """The INTERACTION_CREATE data for ``sent``, as the fake builds it, then roughed up."""
    fake, guild = bot.discord, (None if sent.dm else bot.discord.guild_ids[0])
    where: dict[str, Any] = {"guild_id": guild, "user_id": sent.user, "locale": sent.locale, "strict": False}
    what = sent.what
    if isinstance(what, Slash):
        data = fake.slash_command(what.name, {}, **where)
        command = {c["name"]: c for c in fake.commands(bot.discord.guild_ids[0])}.get(what.name)
        if command:  # the id Discord gives the command, as a real invocation carries
            data["data"]["id"] = command["id"]
        data["data"]["options"] = copy.deepcopy(what.options)
        if what.autocomplete:
            data["type"] = 4
    elif isinstance(what, Click):
        custom_id = fill(what.custom_id, bot)
        if what.on == "board":
            message_id = bot.board_id
        else:
            row = {"type": 1, "components": [{"type": 2, "style": 2, "label": "x", "custom_id": custom_id}]}
            message_id = fake.add_message(CHANNEL_ID, components=[row]).id
        data = fake.button_click(custom_id, message_id, **where)
        data["data"]["component_type"] = what.component_type
        if what.values is not None:
            data["data"]["values"] = what.values
        if what.on == "none":
            del data["message"]
    else:
        data = fake.slash_command("janken", {}, **where)
        data["type"] = 5
        data["data"] = {"custom_id": fill(what.custom_id, bot), "components": []}
    for key in sent.missing:
        data.pop(key, None)
    return data


def acknowledged(sent: Sent, data: dict[str, Any]) -> bool | None:
    """Whether the bot must answer this interaction: every command (its handler, or the tree's
    error handler, defers or answers), and a click on a button of ours on the message clicked;
    nothing else. (None: either. An autocomplete on options without one goes to the tree's error
    handler, whose private note Discord refuses, as autocompletes take only choices.)"""
    what = sent.what
    if isinstance(what, Slash):
        return None if what.autocomplete else True
    if isinstance(what, Click):
        message = data.get("message") or {}
        on_message = any(
            c.get("custom_id") == data["data"]["custom_id"] and c.get("type") == what.component_type
            for row in message.get("components", [])
            for c in row.get("components", [])
        )
        return on_message and re.fullmatch(PATTERN, data["data"]["custom_id"]) is not None
    return False


async def deliver(bot: Bot, sent: Sent) -> tuple[dict[str, Any], list[Any]]:
    """Dispatch one interaction; wait until the client has it and its work is done; what was sent."""
    data = payload_of(sent, bot)
    before = len(bot.discord.calls)
    received = asyncio.ensure_future(
        bot.app.wait_for("interaction", check=lambda i: str(i.id) == data["id"], timeout=5)
    )
    await asyncio.sleep(0)
    await bot.discord.dispatch("INTERACTION_CREATE", data)
    await received  # the client is alive and parsed it
    answer = acknowledged(sent, data)
    if answer:

        def answered() -> list[Any]:
            return [c for c in bot.discord.calls_to(CALLBACK) if c.params["webhook_id"] == data["id"]]

        await until(answered, 3)  # Discord's deadline for the first response
    elif answer is None:
        await asyncio.sleep(0.05)
    else:
        await asyncio.sleep(0.05)  # time for a wrong answer to show
        ours = [c for c in bot.discord.calls[before:] if c.params.get("webhook_id") == data["id"]]
        assert ours == [], (sent, [(c.route, c.json) for c in ours])
    await bot.app._work.drain(20)
    return data, bot.discord.calls[before:]


def private_texts(calls: list[Any]) -> list[str]:
    """The content of every ephemeral message the bot sent (initial responses and follow-ups)."""
    texts = []
    for call in calls:
        body = call.json if isinstance(call.json, dict) else {}
        if call.route == CALLBACK:
            body = body.get("data") or {}
        elif call.route != FOLLOWUP:
            continue
        if int(body.get("flags") or 0) & EPHEMERAL:
            texts.append(str(body.get("content") or ""))
    return texts


APOLOGIES = {messages.text("internal_error", locale) for locale in ("en", "ja")}


def meets_no_bug(sent: Sent, data: dict[str, Any]) -> bool:
    """Whether anything but our own errors would be a bug: a command Discord can send for our
    declarations, or a click on a button of ours."""
    what = sent.what
    return (isinstance(what, Slash) and what.valid) or (isinstance(what, Click) and bool(acknowledged(sent, data)))



async def test_random_interactions_never_crash_the_client_or_show_a_traceback(bot: Bot) -> None:
    synced = {c["name"]: c for c in bot.discord.commands(bot.discord.guild_ids[0])}
    assert {
        name: {o["name"]: bool(o.get("required")) for o in synced[name]["options"]} for name in DECLARED
    } == DECLARED
    assert all(o["type"] == 3 for name in DECLARED for o in synced[name]["options"])
    await board(bot)

    @FUZZ
    @given(sent=interactions)
    @example(sent=Sent(Click("<real>", 2, "board", None), False, USER_ID, "en-US", frozenset()))
    @example(  # a move that is no choice of ours got "Sorry, something went wrong" (fixed: a usage message)
        sent=Sent(Slash("janken", [{"name": "move", "type": 3, "value": "lizard"}], valid=True), False, USER_ID,
                  "en-US", frozenset())
    )  # fmt: skip
    def interaction(sent: Sent) -> None:
        data, calls = bot.run(deliver(bot, sent))
        given_text = json.dumps(data, ensure_ascii=False)
        for call in calls:
            sent_text = json.dumps(call.json, ensure_ascii=False, default=str)
            assert not leaks(sent_text, given_text), (sent, call.route, sent_text[:500])
        for text in private_texts(calls):
            assert in_catalogue(text), (sent, text)
            if meets_no_bug(sent, data):
                assert text not in APOLOGIES, (sent, text)
        assert not bot.app.is_closed()

    await asyncio.to_thread(interaction)
    await board(bot)  # the client still answers a plain command


async def test_a_board_is_shown_when_the_interaction_has_no_channel_object(bot: Bot) -> None:
    sent = Sent(Slash("janken", [], valid=True), False, USER_ID, "en-US", frozenset({"channel"}))
    _, calls = await deliver(bot, sent)
    assert not set(private_texts(calls)) & APOLOGIES


@pytest.mark.parametrize(("name", "option"), [("draw", "prompt"), ("janken", "character")])
async def test_a_long_description_is_drawn_not_apologised_for(bot: Bot, name: str, option: str) -> None:
    sent = Sent(Slash(name, [{"name": option, "type": 3, "value": "a red fox " * 250}], valid=True), False,
                USER_ID, "en-US", frozenset())  # fmt: skip
    _, calls = await deliver(bot, sent)
    assert not set(private_texts(calls)) & APOLOGIES
