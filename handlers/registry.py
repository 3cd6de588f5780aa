"""Which handler answers which command name, and how adapters treat each command.

Policy that differs per command lives here, not in ``if name == ...`` branches
inside an adapter: whether the acknowledgement shows a private "Thinking…" note,
what a mention or direct message runs, what a reply to an answer runs, and what a game
board's button runs.

Every callable here runs only where the allowlists admit the command
(:mod:`handlers.allowlist`): an adapter that dispatches through the registry cannot
forget the check, and a refused command raises
:class:`~core.errors.NotPermitted` before its handler does anything.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from handlers import allowlist, ask, draw, help, history, janken, transcribe, usage
from handlers.port import Command, JankenRequest, Reply, Services

Handler = Callable[[Command, Reply, Services], Awaitable[None]]
ClickHandler = Callable[[JankenRequest, Command, Reply, Services], Awaitable[None]]
ReplyHandler = Callable[[str, Command, Reply, Services], Awaitable[bool]]
CodeHandler = Callable[[str, Command, Reply, Services], Awaitable[None]]
TranscribeHandler = Callable[[transcribe.TranscribeRequest, Command, Reply, Services], Awaitable[None]]
P = ParamSpec("P")
T = TypeVar("T")


def _admitted(handler: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """``handler``, run only if the allowlists admit the :class:`Command` it is given."""

    @functools.wraps(handler)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        command = next(arg for arg in args if isinstance(arg, Command))
        services = next(arg for arg in args if isinstance(arg, Services))
        allowlist.check(command, services.limits)
        return await handler(*args, **kwargs)

    return run


HANDLERS: dict[str, Handler] = {
    "ask": _admitted(ask.handle),
    "draw": _admitted(draw.handle),
    "janken": _admitted(janken.handle),
    "help": _admitted(help.handle),
    "usage": _admitted(usage.handle),
    "history": _admitted(history.handle),
}


@dataclass(frozen=True)
class Policy:
    """How an adapter acknowledges a command and wraps its handler."""

    thinking_note: bool = False
    """Acknowledge with a private "Thinking…" note, removed once the answer is on its way: for a
    command whose first visible result takes seconds and appears elsewhere (a new thread)."""


POLICIES: dict[str, Policy] = {"ask": Policy(thinking_note=True)}
MESSAGE_COMMAND = "ask"
"""What a mention of the bot, or a direct message to it, runs."""
ANSWER_REPLY: ReplyHandler = _admitted(ask.follow_up)
"""What a reply to one of the bot's answer messages runs, given that message's ref (Discord)."""
BOARD_CLICK: ClickHandler = _admitted(janken.run)
"""What a button on a game board runs."""
HISTORY_CLICK: CodeHandler = _admitted(history.click)
"""What a button under a /history page runs, given the code it carries."""
TRANSCRIBE: TranscribeHandler = _admitted(transcribe.transcribe)
"""What Transcribe on a message (or ``/transcribe`` in the console) runs, given the audio file."""


def policy(name: str) -> Policy:
    return POLICIES.get(name, Policy())
