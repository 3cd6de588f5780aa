"""The fake Discord, driven by the real discord.py (AutoShardedClient + CommandTree) and by raw HTTP."""

from __future__ import annotations

import asyncio
import io
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands

from tests.fakes.discord_api import FakeDiscordAPI
from tests.fakes.discord_gateway import GUILD_MESSAGES, MESSAGE_CONTENT
from tests.fakes.discord_limits import CHANNEL_MESSAGES, Limit
from tests.fakes.discord_payloads import BOT_DM, PRIVATE_CHANNEL, USER_INSTALL
from tests.fakes.discord_state import (
    CALLBACK,
    CHANNEL_ID,
    EDIT_ORIGINAL,
    FOLLOWUP,
    GUILD_ID,
    PUT_GUILD_COMMANDS,
)

Handler = Callable[[discord.Interaction], Awaitable[None]]
GUILD = discord.Object(int(GUILD_ID))
OTHER_CHANNEL = "1180000000000000999"


class QuickShards(discord.AutoShardedClient):
    """discord.py waits 5 s before each further shard's IDENTIFY; the fake's window is set to 0 here."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


@dataclass
class Bot:
    """A logged-in, connected discord.py client whose /ask runs `handler`; errors land in `errors`."""

    client: discord.AutoShardedClient
    tree: app_commands.CommandTree
    handler: Handler | None = None
    errors: list[BaseException] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(
        self, fake: FakeDiscordAPI, payload: dict[str, Any], shard_id: int | str | None = None
    ) -> None:
        """Dispatch an interaction and wait until the command (or the tree's error handler) finished."""
        self.done.clear()
        await fake.dispatch("INTERACTION_CREATE", payload, shard_id=shard_id)
        await asyncio.wait_for(self.done.wait(), 5)


@pytest_asyncio.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscordAPI]:
    async with FakeDiscordAPI(shards=2) as server:
        server.identify_interval = 0  # QuickShards identifies both shards at once
        server.patch_discord(monkeypatch)
        yield server


@pytest_asyncio.fixture
async def bot(fake: FakeDiscordAPI) -> AsyncIterator[Bot]:
    client = QuickShards(intents=discord.Intents.default(), guild_ready_timeout=0.01)
    state = Bot(client, app_commands.CommandTree(client))

    @state.tree.command(name="ask", description="Ask a question", guild=GUILD)
    async def ask(interaction: discord.Interaction, question: str) -> None:
        assert state.handler is not None
        await state.handler(interaction)
        state.done.set()

    @state.tree.error
    async def on_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        state.errors.append(getattr(error, "original", error))
        state.done.set()

    await client.login(fake.token)
    task = asyncio.create_task(client.connect())
    await fake.wait_for_ready()
    await state.tree.sync(guild=GUILD)
    yield state
    await client.close()
    await asyncio.wait_for(task, 5)


async def test_slash_command_defer_edit_and_file_followup(fake: FakeDiscordAPI, bot: Bot) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content=f"You asked: {interaction.namespace.question}")
        await interaction.followup.send(
            file=discord.File(io.BytesIO(b"\x89PNG-bytes"), filename="answer.png")
        )

    bot.handler = handler
    assert sorted(i["shard"] for i in fake.identifies) == [[0, 2], [1, 2]] and fake.ready_shards == [0, 1]
    assert {i["intents"] for i in fake.identifies} == {discord.Intents.default().value}
    query = fake.connections[0]  # discord.py asks for zstd-stream when a zstd module is installed, else zlib
    assert (query["v"], query["encoding"]) == ("10", "json") and query["compress"] in (
        "zlib-stream",
        "zstd-stream",
    )
    (synced,) = fake.commands(GUILD_ID)
    assert synced["name"] == "ask" and synced["options"][0]["name"] == "question"
    assert {"integration_types", "contexts"} <= set(fake.calls_to(PUT_GUILD_COMMANDS)[0].json[0])

    await bot.run(fake, fake.slash_command("ask", {"question": "why?"}))

    assert bot.errors == []
    (callback,) = fake.calls_to(CALLBACK)
    assert (
        callback.json == {"type": 5} and callback.query == {"with_response": "1"} and callback.status == 200
    )
    (edit,) = fake.calls_to(EDIT_ORIGINAL)
    assert edit.json["content"] == "You asked: why?"
    (followup,) = fake.calls_to(FOLLOWUP)
    assert [(f.filename, f.data) for f in followup.files] == [("answer.png", b"\x89PNG-bytes")]
    original, image = fake.channel_messages(CHANNEL_ID)
    assert (original.content, original.loading, original.type) == ("You asked: why?", False, 20)
    assert [a.data for a in image.attachments] == [b"\x89PNG-bytes"]


