"""Keeps tests/fakes/slack_api.py honest: every test drives it through the real slack_sdk clients."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes.slack_api import FakeSlackAPI

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
