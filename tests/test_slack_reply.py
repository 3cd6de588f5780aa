"""Slack failures at the reply boundary: converted to our errors, never lost in the error path."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack_app.reply import SlackPlace, send_ephemeral, slack_errors
from core import errors
from tests.fakes.slack_api import FakeSlackAPI

PLACE = SlackPlace("T1", "C1", "U1")


async def test_an_unreachable_slack_becomes_unavailable(unused_tcp_port: int) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{unused_tcp_port}/api/"
        client = AsyncWebClient(token="xoxb-test", base_url=url, session=session, retry_handlers=[])
        with pytest.raises(errors.Unavailable, match="Slack could not be reached"), slack_errors():
            await client.chat_postMessage(channel="C1", text="hi")


async def test_a_private_message_survives_a_failing_response_url() -> None:
    async def respond(**_: Any) -> None:
        raise aiohttp.ServerDisconnectedError()

    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, session=session)
        await send_ephemeral(client, PLACE, "only for you", respond)
        [sent] = slack.calls_to("chat.postEphemeral")
        assert sent.args["user"] == "U1" and sent.args["text"] == "only for you"


async def test_a_private_message_without_a_response_url_is_posted_ephemerally() -> None:
    respond = AsyncRespond(response_url=None)  # Bolt's, for a payload without one: it raises ValueError

    async with FakeSlackAPI() as slack, aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, session=session)
        await send_ephemeral(client, PLACE, "only for you", respond)
        [sent] = slack.calls_to("chat.postEphemeral")
        assert (sent.args["channel"], sent.args["user"]) == ("C1", "U1")
        assert sent.args["text"] == "only for you"
        assert slack.calls_to("response_url") == []
