"""/ask: stream an answer and keep the conversation for follow-ups (in its thread, or replies to it)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from core.ai import TokenMeter
from core.conversation import Turn, conversation_key, recent, stored
from core.errors import UpstreamError
from core.messages import text
from core.store.activity import Usage
from handlers import admission, logbook
from handlers.port import AskRequest, Command, Reply, Services
from handlers.text_input import checked


def parse(command: Command) -> AskRequest:
    """The question, or a usage error for empty or oversized text."""
    return AskRequest(question=checked(command.text, "usage_ask"))


async def handle(command: Command, reply: Reply, services: Services) -> None:
    await ask(parse(command), command, reply, services)


async def ask(request: AskRequest, command: Command, reply: Reply, services: Services) -> None:
    """Answer in the command's thread (or a new one) with the thread's history as context.

    The model is asked before anything is posted, so a refusal or an outage
    leaves no empty thread behind; the turn is stored only once the answer is complete.
    """

    def key(thread: str) -> str:
        return conversation_key(
            command.platform, command.workspace, command.channel, command.conversation or thread
        )

    async def place() -> tuple[str, str]:
        thread = command.thread or await reply.start_thread(request.question)
        return thread, key(thread)

    continued = command.conversation or command.thread
    await _converse(request.question, key(continued) if continued else None, place, command, reply, services)


async def follow_up(ref: str, command: Command, reply: Reply, services: Services) -> bool:
    """A reply to the answer message ``ref``: continue the conversation that answer belongs to.

    Returns ``False``, having done nothing, when the store links no conversation to ``ref``
    (a message that is no answer, or an answer too old to be remembered).
    """
    conversation = await services.store.conversation_of(ref)
    if conversation is None:
        return False
    question = parse(command).question

    async def place() -> tuple[str, str]:
        return command.thread or ref, conversation

    await _converse(question, conversation, place, command, reply, services)
    return True


async def _converse(
    question: str,
    continued: str | None,
    place: Callable[[], Awaitable[tuple[str, str]]],
    command: Command,
    reply: Reply,
    services: Services,
) -> None:
    """Stream the answer to ``question`` given the history of conversation ``continued`` (if any).

    ``place`` gives the answer's thread and conversation key once the model has begun to answer.
    The complete turn is stored under that key, and the messages carrying the answer are
    linked to it, so a reply to any of them continues the conversation.
    """
    history = recent(await services.store.load_history(continued)) if continued else []
    meter = TokenMeter()
    async with (
        admission.spending("ask", question, command, reply, services) as openai_slot,
        contextlib.aclosing(services.ai.stream_answer(history, question, meter)) as deltas,
    ):
        first = await anext(deltas, None)
        if first is None:
            raise UpstreamError("ai_failed", detail="empty answer")
        thread, conversation = await place()
        answer = [first]

        async def collected() -> AsyncIterator[str]:
            yield first
            async for delta in deltas:
                answer.append(delta)
                yield delta
            openai_slot.release()  # OpenAI is done; showing the rest is the platform's pace
            if meter.truncated:
                answer.append("\n\n" + text("answer_truncated", command.locale))
                yield answer[-1]

        refs = await reply.stream_text(thread, collected())
    turns = [stored(Turn("user", question)), stored(Turn("assistant", "".join(answer)))]
    await services.store.append_history(
        conversation, turns, keep=services.history_turns, ttl=services.limits.conversation_ttl
    )
    for ref in refs:
        await services.store.link_answer(ref, conversation)
    await logbook.record(
        command,
        services,
        "ask",
        prompt=question,
        answer=turns[1].content,
        model=services.ai.chat_model,
        usage=Usage(meter.tokens_in, meter.tokens_out),
    )
