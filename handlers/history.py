"""/history: the user's logged commands, privately, newest first, a page at a time.

``/history`` shows the first page, ``/history page <n>`` another, ``/history <n>`` entry
``n`` (as the pages number it) in full; ``/history clear`` asks for a confirmation, which
``/history clear confirm`` gives. Pages and the question carry buttons (older, newer, delete)
where the platform has them (:mod:`handlers.history_buttons`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Literal

from core.errors import UserInputError
from core.messages import text
from core.store.activity import HistoryEntry
from handlers import history_buttons
from handlers.port import Command, PageButton, Reply, Services
from handlers.text_input import shown

PAGE_SIZE = 5
PAGE_TYPED = "/history page {page}"
CONFIRM_TYPED = "/history clear confirm"
"""The text commands a button stands for (commands are typed the same in every language)."""
LINE_CHARS = 80
"""Characters of a prompt or answer a page line shows; ``/history <n>`` shows more."""
FULL_CHARS = 1900
"""The most ``/history <n>`` says in all: under Discord's 2,000, the smallest private message of
any platform, so the prompt and the answer share what the entry's other lines leave."""
MODEL_CHARS = 100

HistoryAction = Literal["page", "entry", "clear", "confirm"]


@dataclass(frozen=True)
class HistoryRequest:
    action: HistoryAction
    number: int = 1
    """The page (``page``) or the entry (``entry``), counting from 1."""


def parse(command: Command) -> HistoryRequest:
    words = command.text.lower().split()
    if not words:
        return HistoryRequest("page")
    if words == ["clear"]:
        return HistoryRequest("clear")
    if words == ["clear", "confirm"]:
        return HistoryRequest("confirm")
    if len(words) == 2 and words[0] == "page" and _positive(words[1]):
        return HistoryRequest("page", int(words[1]))
    if len(words) == 1 and _positive(words[0]):
        return HistoryRequest("entry", int(words[0]))
    raise UserInputError("usage_history")


def _positive(word: str) -> bool:
    return word.isascii() and word.isdigit() and 0 < int(word) <= 1_000_000


async def handle(command: Command, reply: Reply, services: Services) -> None:
    await history(parse(command), command, reply, services)


async def click(code: str, command: Command, reply: Reply, services: Services) -> None:
    """A button under a page or under the question: only its owner may use it."""
    action, number, owner = history_buttons.decode(code)
    if owner != command.user:
        raise UserInputError("not_your_history")
    request = HistoryRequest("confirm") if action == "clear" else HistoryRequest("page", number)
    await history(request, command, reply, services)


async def history(request: HistoryRequest, command: Command, reply: Reply, services: Services) -> None:
    """Show the user what they asked for, privately."""
    player, keep, locale = command.player, services.accounting.history_keep, command.locale
    if request.action == "clear":
        count = await services.store.count_entries(player, keep=keep)
        if not count:
            await reply.send_private(text("history_empty", locale))
            return
        code = history_buttons.encode("clear", 0, command.user)
        button = PageButton(text("history_clear_button", locale), code, CONFIRM_TYPED)
        await reply.send_private_page(text("history_clear_ask", locale, count=count), [button])
    elif request.action == "confirm":
        cleared = await services.store.clear_entries(player, keep=keep)
        await reply.send_private(text("history_cleared", locale, count=cleared))
    elif request.action == "entry":
        found = await services.store.entries(player, offset=request.number - 1, limit=1, keep=keep)
        if not found:
            raise UserInputError("history_no_entry", number=request.number)
        await reply.send_private(_full(request.number, found[0], locale))
    else:
        await _page(request.number, command, reply, services)


async def _page(page: int, command: Command, reply: Reply, services: Services) -> None:
    player, keep, locale = command.player, services.accounting.history_keep, command.locale
    pages = math.ceil(await services.store.count_entries(player, keep=keep) / PAGE_SIZE)
    if not pages:
        await reply.send_private(text("history_empty", locale))
        return
    page = min(page, pages)
    offset = (page - 1) * PAGE_SIZE
    found = await services.store.entries(player, offset=offset, limit=PAGE_SIZE, keep=keep)
    lines = [text("history_page", locale, page=page, pages=pages)]
    for number, entry in enumerate(found, offset + 1):
        lines.append(
            text(
                "history_line",
                locale,
                number=number,
                when=_when(entry),
                command=entry.command,
                prompt=shown(_one_line(entry.prompt), LINE_CHARS),
                answer=shown(_one_line(entry.answer), LINE_CHARS),
            )
        )
    buttons = []
    if page > 1:
        buttons.append(_page_button("history_newer", page - 1, command))
    if page < pages:
        buttons.append(_page_button("history_older", page + 1, command))
    await reply.send_private_page("\n".join(lines), buttons)


def _page_button(label: str, page: int, command: Command) -> PageButton:
    code = history_buttons.encode("page", page, command.user)
    return PageButton(text(label, command.locale), code, PAGE_TYPED.format(page=page))


def _full(number: int, entry: HistoryEntry, locale: str) -> str:
    """The entry in at most FULL_CHARS: the prompt gets half the room, or all the answer leaves;
    the answer gets the rest; a cut ends in "…"."""

    def filled(prompt: str, answer: str) -> str:
        return text(
            "history_entry",
            locale,
            number=number,
            when=_when(entry),
            command=entry.command,
            model=shown(entry.model or "-", MODEL_CHARS),
            prompt=prompt,
            answer=answer,
            tokens_in=entry.usage.tokens_in,
            tokens_out=entry.usage.tokens_out,
            images=entry.usage.images,
        )

    room = FULL_CHARS - len(filled("", ""))
    prompt = shown(entry.prompt, max(room // 2, room - len(entry.answer)))
    return filled(prompt, shown(entry.answer, room - len(prompt)))


def _when(entry: HistoryEntry) -> str:
    return f"{dt.datetime.fromtimestamp(entry.time, dt.UTC):%Y-%m-%d %H:%M} UTC"


def _one_line(value: str) -> str:
    return " ".join(value.split())