async def test_guild_events_go_to_the_guilds_shard_and_dms_to_shard_zero(
    fake: FakeDiscordAPI, bot: Bot
) -> None:
    seen: list[int | None] = []

    async def handler(interaction: discord.Interaction) -> None:
        seen.append(interaction.guild.shard_id if interaction.guild else None)
        await interaction.response.send_message("ok")

    bot.handler = handler
    guild_shard = (int(GUILD_ID) >> 22) % 2
    await bot.run(fake, fake.slash_command("ask", {"question": "where?"}))
    assert seen == [guild_shard] and bot.errors == []
    assert await fake.dispatch("X_UNKNOWN", {"guild_id": GUILD_ID}) == 1  # discord.py ignores unknown events
    assert await fake.dispatch("X_UNKNOWN", {}, shard_id="all") == 2


async def test_edit_over_2000_characters_is_refused_with_discords_error(
    fake: FakeDiscordAPI, bot: Bot
) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="x" * 2001)

    bot.handler = handler
    await bot.run(fake, fake.slash_command("ask", {"question": "long"}))

    (error,) = bot.errors
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (400, 50035)
    (edit,) = fake.calls_to(EDIT_ORIGINAL)
    too_long = {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
    assert edit.response == {
        "message": "Invalid Form Body",
        "code": 50035,
        "errors": {"content": {"_errors": [too_long]}},
    }
    assert fake.channel_messages(CHANNEL_ID)[0].loading  # nothing changed: still "thinking"


async def test_a_429_is_waited_out_by_discord_py(fake: FakeDiscordAPI, bot: Bot) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="after the wait")

    bot.handler = handler
    fake.fail(EDIT_ORIGINAL, 429, retry_after=0.5)
    await bot.run(fake, fake.slash_command("ask", {"question": "q"}))

    assert bot.errors == []
    limited, ok = fake.calls_to(EDIT_ORIGINAL)
    assert (limited.status, ok.status) == (429, 200) and ok.time - limited.time >= 0.5
    assert limited.response == {"message": "You are being rate limited.", "retry_after": 0.5, "global": False}
    assert limited.answer_headers["Retry-After"] == "1"  # whole seconds, rounded up, like Discord's
    assert fake.channel_messages(CHANNEL_ID)[0].content == "after the wait"


async def test_discord_py_paces_itself_by_the_rate_limit_headers(fake: FakeDiscordAPI, bot: Bot) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        for n in range(5):
            await interaction.edit_original_response(content=f"part {n}")

    bot.handler = handler
    fake.limiter.limits[EDIT_ORIGINAL] = Limit(2, 0.2, "tight")  # Discord's 5 per 2 s, shrunk
    await bot.run(fake, fake.slash_command("ask", {"question": "stream"}))

    edits = fake.calls_to(EDIT_ORIGINAL)
    assert bot.errors == [] and [c.status for c in edits] == [200] * 5  # waited on Remaining 0, no 429
    assert [c.answer_headers["X-RateLimit-Remaining"] for c in edits] == ["1", "0", "1", "0", "1"]
    assert edits[2].time - edits[0].time >= 0.15 and fake.channel_messages(CHANNEL_ID)[0].content == "part 4"


async def test_a_second_response_to_one_interaction_is_refused(fake: FakeDiscordAPI, bot: Bot) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("round played")

    bot.handler = handler
    payload = fake.slash_command("ask", {"question": "twice"})
    await bot.run(fake, payload)
    await bot.run(fake, payload)  # delivered again, as after a resume or to a second process

    (error,) = bot.errors
    assert isinstance(error, discord.HTTPException) and (error.status, error.code) == (400, 40060)
    assert [c.status for c in fake.calls_to(CALLBACK)] == [200, 400]
    assert [m.content for m in fake.channel_messages(CHANNEL_ID)] == ["round played"]


