"""Which handler answers which command name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import ask, draw, help, janken
from handlers.port import Command, Reply, Services

Handler = Callable[[Command, Reply, Services], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "ask": ask.handle,
    "draw": draw.handle,
    "janken": janken.handle,
    "help": help.handle,
}
