"""Property-based fuzzing of Slack's HTTP front door (hypothesis), on a real socket.

The server is the one ``serve_http`` runs (``http_guard`` around ``server.web_app``) over the
real Bolt app, built against the fake Slack Web API and the fake OpenAI. Hypothesis runs in
a worker thread; each example is sent over a raw connection from the test's event loop,
where the servers live, so one bot serves every example.

(a) A request that is not correctly signed (no or junk headers, another secret, another
    body, a stale or non-ASCII timestamp, a tampered or repeated header; any body, any
    content type, extra headers) gets 401, and nothing else happens: no Web API call, no
    ``response_url`` POST, no OpenAI call, no work started.
(b) A correctly signed request with a random body (``payload=`` JSON of random shapes,
    slash command forms with random and missing fields, event JSON, junk) never gets a 5xx
    or a traceback in its answer. Unless it is a well-formed command (a slash command, a
    board click, a mention or a DM, with the fields its translator needs), nothing is sent
    to Slack; if it is one, only its normal answer is: methods a handler uses, in the
    command's channel, without a traceback, and only a private usage message when its text
    is a usage error.

Inputs that once failed are kept as ``@example``s: payloads Bolt read on trust (a 500, and an
apology to their ``response_url``), forms mentioning "payload" (read by Bolt as empty), and
commands without a ``response_url`` (whose private answers were lost).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote_plus, unquote_plus, urlencode

import aiohttp
import openai
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from bot import http_guard, slack_app
from bot.slack_app import inbound, render, server
from bot.slack_app.listeners import SlackListeners
from core.ai import AIService
from core.errors import UserInputError
from core.store.memory import MemoryStore
from handlers import ask, draw, janken
from handlers.failures import user_message
from handlers.port import Command, Services
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_client import FORM, SIGNING_SECRET
from tests.test_fuzz_handlers import hostile_text, leaks

JSON = "application/json"
T = TypeVar("T")

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# --- the running bot ---


@dataclass
class Door:
    slack: FakeSlackAPI
    openai: FakeOpenAI
    listeners: SlackListeners
    application: Any
    port: int
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Awaitable[T]) -> T:
        """Run ``coro`` on the servers' loop from hypothesis's worker thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)  # type: ignore[arg-type]

    @property
    def response_base(self) -> str:
        return f"{self.slack.url}/response/"


@pytest.fixture
async def door() -> AsyncIterator[Door]:
    async with (
        FakeSlackAPI() as slack,
        FakeOpenAI() as fake_ai,
        aiohttp.ClientSession() as session,
        openai.AsyncOpenAI(api_key="sk-test", base_url=fake_ai.url, max_retries=0) as oai,
    ):
        services = Services(
            ai=AIService(oai, chat_model="m", image_model="i", system_prompt="s"), store=MemoryStore()
        )
        built = await slack_app.build(
            services, session, token="xoxb-test", signing_secret=SIGNING_SECRET, api_url=slack.api_url
        )
        limits = http_guard.DEFAULT_LIMITS
        application = server.web_app(built.app, signing_secret=SIGNING_SECRET, limits=limits)
        runner = await http_guard.start_runner(application, limits)
        listener = await http_guard.listen(runner, "127.0.0.1", 0, limits)
        try:
            port = listener.sockets[0].getsockname()[1]
            yield Door(slack, fake_ai, built.listeners, application, port, asyncio.get_running_loop())
        finally:
            listener.close()
            await built.listeners.drain(5)
            await runner.cleanup()


async def exchange(port: int, head: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    """POST ``body`` to /slack/events with exactly these headers; the status and the whole answer."""
    lines = [f"POST {server.EVENTS_PATH} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += ["Connection: close", *(f"{name}: {value}" for name, value in head)]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1]), answer


def signature(body: bytes, timestamp: str, secret: str = SIGNING_SECRET) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def now() -> str:
    return str(int(time.time()))


# --- random bodies ---

SLACK_KEYS = ["type", "team", "team_id", "user", "user_id", "channel", "channel_id", "message", "ts", "actions",
              "action_id", "value", "event", "text", "command", "response_url", "trigger_id", "authorizations",
              "container", "api_app_id", "token", "enterprise", "enterprise_id", "is_enterprise_install",
              "thread_ts", "channel_type", "subtype", "bot_id", "event_id", "id", "challenge", "payload",
              "ssl_check", "view", "name", "client_msg_id"]  # fmt: skip
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.just("")
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=3),
        st.dictionaries(st.one_of(st.sampled_from(SLACK_KEYS), st.text(max_size=8)), kids, max_size=4),
    ),
    max_leaves=10,
)