async def test_followup_right_after_defer_edits_the_thinking_message(fake: FakeDiscordAPI, bot: Bot) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send("done", ephemeral=False)

    bot.handler = handler
    await bot.run(fake, fake.slash_command("ask", {"question": "q"}))

    (only,) = fake.channel_messages(CHANNEL_ID)  # no new message: the loading one was edited
    assert (only.content, only.loading, only.ephemeral) == ("done", False, True)


async def test_discord_py_resumes_after_a_reconnect_request(fake: FakeDiscordAPI, bot: Bot) -> None:
    async def handler(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("still here")

    bot.handler = handler
    await fake.request_reconnect((int(GUILD_ID) >> 22) % 2)  # op 7: discord.py closes and RESUMEs
    await bot.run(fake, fake.slash_command("ask", {"question": "there?"}))  # sent now, or replayed on RESUME

    assert bot.errors == [] and len(fake.identifies) == 2  # resumed, not identified again
    assert len(fake.connections) == 3
    assert [m.content for m in fake.channel_messages(CHANNEL_ID)] == ["still here"]


async def test_resume_replays_the_dispatches_a_closed_session_missed(fake: FakeDiscordAPI) -> None:
    url = fake.gateway_url + "?v=10&encoding=json"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            await ws.receive_json()
            await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "properties": {}}})
            ready = await ws.receive_json()
            await ws.receive_json()  # GUILD_CREATE, s=2
        async with asyncio.timeout(5):
            while fake.ready_shards:  # the fake notices the close
                await asyncio.sleep(0.01)
        assert await fake.dispatch("X_MISSED", {"n": 1}) == 1  # kept for the session, nobody connected
        async with http.ws_connect(url) as ws:
            await ws.receive_json()
            session = ready["d"]["session_id"]
            await ws.send_json({"op": 6, "d": {"token": fake.token, "session_id": session, "seq": 2}})
            replayed, resumed = await ws.receive_json(), await ws.receive_json()
    assert (replayed["t"], replayed["s"], replayed["d"]) == ("X_MISSED", 3, {"n": 1})
    assert (resumed["t"], resumed["s"]) == ("RESUMED", 4) and ready["d"][
        "resume_gateway_url"
    ] == fake.gateway_url


async def test_json_answers_say_exactly_application_json(fake: FakeDiscordAPI) -> None:
    async with aiohttp.ClientSession() as http:
        ok = await http.get(f"{fake.api_url}/users/@me", headers={"Authorization": f"Bot {fake.token}"})
        denied = await http.get(f"{fake.api_url}/users/@me", headers={"Authorization": "Bot wrong"})
        missing = await http.get(f"{fake.api_url}/no/such/route")
    assert [r.headers["Content-Type"] for r in (ok, denied, missing)] == ["application/json"] * 3
    assert (denied.status, await denied.json()) == (401, {"message": "401: Unauthorized", "code": 0})
    assert ok.headers["X-RateLimit-Limit"] and ok.headers["Via"]


async def test_rate_limit_buckets_per_channel_and_per_interaction_token(fake: FakeDiscordAPI) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(base_url=fake.url) as http:

        async def post(channel: str) -> aiohttp.ClientResponse:
            return await http.post(
                f"/api/v10/channels/{channel}/messages", json={"content": "hi"}, headers=auth
            )

        answers = [await post(CHANNEL_ID) for _ in range(6)]
        other = await post(OTHER_CHANNEL)
        fake.advance(CHANNEL_MESSAGES.seconds)
        later = await post(CHANNEL_ID)
    assert [r.status for r in answers] == [200] * 5 + [429] and other.status == 200 and later.status == 200
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert len({r.headers["X-RateLimit-Bucket"] for r in answers}) == 1
    limited, body = answers[5], await answers[5].json()
    assert body["global"] is False and 0 < body["retry_after"] <= 5 and limited.headers["Retry-After"] == "5"
    assert limited.headers["X-RateLimit-Scope"] == "user"
    assert len(fake.channel_messages(CHANNEL_ID)) == 6  # the refused one was not posted

    one, two = (fake.slash_command("ask", strict=False) for _ in range(2))
    async with aiohttp.ClientSession(base_url=fake.url) as http:
        for payload in (one, two):
            await http.post(
                f"/api/v10/interactions/{payload['id']}/{payload['token']}/callback", json={"type": 5}
            )
        hook = f"/api/v10/webhooks/{fake.application_id}"
        edits = [
            await http.patch(f"{hook}/{one['token']}/messages/@original", json={"content": "x"})
            for _ in range(6)
        ]
        other_token = await http.patch(f"{hook}/{two['token']}/messages/@original", json={"content": "y"})
    assert [r.status for r in edits] == [200] * 5 + [429] and other_token.status == 200


