"""Keeps tests/fakes/slack_api.py honest: every test drives it through the real slack_sdk clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_scopes import BOT_SCOPES

CHANNEL = "C1"


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[FakeSlackAPI]:
    """A running fake on the test's event loop."""
    async with FakeSlackAPI() as fake:
        yield fake


@pytest.fixture
def client(slack: FakeSlackAPI) -> AsyncWebClient:
    """The real async client pointed at the fake (default retry handlers)."""
    return AsyncWebClient(token="xoxb-test", base_url=slack.api_url)


@pytest.mark.asyncio
async def test_auth_test_wire_format(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["user_id"] == "UBOT" and resp["team_id"] == "T1" and resp["bot_id"] == "B1"
    assert resp.headers["Content-Type"] == "application/json"
    (call,) = slack.calls_to("auth.test")
    assert call.headers["authorization"] == "Bearer xoxb-test" and not call.failed
    async with aiohttp.ClientSession() as http:  # GET works too
        async with http.get(slack.api_url + "auth.test", headers={"Authorization": "Bearer xoxb-x"}) as r:
            assert (await r.json())["ok"] is True


@pytest.mark.asyncio
async def test_post_update_read_back(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    root = slack.add_message(CHANNEL, "question", user="U1")
    posted = await client.chat_postMessage(channel=CHANNEL, text="thinking...", thread_ts=root.ts)
    second = await client.chat_postMessage(channel=CHANNEL, text="second", thread_ts=root.ts)
    assert posted["message"]["thread_ts"] == root.ts and posted["ts"] < second["ts"]
    updated = await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="the answer")
    assert updated["text"] == "the answer"
    assert slack.message_text(CHANNEL, posted["ts"]) == "the answer"
    (update,) = slack.calls_to("chat.update")
    assert update.args == {"channel": CHANNEL, "ts": posted["ts"], "text": "the answer"}
    replies = await client.conversations_replies(channel=CHANNEL, ts=root.ts)
    assert [m["text"] for m in replies["messages"]] == ["question", "the answer", "second"]
    await client.chat_delete(channel=CHANNEL, ts=second["ts"])
    assert slack.messages[(CHANNEL, second["ts"])].deleted
    with pytest.raises(SlackApiError) as err:
        await client.chat_update(channel=CHANNEL, ts=second["ts"], text="x")
    assert err.value.response["error"] == "message_not_found"


@pytest.mark.asyncio
async def test_blocks_are_stored(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    posted = await client.chat_postMessage(channel=CHANNEL, text="hi", blocks=blocks)
    assert posted["message"]["blocks"] == blocks
    assert slack.messages[(CHANNEL, posted["ts"])].blocks == blocks
    eph = await client.chat_postEphemeral(channel=CHANNEL, user="U1", text="psst")
    assert eph["message_ts"] > posted["ts"]


@pytest.mark.asyncio
async def test_files_upload_v2_round_trip(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    data = bytes(range(256)) * 10
    resp = await client.files_upload_v2(
        content=data, filename="pic.png", channel=CHANNEL, initial_comment="here", thread_ts="1.2"
    )
    methods = [c.method for c in slack.calls]
    assert methods == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    file_id = resp["file"]["id"]
    stored = slack.uploaded[file_id]
    assert stored.bytes == data and stored.filename == "pic.png" and stored.title == "pic.png"
    assert (stored.channel_id, stored.initial_comment, stored.thread_ts) == (CHANNEL, "here", "1.2")
    assert resp["file"]["mimetype"] == "image/png"
    assert (await client.files_info(file=file_id))["file"]["size"] == len(data)
    async with aiohttp.ClientSession() as http:  # url_private serves the bytes back to a bot token
        async with http.get(resp["file"]["url_private"], headers={"Authorization": "Bearer xoxb-test"}) as r:
            assert await r.read() == data


@pytest.mark.asyncio
async def test_chat_stream_reconstructs_text(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    pieces = ["Hello", ", wor", "ld! ", "This is ", "**streamed**", " text."]
    streamer = await client.chat_stream(
        channel=CHANNEL, thread_ts="1.2", recipient_team_id="T1", recipient_user_id="U1", buffer_size=10
    )
    for piece in pieces:
        await streamer.append(markdown_text=piece)
    done = await streamer.stop(blocks=[{"type": "divider"}])
    methods = [c.method for c in slack.calls]
    assert methods[0] == "chat.startStream" and methods[-1] == "chat.stopStream"
    assert "chat.appendStream" in methods
    assert slack.message_text(CHANNEL, streamer.ts) == "".join(pieces)
    assert done["message"]["text"] == "".join(pieces) and done["message"]["blocks"] == [{"type": "divider"}]
    assert not slack.messages[(CHANNEL, streamer.ts)].streaming
    with pytest.raises(SlackApiError) as err:
        await client.chat_appendStream(channel=CHANNEL, ts=streamer.ts, markdown_text="late")
    assert err.value.response["error"] == "message_not_in_streaming_state"


@pytest.mark.asyncio
async def test_chat_stream_default_buffer_sends_everything_on_stop(
    slack: FakeSlackAPI, client: AsyncWebClient
) -> None:
    streamer = await client.chat_stream(channel=CHANNEL, thread_ts="1.2")
    await streamer.append(markdown_text="short ")
    await streamer.append(markdown_text="answer")
    assert slack.calls == []  # buffered: nothing sent below buffer_size (256)
    await streamer.stop()
    assert [c.method for c in slack.calls] == ["chat.startStream", "chat.stopStream"]
    assert slack.calls[1].args["chunks"] == [{"type": "markdown_text", "text": "short answer"}]
    assert slack.message_text(CHANNEL, streamer.ts) == "short answer"


@pytest.mark.asyncio
async def test_rate_limit_reaches_the_client(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    slack.fail("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:  # default async handlers only retry connection errors
        await client.chat_postMessage(channel=CHANNEL, text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel=CHANNEL, text="hi"))["ok"]
    assert [c.failed for c in slack.calls_to("chat.postMessage")] == [True, False]


@pytest.mark.asyncio
async def test_rate_limit_retry_handler_retries(slack: FakeSlackAPI) -> None:
    retry = AsyncRateLimitErrorRetryHandler(max_retry_count=2)
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, retry_handlers=[retry])
    slack.fail("chat.update", retry_after=0, times=2)
    posted = await client.chat_postMessage(channel=CHANNEL, text="a")
    assert (await client.chat_update(channel=CHANNEL, ts=posted["ts"], text="b"))["ok"]
    assert [c.failed for c in slack.calls_to("chat.update")] == [True, True, False]


@pytest.mark.asyncio
async def test_error_injection_and_natural_errors(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    slack.fail("chat.postMessage", error="invalid_blocks", status=200, times=None)
    for _ in range(3):
        with pytest.raises(SlackApiError) as err:
            await client.chat_postMessage(channel=CHANNEL, text="x")
        assert err.value.response.status_code == 200 and err.value.response["error"] == "invalid_blocks"
    slack.clear_faults()
    assert (await client.chat_postMessage(channel=CHANNEL, text="x"))["ok"]
    for bad_client, error in [
        (AsyncWebClient(base_url=slack.api_url), "not_authed"),
        (AsyncWebClient(token="nope", base_url=slack.api_url), "invalid_auth"),
    ]:
        with pytest.raises(SlackApiError) as err:
            await bad_client.auth_test()
        assert err.value.response["error"] == error
    with pytest.raises(SlackApiError) as err:
        await client.api_call("no.such.method")
    assert err.value.response.status_code == 200 and err.value.response["error"] == "unknown_method"


@pytest.mark.asyncio
async def test_users_info_and_delay(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    slack.set_user("U9", real_name="Nine", tz="Asia/Tokyo")
    user = (await client.users_info(user="U9"))["user"]
    assert (user["name"], user["real_name"], user["tz"]) == ("user-U9", "Nine", "Asia/Tokyo")
    assert user["locale"] == "en-US"
    slack.delay = 0.2
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.2


def test_run_in_thread_with_sync_client() -> None:
    with FakeSlackAPI.run_in_thread() as slack:
        client = WebClient(token="xoxb-sync", base_url=slack.api_url)
        posted = client.chat_postMessage(channel=CHANNEL, text="from sync")
        assert slack.message_text(CHANNEL, posted["ts"]) == "from sync"
        resp = client.files_upload_v2(content="héllo", filename="a.txt", channel=CHANNEL)
        assert slack.uploaded[resp["file"]["id"]].bytes == "héllo".encode()
        # the sync client sends form bodies; urllib uploads raw bytes
        info = client.users_info(user="U1")
        assert info["user"]["id"] == "U1"
        assert slack.calls_to("users.info")[0].headers["Content-Type"] == "application/x-www-form-urlencoded"
        proc = subprocess.run(  # another process can use it as well
            [sys.executable, "-c", "import sys; from slack_sdk import WebClient;"
             "print(WebClient(token='xoxb-p', base_url=sys.argv[1]).auth_test()['user_id'])", slack.api_url],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert proc.stdout.strip() == "UBOT"
        assert len(slack.calls_to("auth.test")) == 1


@pytest.mark.asyncio
async def test_stream_expires_after_ttl(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    slack.stream_ttl = 0.1
    started = await client.chat_startStream(channel=CHANNEL, thread_ts="1.2", markdown_text="a")
    assert (await client.chat_appendStream(channel=CHANNEL, ts=started["ts"], markdown_text="b"))["ok"]
    await asyncio.sleep(0.15)
    with pytest.raises(SlackApiError) as err:
        await client.chat_stopStream(channel=CHANNEL, ts=started["ts"], markdown_text="c")
    assert err.value.response["error"] == "message_not_in_streaming_state"
    assert slack.message_text(CHANNEL, started["ts"]) == "ab"


# ----- Slack's rate limits and size limits -----------------------------------------------------------


class Clock:
    """A monotonic clock a test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def timed() -> AsyncIterator[tuple[FakeSlackAPI, Clock]]:
    """A running fake with its rate limits on (the default) and a hand-moved clock."""
    clock = Clock()
    async with FakeSlackAPI(clock=clock) as fake:
        yield fake, clock


async def _refused(call: Awaitable[object]) -> AsyncSlackResponse:
    """The error response of a call that must fail."""
    with pytest.raises(SlackApiError) as err:
        await call
    return err.value.response


@pytest.mark.asyncio
async def test_21st_start_stream_in_a_minute_is_429_and_not_applied(
    timed: tuple[FakeSlackAPI, Clock],
) -> None:
    slack, clock = timed
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    for start in (1000.0, 1005.0):  # Tier 2: 20 in any 60 s
        clock.now = start
        for _ in range(10):
            await client.chat_startStream(channel=CHANNEL, thread_ts="1.2", markdown_text="a")
    clock.now = 1010.4
    refused = await _refused(client.chat_startStream(channel=CHANNEL, thread_ts="1.2", markdown_text="b"))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "50"  # ceil(1060 - 1010.4)
    assert refused.data == {"ok": False, "error": "ratelimited"}
    assert refused.headers["Content-Type"] == "application/json"
    assert len(slack.messages) == 20 and all(m.text == "a" for m in slack.messages.values())
    last = slack.calls_to("chat.startStream")[-1]
    assert (last.failed, last.error, last.status) == (True, "ratelimited", 429)
    clock.now = 1059.9
    refused = await _refused(client.chat_startStream(channel=CHANNEL, thread_ts="1.2"))
    assert refused.headers["Retry-After"] == "1"  # 0.1 s, rounded up
    clock.now = 1060.0  # the ten from 1000 s leave the window; the ten from 1005 s stay
    for _ in range(10):
        await client.chat_startStream(channel=CHANNEL, thread_ts="1.2", markdown_text="c")
    refused = await _refused(client.chat_startStream(channel=CHANNEL, thread_ts="1.2"))
    assert refused.headers["Retry-After"] == "5"  # ceil(1005 + 60 - 1060)
    assert len(slack.messages) == 30
    assert [c.status for c in slack.calls_to("chat.startStream")].count(429) == 3


@pytest.mark.asyncio
async def test_post_message_is_limited_per_channel(timed: tuple[FakeSlackAPI, Clock]) -> None:
    slack, clock = timed
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    for i in range(3):  # a burst of three in one channel is fine
        await client.chat_postMessage(channel="C1", text=f"m{i}")
    refused = await _refused(client.chat_postMessage(channel="C1", text="m3"))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3"
    assert (await client.chat_postMessage(channel="C2", text="elsewhere"))["ok"]
    clock.now += 2.0
    assert (await _refused(client.chat_postMessage(channel="C1", text="m3"))).headers["Retry-After"] == "1"
    assert sorted(m.text for m in slack.messages.values() if m.channel == "C1") == ["m0", "m1", "m2"]
    clock.now += 1.0
    assert (await client.chat_postMessage(channel="C1", text="m3"))["ok"]


@pytest.mark.asyncio
async def test_tokens_are_separate_workspaces(timed: tuple[FakeSlackAPI, Clock]) -> None:
    slack, _ = timed
    first = AsyncWebClient(token="xoxb-first", base_url=slack.api_url)
    second = AsyncWebClient(token="xoxb-second", base_url=slack.api_url)
    for _ in range(20):
        await first.chat_startStream(channel=CHANNEL, thread_ts="1.2")
    assert (await _refused(first.chat_startStream(channel=CHANNEL, thread_ts="1.2"))).status_code == 429
    assert (await second.chat_startStream(channel=CHANNEL, thread_ts="1.2"))["ok"]
    for _ in range(3):  # chat.postMessage's per-channel count is per workspace too
        await first.chat_postMessage(channel="C1", text="x")
    assert (await second.chat_postMessage(channel="C1", text="y"))["ok"]


@pytest.mark.asyncio
async def test_ratelimited_call_does_not_count(timed: tuple[FakeSlackAPI, Clock]) -> None:
    slack, clock = timed
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    for _ in range(3):
        await client.chat_postMessage(channel="C1", text="x")
    for _ in range(2):
        clock.now += 1.0
        assert (await _refused(client.chat_postMessage(channel="C1", text="x"))).status_code == 429
    clock.now += 1.0  # 3 s after the first three: had the refusals counted, they would block these
    for _ in range(3):
        await client.chat_postMessage(channel="C1", text="x")
    assert (await _refused(client.chat_postMessage(channel="C1", text="x"))).status_code == 429
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [200] * 3 + [429] * 2 + [200] * 3 + [429]


@pytest.mark.asyncio
async def test_rate_limits_can_be_turned_off() -> None:
    async with FakeSlackAPI(rate_limits=False) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        for _ in range(25):
            await client.chat_startStream(channel=CHANNEL, thread_ts="1.2")
        assert not any(c.failed for c in slack.calls)
        slack.rate_limits = True  # calls made while off were not counted
        for _ in range(20):
            await client.chat_startStream(channel=CHANNEL, thread_ts="1.2")
        assert (await _refused(client.chat_startStream(channel=CHANNEL, thread_ts="1.2"))).status_code == 429


def test_run_in_thread_passes_rate_limits_through() -> None:
    with FakeSlackAPI.run_in_thread(rate_limits=False) as slack:
        sync = WebClient(token="xoxb-sync", base_url=slack.api_url)
        for _ in range(5):  # five in a channel at once would be 429 with the limits on
            assert sync.chat_postMessage(channel=CHANNEL, text="x")["ok"]
        assert slack.rate_limits is False


@pytest.mark.asyncio
async def test_injected_fault_takes_precedence_and_records_its_status(slack: FakeSlackAPI) -> None:
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    for _ in range(3):
        await client.chat_postMessage(channel=CHANNEL, text="x")
    slack.fail("chat.postMessage", error="service_unavailable", status=503, retry_after=None)
    refused = await _refused(client.chat_postMessage(channel=CHANNEL, text="x"))
    assert refused.status_code == 503 and refused["error"] == "service_unavailable"
    assert (await _refused(client.chat_postMessage(channel=CHANNEL, text="x"))).status_code == 429
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [200, 200, 200, 503, 429]


@pytest.mark.asyncio
async def test_raw_429_wire_format(slack: FakeSlackAPI) -> None:
    headers = {"Authorization": "Bearer xoxb-raw"}
    async with aiohttp.ClientSession() as http:
        for _ in range(20):
            async with http.post(
                slack.api_url + "chat.startStream", json={"channel": "C1"}, headers=headers
            ) as r:
                assert r.status == 200
        async with http.post(
            slack.api_url + "chat.startStream", json={"channel": "C1"}, headers=headers
        ) as r:
            assert r.status == 429 and r.headers["Content-Type"] == "application/json"
            assert 1 <= int(r.headers["Retry-After"]) <= 60
            assert await r.json() == {"ok": False, "error": "ratelimited"}


@pytest.mark.asyncio
async def test_text_size_limits(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", text="a" * 40_001)
    assert posted["response_metadata"]["warnings"] == ["message_truncated"]  # posted, but cut
    assert slack.message_text("C1", posted["ts"]) == "a" * 40_000
    fine = await client.chat_postMessage(channel="C2", text="short")
    assert "response_metadata" not in fine.data
    assert (await client.chat_update(channel="C2", ts=fine["ts"], text="b" * 4_000))["ok"]
    refused = await _refused(client.chat_update(channel="C2", ts=fine["ts"], text="c" * 4_001))
    assert refused.status_code == 200 and refused["error"] == "msg_too_long"
    assert slack.message_text("C2", fine["ts"]) == "b" * 4_000
    too_long = "d" * 12_001
    assert (await _refused(client.chat_postMessage(channel="C3", markdown_text=too_long)))[
        "error"
    ] == "msg_too_long"
    refused = await _refused(client.chat_startStream(channel="C4", thread_ts="1.2", markdown_text=too_long))
    assert refused["error"] == "msg_too_long"
    assert set(slack.messages) == {("C1", posted["ts"]), ("C2", fine["ts"])}
    stream = await client.chat_startStream(channel="C4", thread_ts="1.2", markdown_text="e" * 12_000)
    refused = await _refused(client.chat_appendStream(channel="C4", ts=stream["ts"], markdown_text=too_long))
    assert refused["error"] == "msg_too_long"
    refused = await _refused(client.chat_stopStream(channel="C4", ts=stream["ts"], markdown_text=too_long))
    assert refused["error"] == "msg_too_long"
    assert slack.message_text("C4", stream["ts"]) == "e" * 12_000
    assert slack.messages[("C4", stream["ts"])].streaming


@pytest.mark.asyncio
async def test_markdown_text_goes_without_text_or_blocks(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C1", markdown_text="**太字**です")
    assert slack.message_text("C1", posted["ts"]) == "**太字**です"
    both = client.chat_postMessage(channel="C1", markdown_text="**a**", text="a")
    assert (await _refused(both))["error"] == "markdown_text_conflict"
    blocks = [{"type": "divider"}]
    refused = await _refused(client.chat_update(channel="C1", ts=posted["ts"], markdown_text="b", blocks=blocks))
    assert refused["error"] == "markdown_text_conflict"
    assert (await client.chat_update(channel="C1", ts=posted["ts"], markdown_text="**c**"))["ok"]
    assert slack.message_text("C1", posted["ts"]) == "**c**"
    assert len(slack.messages) == 1


@pytest.mark.asyncio
async def test_block_count_limits(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    divider = {"type": "divider"}
    posted = await client.chat_postMessage(channel="C1", text="x", blocks=[divider] * 50)
    refused = await _refused(client.chat_postMessage(channel="C2", text="x", blocks=[divider] * 51))
    assert refused.status_code == 200 and refused["error"] == "invalid_blocks"
    refused = await _refused(
        client.chat_update(channel="C1", ts=posted["ts"], text="x", blocks=[divider] * 51)
    )
    assert refused["error"] == "invalid_blocks"
    assert slack.messages[("C1", posted["ts"])].blocks == [divider] * 50
    assert set(slack.messages) == {("C1", posted["ts"])}
    stream = await client.chat_startStream(channel="C3", thread_ts="1.2", markdown_text="a")
    refused = await _refused(client.chat_stopStream(channel="C3", ts=stream["ts"], blocks=[divider] * 51))
    assert refused["error"] == "msg_blocks_too_many"
    assert slack.messages[("C3", stream["ts"])].streaming
    assert (await client.chat_stopStream(channel="C3", ts=stream["ts"], blocks=[divider] * 50))["ok"]


# ----- OAuth scopes ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_call_with_its_scope_works() -> None:
    async with FakeSlackAPI(scopes=["users:read"]) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        assert (await client.users_info(user="U1"))["user"]["id"] == "U1"
        assert (await client.auth_test())["user_id"] == "UBOT"  # auth.test needs no scope
        assert not any(c.failed for c in slack.calls)


@pytest.mark.asyncio
async def test_a_call_without_its_scope_is_missing_scope_and_changes_nothing() -> None:
    async with FakeSlackAPI(scopes=["users:read", "files:read"]) as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        refused = await _refused(client.chat_postMessage(channel=CHANNEL, text="hi"))
        assert refused.status_code == 200
        assert refused.data == {
            "ok": False,
            "error": "missing_scope",
            "needed": "chat:write",
            "provided": "users:read,files:read",
        }
        refused = await _refused(client.files_upload_v2(content=b"x", filename="a.txt", channel=CHANNEL))
        assert refused["error"] == "missing_scope" and refused["needed"] == "files:write"
        assert slack.messages == {} and slack.uploaded == {}
        assert [(c.method, c.failed, c.error, c.status) for c in slack.calls] == [
            ("chat.postMessage", True, "missing_scope", 200),
            ("files.getUploadURLExternal", True, "missing_scope", 200),
        ]
        # an app-level token is not an OAuth bot token: its scopes are not checked
        assert (await AsyncWebClient(base_url=slack.api_url).apps_connections_open(app_token="xapp-1"))["ok"]


@pytest.mark.asyncio
async def test_the_default_scopes_are_the_manifests(slack: FakeSlackAPI, client: AsyncWebClient) -> None:
    manifest = json.loads((Path(__file__).resolve().parent.parent / "slack-manifest.json").read_text())
    granted = tuple(manifest["oauth_config"]["scopes"]["bot"])
    assert slack.scopes == granted
    assert {scope for scope in BOT_SCOPES.values() if scope} <= set(granted)  # every method the bot calls
    slack.scopes = tuple(s for s in granted if s != "users:read")
    refused = await _refused(client.users_info(user="U1"))
    assert refused["needed"] == "users:read" and refused["provided"] == ",".join(slack.scopes)
