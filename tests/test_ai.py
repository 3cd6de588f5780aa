"""core.ai against the fake OpenAI server through the real AsyncOpenAI client."""

from __future__ import annotations

import openai
import pytest

from core import errors
from core.ai import AIService
from core.conversation import Turn
from core.messages import text
from tests.fakes.openai_server import FakeOpenAI


async def collect(ai: AIService, history: list[Turn], question: str) -> list[str]:
    return [delta async for delta in ai.stream_answer(history, question)]


async def test_streamed_answer_arrives_whole_and_in_order(ai: AIService, fake_openai: FakeOpenAI) -> None:
    fake_openai.chunks = [f"part{i} " for i in range(30)]
    assert await collect(ai, [], "Count") == fake_openai.chunks
    sent = fake_openai.calls("chat")[0].body
    assert sent["model"] == "test-chat" and sent["stream"] is True
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Count"},
    ]


async def test_history_is_sent_before_the_question(ai: AIService, fake_openai: FakeOpenAI) -> None:
    history = [Turn("user", "My name is Ada."), Turn("assistant", "Hello Ada.")]
    await collect(ai, history, "What is my name?")
    roles = [(m["role"], m["content"]) for m in fake_openai.calls("chat")[0].body["messages"]]
    assert roles[1:] == [
        ("user", "My name is Ada."),
        ("assistant", "Hello Ada."),
        ("user", "What is my name?"),
    ]


async def test_image_bytes_arrive_unchanged_with_size_and_quality(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.image = bytes(range(256)) * 40
    image = await ai.generate_image("a cat", size="1536x1024", quality="high")
    assert image.data == fake_openai.image and image.mime == "image/png" and image.extension == "png"
    sent = fake_openai.calls("images")[0].body
    assert (sent["model"], sent["prompt"], sent["size"], sent["quality"]) == (
        "test-image",
        "a cat",
        "1536x1024",
        "high",
    )


@pytest.mark.parametrize(
    ("kind", "error_type", "message_key"),
    [
        ("rate_limit", errors.RateLimited, "rate_limited"),
        ("moderation", errors.ContentBlocked, "content_blocked"),
        ("content_policy", errors.ContentBlocked, "content_blocked"),
        ("auth", errors.UpstreamError, "ai_auth"),
        ("server", errors.Unavailable, "ai_unavailable"),
        ("bad_request", errors.UpstreamError, None),
    ],
)
@pytest.mark.parametrize("endpoint", ["chat", "images"])
async def test_each_error_kind_becomes_our_error_with_a_user_message(
    ai: AIService,
    fake_openai: FakeOpenAI,
    endpoint: str,
    kind: str,
    error_type: type,
    message_key: str | None,
) -> None:
    fake_openai.fail(endpoint, kind)
    with pytest.raises(error_type) as caught:
        if endpoint == "chat":
            await collect(ai, [], "hi")
        else:
            await ai.generate_image("cat", size="1024x1024", quality="low")
    assert isinstance(caught.value.__cause__, openai.APIError)
    expected = text(message_key) if message_key else text("ai_failed", detail="error 400")
    assert caught.value.message() == expected


async def test_a_timeout_becomes_unavailable(fake_openai: FakeOpenAI) -> None:
    fake_openai.delay = 1.0
    async with openai.AsyncOpenAI(
        api_key="k", base_url=fake_openai.url, max_retries=0, timeout=0.1
    ) as client:
        ai = AIService(client, chat_model="m", image_model="i", system_prompt="s")
        with pytest.raises(errors.Unavailable):
            await ai.generate_image("cat", size="1024x1024", quality="low")


async def test_an_unreachable_server_becomes_unavailable(unused_tcp_port: int) -> None:
    url = f"http://127.0.0.1:{unused_tcp_port}/v1"
    async with openai.AsyncOpenAI(api_key="k", base_url=url, max_retries=0) as client:
        ai = AIService(client, chat_model="m", image_model="i", system_prompt="s")
        with pytest.raises(errors.Unavailable):
            await collect(ai, [], "hi")


async def test_a_stream_that_breaks_midway_raises_after_the_first_parts(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.break_stream_after(2)
    received: list[str] = []
    with pytest.raises(errors.Unavailable):
        async for delta in ai.stream_answer([], "hi"):
            received.append(delta)
    assert received == fake_openai.chunks[:2]


async def test_a_connection_cut_midway_becomes_unavailable_after_the_first_parts(
    ai: AIService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.cut_stream_after(3)
    received: list[str] = []
    with pytest.raises(errors.Unavailable):
        async for delta in ai.stream_answer([], "hi"):
            received.append(delta)
    assert received == fake_openai.chunks[:3]


async def test_a_content_filter_finish_is_a_refusal(ai: AIService, fake_openai: FakeOpenAI) -> None:
    fake_openai.finish_reason = "content_filter"
    with pytest.raises(errors.ContentBlocked):
        await collect(ai, [], "hi")