def mostly(usual: st.SearchStrategy[T], odd: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``usual`` usually, ``odd`` now and then: most requests look like Slack's, so get past Bolt."""
    return st.lists(st.just(None), max_size=4).flatmap(lambda n: odd if len(n) == 1 else usual)


slack_text = mostly(hostile_text, st.sampled_from(["payload", "what is a payload?", "{", "{}"])).map(
    lambda s: s.encode("utf-8", "replace").decode()  # what a form or JSON from Slack can carry
)
CHANNEL = "<channel>"
"""Replaced, as each request is sent, by a channel new to the bot, so Slack's per-channel limits do not
slow the run; a channel drawn at random stays as drawn."""
channels_drawn = mostly(st.just(CHANNEL), st.one_of(st.sampled_from(["", "C1", "U1"]), st.text(max_size=12)))
users = mostly(
    st.sampled_from(["U1", "U2", "W0123456789"]),
    st.one_of(st.sampled_from(["", "UBOT"]), st.text(max_size=12)),
)
COMMANDS = ["/ask", "/draw", "/janken", "/help"]


@st.composite
def damaged(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with a few random damages: a field (at any depth) dropped or replaced by random JSON, or
    random fields added. Often none: the well-formed payload must get its normal answer."""
    out = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3).flatmap(lambda n: st.integers(0, n)))):  # 0 most often
        paths = list(_paths(out))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        holder = out
        for step in path[:-1]:
            holder = holder[step]
        how = draw(st.sampled_from(["drop", "replace", "add"]))
        if how == "drop" and isinstance(holder, dict):
            del holder[path[-1]]
        elif how == "replace":
            holder[path[-1]] = draw(json_values)
        elif isinstance(holder, dict):
            holder[draw(st.one_of(st.sampled_from(SLACK_KEYS), st.text(max_size=8)))] = draw(json_values)
    return out


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Any:
    """Every (key or index) path into nested dicts and lists."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from _paths(child, (*prefix, key))


@st.composite
def slash_forms(draw: st.DrawFn) -> dict[str, Any]:
    base = {
        "token": "legacy", "team_id": "T1", "team_domain": "fake", "channel_id": draw(channels_drawn),
        "channel_name": draw(mostly(st.just("general"), st.just("payloads"))), "user_id": draw(users),
        "user_name": "alice",
        "command": draw(mostly(st.sampled_from(COMMANDS), st.sampled_from(["/ASK", "ask", "/other", ""]))),
        "text": draw(slack_text), "api_app_id": "A1", "is_enterprise_install": "false",
        "response_url": draw(mostly(st.just("<response>"), st.none())), "trigger_id": "<trigger>",
    }  # fmt: skip
    form = draw(damaged({k: v for k, v in base.items() if v is not None}))
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}  # a form holds text


GAME = uuid.UUID(int=7).hex
codes = mostly(
    st.builds(
        lambda action, game, round_, owner: f"jk:{action}:{game}:{round_}:{owner}",
        mostly(
            st.sampled_from(["rock", "paper", "scissors", "again"]), st.sampled_from(["lizard", "", "ROCK"])
        ),
        mostly(st.just(GAME), st.text(max_size=34)),
        mostly(st.integers(0, 12), st.one_of(st.integers(), st.text(max_size=4))),
        users,
    ),
    json_values,
)


@st.composite
def clicks(draw: st.DrawFn) -> dict[str, Any]:
    channel, user = draw(channels_drawn), draw(users)
    action_id = draw(mostly(st.sampled_from(["janken_rock", "janken_paper", "janken_scissors", "janken_again"]),
                            st.one_of(st.just("janken_lizard"), json_values)))  # fmt: skip
    base = {
        "type": draw(mostly(st.just("block_actions"), st.sampled_from(["interactive_message", "view_submission"]))),
        "api_app_id": "A1", "token": "legacy", "team": {"id": "T1", "domain": "fake"},
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T1"},
        "channel": {"id": channel, "name": "general"},
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": channel},
        "message": {"type": "message", "ts": "1700000000.000100", "text": "", "blocks": []},
        "trigger_id": "<trigger>", "response_url": draw(mostly(st.just("<response>"), st.none())),
        "actions": [{"type": "button", "block_id": "janken", "action_ts": "<trigger>", "action_id": action_id,
                     "value": draw(codes)}],
    }  # fmt: skip
    return draw(damaged(base))


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event = {
        "type": draw(mostly(st.sampled_from(["app_mention", "message"]), st.sampled_from(["reaction_added", ""]))),
        "channel": draw(channels_drawn), "user": draw(users), "text": draw(slack_text), "ts": "1700000000.000200",
        "channel_type": draw(mostly(st.just("im"), st.sampled_from(["channel", "mpim"]))), "client_msg_id": "<trigger>",
    }  # fmt: skip
    if draw(st.booleans()):
        event["thread_ts"] = "1700000000.000100"
    base = {
        "token": "legacy", "team_id": "T1", "api_app_id": "A1",
        "type": draw(mostly(st.just("event_callback"), st.sampled_from(["url_verification", "app_rate_limited"]))),
        "challenge": draw(st.text(max_size=20)), "event_id": "<event>", "event_time": 1700000000, "event": event,
    }  # fmt: skip
    return draw(damaged(base))


@dataclass(frozen=True)
class Signed:
    body: str
    content_type: str


def interactive(payload: Any) -> Signed:
    """An interactive payload, as Slack posts it: a form with one ``payload`` field."""
    return Signed(urlencode({"payload": json.dumps(payload)}), FORM)


form_encoded = st.builds(
    urlencode, mostly(slash_forms(), st.dictionaries(st.text(max_size=8), slack_text, max_size=4))
)
payload_form = mostly(clicks(), json_values).map(lambda p: urlencode({"payload": json.dumps(p)}))
event_json = mostly(events(), json_values).map(json.dumps)
content_types = st.one_of(
    st.sampled_from(
        [
            FORM,
            JSON,
            f"{FORM}; charset=utf-8",
            f"{JSON}; charset=utf-8",
            "text/plain",
            "multipart/form-data; boundary=x",
            "APPLICATION/JSON",
            "application/json;",
            "",
            "*/*",
        ]
    ),
    st.from_regex(r"[a-z]{1,10}/[a-z+.-]{1,12}", fullmatch=True),
)
signed_requests = st.one_of(
    st.builds(Signed, form_encoded, mostly(st.just(FORM), content_types)),
    st.builds(Signed, payload_form, mostly(st.just(FORM), content_types)),
    st.builds(Signed, event_json, mostly(st.just(JSON), content_types)),
    st.builds(
        Signed, st.text(max_size=200).map(lambda s: s.encode("utf-8", "replace").decode()), content_types
    ),
)


# --- what a body asks for ---


@dataclass(frozen=True)
class Expect:
    """A well-formed command: who asked, where, and the text whose parse decides a usage error."""

    kind: str  # "slash", "click", "mention", "dm"
    channel: str
    user: str
    text: str | None = None  # None: not parsed as command text (a click)
    command: str = ""
    private_to: str | None = None


def parsed(body: str, content_type: str) -> Any:
    """The body as Slack meant it, as the door hands it to Bolt, for a content type the door lets in."""
    if content_type.split(";")[0].strip().lower() not in server.PAYLOAD_TYPES:  # aiohttp's reading
        return None
    try:
        if bolt_reads_json(content_type, body):
            return json.loads(body)
        form = dict(parse_qsl(body, keep_blank_values=True))
        return json.loads(form["payload"]) if "payload" in form else form
    except ValueError:
        return None


def bolt_reads_json(content_type: str, body: str) -> bool:
    """Bolt compares the header's media type as sent (``APPLICATION/JSON`` is a form to it)."""
    return content_type.split(";")[0] == JSON or body.startswith("{")


def ids(*values: Any) -> bool:
    """Fields naming a team, channel, user or message: non-empty strings, as Slack sends them."""
    return all(isinstance(v, str) and v for v in values)


def typed(value: Any) -> bool:
    """Text a user typed: a string, or absent."""
    return value is None or isinstance(value, str)


def threaded(value: Any) -> bool:
    """A ``thread_ts``: absent (or empty), or an id."""
    return not value or ids(value)


def expected(body: Any) -> Expect | None:
    """The command a body is, if our listeners take it and it has the fields (and types) Slack
    documents that its translator reads; else None."""
    if not isinstance(body, dict) or not body:
        return None
    if inbound.misshapen(body):
        return None  # refused at the door
    if body.get("command") in COMMANDS:  # our command listeners come first, matching the name exactly
        sender = (body.get("team_id"), body.get("channel_id"), body.get("user_id"))
        if ids(*sender) and typed(body.get("text")):
            return Expect(
                "slash", body["channel_id"], body["user_id"], body.get("text") or "", body["command"]
            )
        return None
    if body.get("type") == "block_actions":
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions else None
        if not (isinstance(action, dict) and isinstance(action.get("action_id"), str)):
            return None
        if not (
            re.search(render.MOVE_ACTION, action["action_id"]) or action["action_id"] == render.AGAIN_ACTION
        ):
            return None
        parts: list[dict[str, Any]] = [body.get(k) for k in ("team", "channel", "user", "message")]  # type: ignore[misc]
        if not all(isinstance(p, dict) for p in parts):
            return None
        team, channel, user, message = parts
        if ids(team.get("id"), channel.get("id"), user.get("id"), message.get("ts")) and threaded(
            message.get("thread_ts")
        ):
            return Expect("click", channel["id"], user["id"])
        return None
    event = body.get("event")
    if body.get("type") != "event_callback" or not isinstance(event, dict):
        return None
    if not ids(body.get("team_id"), event.get("channel"), event.get("user"), event.get("ts")):
        return None
    if not (typed(event.get("text")) and threaded(event.get("thread_ts"))) or event.get("user") == "UBOT":
        return None
    text = event.get("text") or ""
    if event.get("type") == "app_mention":
        return Expect("mention", event["channel"], event["user"], text, "/ask")
    direct = event.get("type") == "message" and event.get("channel_type") == "im"
    if direct and not (event.get("subtype") or event.get("bot_id")):
        return Expect("dm", event["channel"], event["user"], text, "/ask")
    return None


PARSERS = {"/ask": ask.parse, "/draw": draw.parse, "/janken": janken.parse}


def usage_error(expect: Expect) -> UserInputError | None:
    parse = PARSERS.get(expect.command)
    if parse is None or expect.text is None:
        return None
    text = (
        re.sub(r"<@[A-Z0-9]+(?:\|[^>]*)?>", "", expect.text).strip()
        if expect.kind != "slash"
        else expect.text
    )
    try:
        parse(Command("slack", "T1", expect.channel, expect.user, text))
    except UserInputError as exc:
        return exc
    return None


PRIVATE = {"response_url", "chat.postEphemeral"}
LOOKUPS = {"users.info"}
"""Reads a command may make once acknowledged: the user's language (``include_locale``)."""
ANSWERING = {"chat.postMessage", "chat.update", "chat.delete", "chat.startStream", "chat.appendStream",
             "chat.stopStream", "files.getUploadURLExternal", "upload", "files.completeUploadExternal", *PRIVATE}  # fmt: skip
channels = itertools.count(1)


def fill(body: str, door: Door) -> str:
    """Placeholders made real (as they are, or form-encoded): a fresh channel, the fake's
    ``response_url``, fresh event, trigger and message ids (so no delivery looks like a repeat)."""
    for placeholder, value in (
        (CHANNEL, f"CFZ{next(channels)}"),
        ("<response>", f"{door.response_base}{uuid.uuid4().hex}"),
        ("<event>", f"Ev{uuid.uuid4().hex[:10]}"),
        ("<trigger>", uuid.uuid4().hex),
    ):
        body = body.replace(placeholder, value).replace(quote_plus(placeholder), quote_plus(value))
        body = body.replace(quote_plus(quote_plus(placeholder)), quote_plus(quote_plus(value)))
    return body


def call_text(args: dict[str, Any]) -> str:
    return json.dumps(args, ensure_ascii=False)


# --- (a) unverified ---

SIGNING = ["none", "junk", "other secret", "other body", "stale", "future", "odd digits", "repeated", "tampered",
           "timestamp only", "signature only", "prefix"]  # fmt: skip
header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True).filter(
    lambda n: n.lower()
    not in {"content-length", "transfer-encoding", "host", "connection", "content-type", "content-encoding",
            "expect", "upgrade", "x-slack-signature", "x-slack-request-timestamp"}
)  # fmt: skip
header_values = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"], exclude_characters="\r\n\x00"),
    max_size=40,
).map(str.strip)
unsigned_bodies = st.one_of(st.binary(max_size=300), form_encoded, payload_form, event_json)