async def test_interaction_deadlines_and_sizes() -> None:
    async with (
        FakeDiscordAPI(attachment_size_limit=1024) as fake,
        aiohttp.ClientSession(base_url=fake.url) as http,
    ):
        late = fake.slash_command("ask", strict=False)
        callback = "/api/v10/interactions/{id}/{token}/callback"
        fake.advance(3.1)
        refused = await http.post(callback.format(**late), json={"type": 4, "data": {"content": "late"}})
        assert (refused.status, (await refused.json())["code"]) == (404, 10062)

        used = fake.slash_command("ask", strict=False)
        hook = f"/api/v10/webhooks/{fake.application_id}/{used['token']}"
        early = await http.post(hook, json={"content": "before any response"})
        assert (early.status, (await early.json())["code"]) == (404, 10015)
        await http.post(callback.format(**used), json={"type": 5})
        form = aiohttp.FormData(quote_fields=False)
        form.add_field("payload_json", '{"content": "big"}', content_type="application/json")
        form.add_field("files[0]", b"x" * 1025, filename="big.png")
        big = await http.post(hook, data=form)
        assert (big.status, await big.json()) == (413, {"message": "Request entity too large", "code": 40005})
        fake.advance(15 * 60 + 1)
        expired = await http.patch(f"{hook}/messages/@original", json={"content": "too late"})
        assert (expired.status, (await expired.json())["code"]) == (401, 50027)


async def test_a_command_is_offered_only_where_it_is_declared(fake: FakeDiscordAPI, bot: Bot) -> None:
    with pytest.raises(LookupError):  # /ask was synced to the guild only
        fake.slash_command("ask", {"question": "q"}, guild_id=None, context=BOT_DM)
    with pytest.raises(ValueError):
        fake.slash_command("ask", {"query": "q"})  # no such option
    bot.tree.allowed_installs = app_commands.AppInstallationType(guild=True, user=True)
    bot.tree.allowed_contexts = app_commands.AppCommandContext(
        guild=True, dm_channel=True, private_channel=True
    )
    bot.tree.add_command(app_commands.Command(name="anywhere", description="Everywhere", callback=_say_hi))
    here: app_commands.Command[Any, ..., None] = app_commands.Command(
        name="here", description="Servers only", callback=_say_hi
    )
    # discord.py merges a command's settings over the tree's: unset (None) fields inherit True from the tree
    here.allowed_contexts = app_commands.AppCommandContext(
        guild=True, dm_channel=False, private_channel=False
    )
    here.allowed_installs = app_commands.AppInstallationType(guild=True, user=False)
    bot.tree.add_command(here)
    await bot.tree.sync()

    anywhere, server_only = fake.commands()
    assert anywhere["integration_types"] == [0, 1] and anywhere["contexts"] == [0, 1, 2]
    assert server_only["integration_types"] == [0] and server_only["contexts"] == [0]
    payload = fake.slash_command("anywhere", guild_id=None, context=PRIVATE_CHANNEL, installs=(USER_INSTALL,))
    assert (
        payload["authorizing_integration_owners"] == {"1": payload["user"]["id"]} and "member" not in payload
    )
    assert fake.slash_command("here")["data"]["name"] == "here"
    with pytest.raises(LookupError):
        fake.slash_command("here", guild_id=None, context=BOT_DM)
    with pytest.raises(LookupError):
        fake.slash_command("here", installs=(USER_INSTALL,))
    with pytest.raises(ValueError):  # a private channel is reachable through a user install only
        fake.slash_command("anywhere", guild_id=None, context=PRIVATE_CHANNEL)


async def _say_hi(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("hi")


async def test_gateway_refuses_bad_tokens_and_undeclared_privileged_intents(fake: FakeDiscordAPI) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(fake.gateway_url + "?v=10&encoding=json") as ws,
    ):
        assert (await ws.receive_json())["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": "nope", "intents": 0, "properties": {}}})
        await ws.receive()
        assert ws.close_code == 4004

    intents = discord.Intents.default()
    intents.message_content = True
    client = QuickShards(intents=intents)
    await client.login(fake.token)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(client.connect(reconnect=False), 5)
    await client.close()
    assert fake.identifies[-1]["intents"] & MESSAGE_CONTENT


