"""/ask: stream an answer and keep the conversation for follow-ups."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from core.conversation import Turn, conversation_key
from core.errors import UpstreamError
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

    continued = command.conversation or command.thread
    history = await services.store.load_history(key(continued)) if continued else []
    async with contextlib.aclosing(services.ai.stream_answer(history, request.question)) as deltas:
        first = await anext(deltas, None)
        if first is None:
            raise UpstreamError("ai_failed", detail="empty answer")
        thread = command.thread or await reply.start_thread(request.question)
        answer = [first]

        async def collected() -> AsyncIterator[str]:
            yield first
            async for delta in deltas:
                answer.append(delta)
                yield delta

        await reply.stream_text(thread, collected())
    turns = [Turn("user", request.question), Turn("assistant", "".join(answer))]
    await services.store.append_history(key(thread), turns, keep=services.history_turns)