def forged(how: str, body: bytes, junk: tuple[str, str], number: int) -> list[tuple[str, str]]:
    """Headers for ``body`` that do not verify, made the way ``how`` says (``number`` picks variants)."""
    ts = now()
    right = signature(body, ts)
    if how == "junk":
        return [("X-Slack-Request-Timestamp", junk[0]), ("X-Slack-Signature", junk[1])]
    if how == "other secret":
        return [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature(body, ts, "other"))]
    if how == "other body":
        return [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", signature(body + b"&", ts))]
    if how in ("stale", "future"):
        when = str(int(ts) + (301 + number) * (1 if how == "future" else -1))
        return [("X-Slack-Request-Timestamp", when), ("X-Slack-Signature", signature(body, when))]
    if how == "odd digits":  # int() reads each of these; Slack never sends them, and they are refused
        odd = ["\uff11" + ts[1:], ts[:4] + "_" + ts[4:], "+" + ts, "\u0661" + ts[1:], "0x" + ts]
        when = odd[number % len(odd)]
        return [("X-Slack-Request-Timestamp", when), ("X-Slack-Signature", signature(body, when))]
    if how == "repeated":  # exactly one of each is the rule, even when the copies agree
        name = ("X-Slack-Request-Timestamp", "X-Slack-Signature")[number % 2]
        again = (ts, right)[number % 2] if number % 4 < 2 else junk[0]
        return [("X-Slack-Request-Timestamp", ts), ("X-Slack-Signature", right), (name, again)]
    if how == "tampered":
        flipped = right[:-1] + ("0" if right[-1] != "0" else "1")
        return [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", (flipped, right.upper())[number % 2]),
        ]
    if how == "timestamp only":
        return [("X-Slack-Request-Timestamp", ts)]
    if how == "signature only":
        return [("X-Slack-Signature", right)]
    if how == "prefix":
        return [
            ("X-Slack-Request-Timestamp", ts),
            ("X-Slack-Signature", ("v1=", "", "V0=")[number % 3] + right[3:]),
        ]
    return []


async def test_an_unverified_request_gets_401_and_nothing_happens(door: Door) -> None:
    baseline = len(door.slack.calls)

    @settings(FUZZ, max_examples=200)
    @given(
        how=st.sampled_from(SIGNING),
        body=unsigned_bodies,
        content_type=content_types,
        junk=st.tuples(header_values, header_values),
        number=st.integers(0, 10**9),
        extra=st.lists(st.tuples(header_names, header_values), max_size=3),
    )
    @example(how="odd digits", body="command=/janken&text=rock", content_type=FORM, junk=("", ""), number=0,
             extra=[])  # fmt: skip
    def unverified(
        how: str,
        body: bytes | str,
        content_type: str,
        junk: tuple[str, str],
        number: int,
        extra: list[tuple[str, str]],
    ) -> None:
        raw = fill(body, door).encode() if isinstance(body, str) else body
        if how == "junk":  # a junk pair that happens to verify is no forgery
            assume(not (junk[0].isdigit() and junk[1] == signature(raw, junk[0])))
        head = [("Content-Type", content_type), *forged(how, raw, junk, number), *extra]
        status, answer = door.run(exchange(door.port, head, raw))
        event(how)
        assert status == 401, (how, head, raw[:200], answer[:300])
        assert b"Traceback" not in answer
        assert door.application[server.ACK_FIRST].pending == 0
        assert len(door.listeners._work) == 0  # no work started
        assert door.slack.calls[baseline:] == [] and door.openai.requests == []

    await asyncio.to_thread(unverified)
    await asyncio.sleep(0.3)  # anything wrongly started would have called out by now
    assert door.slack.calls[baseline:] == [] and door.openai.requests == []
    assert len(door.listeners._work) == 0


# --- (b) signed ---


async def send_signed(door: Door, request: Signed) -> tuple[int, bytes, list[Any], str]:
    body = fill(request.body, door)
    ts = now()
    head = [
        ("Content-Type", request.content_type),
        ("X-Slack-Request-Timestamp", ts),
        ("X-Slack-Signature", signature(body.encode(), ts)),
    ]
    before = len(door.slack.calls)
    status, answer = await exchange(door.port, head, body.encode())
    await door.listeners.drain(20)
    return status, answer, door.slack.calls[before:], body


async def test_a_signed_random_request_is_never_a_500_and_only_a_command_is_answered(door: Door) -> None:
    @settings(FUZZ, max_examples=250)
    @given(request=signed_requests)
    @example(  # a mention whose ts is no string was answered in a thread named by a list (fixed)
        request=Signed(json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "<event>", "event": {
            "type": "app_mention", "channel": CHANNEL, "user": "U1", "text": "hi", "ts": [1]}}), JSON)
    )  # fmt: skip
    @example(  # a click on a board whose message ts is no string was answered (fixed)
        request=Signed(urlencode({"payload": json.dumps({
            "type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"}, "channel": {"id": CHANNEL},
            "message": {"ts": []}, "trigger_id": "<trigger>", "response_url": "<response>",
            "actions": [{"action_id": "janken_rock", "value": "jk:rock:::U2", "action_ts": "<trigger>"}]})}), FORM)
    )  # fmt: skip
    @example(  # a mention whose text is no string got "Sorry, something went wrong" (fixed)
        request=Signed(json.dumps({"type": "event_callback", "team_id": "T1", "event_id": "<event>", "event": {
            "type": "app_mention", "channel": CHANNEL, "user": "U1", "text": 5, "ts": "1700000000.000200"}}), JSON)
    )  # fmt: skip
    @example(  # a form mentioning "payload" was read by Bolt as empty: the command was lost (fixed)
        request=Signed(urlencode({"team_id": "T1", "channel_id": CHANNEL, "channel_name": "payloads",
                                  "user_id": "U1", "command": "/help", "text": "what is a payload?",
                                  "response_url": "<response>", "trigger_id": "<trigger>"}), FORM)
    )  # fmt: skip
    @example(  # a command without a response_url lost its private answer (fixed)
        request=Signed(urlencode({"team_id": "T1", "channel_id": CHANNEL, "user_id": "U1", "command": "/draw",
                                  "text": "", "trigger_id": "<trigger>"}), FORM)
    )  # fmt: skip
    @example(  # a first action without action_id: a 500, and an apology to response_url (fixed)
        request=interactive({"type": "block_actions", "team": {"id": "T1"}, "user": {"id": "U1"},
                             "channel": {"id": CHANNEL}, "message": {"ts": "1.2"}, "response_url": "<response>",
                             "actions": [{"value": "x"}]})
    )  # fmt: skip
    @example(request=interactive({"type": "block_actions", "actions": [5]}))  # a 500 (fixed)
    @example(request=interactive({"type": "block_actions", "actions": []}))  # a 500 (fixed)
    @example(request=interactive({"type": "block_actions", "actions": [{"action_id": ["janken_rock"]}]}))
    @example(request=interactive({"type": "view_submission", "view": 5}))  # a 500 (fixed)
    @example(request=interactive({"view": []}))  # a 500 (fixed)
    @example(request=Signed(json.dumps({"type": "event_callback", "event": None}), JSON))  # a 500 (fixed)
    def signed(request: Signed) -> None:
        status, answer, calls, raw = door.run(send_signed(door, request))
        body = parsed(raw, request.content_type)
        content = answer.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")
        given = raw + unquote_plus(raw)  # what the user typed, as sent and as read from a form
        assert not leaks(content, given), (request, content[:500])
        for call in calls:
            assert not leaks(call_text(call.args), given), (request, call.method, call.args)
        assert status < 500, (request, answer[:500])
        expect = expected(body)
        event(f"{expect.kind if expect else 'not a command'}: {status}")
        if expect is None:
            assert calls == [], (request, [(c.method, c.args) for c in calls])
            return
        for call in (c for c in calls if c.method in LOOKUPS):
            assert call.args.get("user") == expect.user, (request, call.args)
        calls = [c for c in calls if c.method not in LOOKUPS]
        assert status == 200 and calls, (request, status, answer[:300])  # answered
        assert {c.method for c in calls} <= ANSWERING, (request, [c.method for c in calls])
        for call in calls:
            if call.method.startswith("chat.") and "channel" in call.args:
                assert call.args["channel"] == expect.channel, (request, call.method, call.args)
            if call.method == "chat.postEphemeral":
                assert call.args.get("user") == expect.user, (request, call.args)
        error = usage_error(expect)
        if error is not None:
            assert {c.method for c in calls} <= PRIVATE, (request, [(c.method, c.args) for c in calls])
            told = [c.args["text"] for c in calls if c.method in PRIVATE and c.args.get("text")]
            assert told == [render.escape_mrkdwn(user_message(error))], (request, told)

    await asyncio.to_thread(signed)