async def test_buttons_and_zlib_stream_with_a_raw_gateway_client(fake: FakeDiscordAPI) -> None:
    rock = {"type": 2, "style": 1, "custom_id": "janken:rock", "label": "Rock"}
    posted = fake.add_message(CHANNEL_ID, "pick", components=[{"type": 1, "components": [rock]}])
    with pytest.raises(ValueError):
        fake.button_click("janken:lizard", posted.id)  # not on that message
    inflate = zlib.decompressobj()
    async with aiohttp.ClientSession() as http:
        url = fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
        async with http.ws_connect(url) as ws:

            async def receive() -> bytes:
                return inflate.decompress(await ws.receive_bytes())

            assert b'"op": 10' in await receive()
            await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "properties": {}}})
            assert b'"READY"' in await receive() and b'"GUILD_CREATE"' in await receive()
            click = fake.button_click("janken:rock", posted.id)
            assert await fake.dispatch("INTERACTION_CREATE", click) == 1
            event = await receive()
            assert b'"janken:rock"' in event and b'"s": 3' in event
        update = {"type": 7, "data": {"content": "you played rock", "components": []}}
        answer = await http.post(
            f"{fake.api_url}/interactions/{click['id']}/{click['token']}/callback", json=update
        )
    assert answer.status == 204 and fake.message(posted.id).content == "you played rock"


async def test_message_events_and_their_content_follow_the_sessions_intents() -> None:
    """MESSAGE_CREATE needs GUILD_MESSAGES; without MESSAGE_CONTENT a guild message's content is
    withheld unless it mentions the bot, which a reply to the bot does while its ping is on."""
    async with FakeDiscordAPI(privileged_intents=MESSAGE_CONTENT) as server, aiohttp.ClientSession() as http:
        server.identify_interval = 0
        sockets = {}
        for name, intents in {
            "plain": GUILD_MESSAGES,
            "content": GUILD_MESSAGES | MESSAGE_CONTENT,
            "none": 1,
        }.items():
            ws = await http.ws_connect(server.gateway_url + "?v=10&encoding=json")
            assert (await ws.receive_json())["op"] == 10
            await ws.send_json({"op": 2, "d": {"token": server.token, "intents": intents, "properties": {}}})
            assert [(await ws.receive_json())["t"] for _ in range(2)] == ["READY", "GUILD_CREATE"]
            sockets[name] = ws

        async def seen(data: dict[str, Any]) -> dict[str, str]:
            assert await server.dispatch("MESSAGE_CREATE", data) == 2  # not to the session without the intent
            return {n: (await sockets[n].receive_json())["d"]["content"] for n in ("plain", "content")}

        answer = server.add_message(CHANNEL_ID, "an answer of the bot")
        assert await seen(server.user_message("hello all")) == {"plain": "", "content": "hello all"}
        assert await seen(server.user_message("and?", reply_to=answer.id)) == {
            "plain": "and?",
            "content": "and?",
        }
        quiet = server.user_message("and?", reply_to=answer.id, ping=False)
        assert await seen(quiet) == {"plain": "", "content": "and?"}
        for ws in sockets.values():
            await ws.close()


async def test_a_reply_to_a_missing_message_is_refused_unless_told_to_post_it_plain(
    fake: FakeDiscordAPI,
) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    target = fake.add_message(CHANNEL_ID, "hello")
    async with aiohttp.ClientSession() as http:

        async def reply(to: str, **reference: Any) -> tuple[int, Any]:
            body = {"content": "hi", "message_reference": {"message_id": int(to), **reference}}
            answer = await http.post(
                f"{fake.api_url}/channels/{CHANNEL_ID}/messages", json=body, headers=auth
            )
            return answer.status, await answer.json()

        status, replied = await reply(target.id)
        assert status == 200 and replied["type"] == 19
        assert replied["message_reference"] == {"type": 0, "message_id": target.id, "channel_id": CHANNEL_ID}
        assert (await reply("1180000000000000555"))[0] == 400
        status, plain = await reply("1180000000000000555", fail_if_not_exists=False)
        assert status == 200 and plain["type"] == 0 and "message_reference" not in plain
