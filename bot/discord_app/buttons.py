"""The janken board's buttons on Discord: persistent, their state in the custom id and the store.

A :class:`JankenButton` is a ``DynamicItem`` routed by the board codec's pattern,
so a board keeps working after a restart: the click's code says which game,
round and move, and the store says whose board it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol

import discord

from handlers import history_buttons
from handlers.janken_board import PATTERN
from handlers.port import PageButton


class ClickRouter(Protocol):
    """What a click is handed to (the Discord app's one entry point for board buttons)."""

    async def board_click(self, interaction: discord.Interaction, code: str) -> None: ...

    async def page_click(self, interaction: discord.Interaction, code: str) -> None: ...


class JankenButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PATTERN):
    """One move (or "play again") on a board; its custom id is the board codec's code."""

    def __init__(
        self, code: str, label: str = "", style: discord.ButtonStyle = discord.ButtonStyle.secondary
    ):
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=code))
        self.code = code

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> JankenButton:
        return cls(match.string)

    async def callback(self, interaction: discord.Interaction) -> None:
        router: ClickRouter = interaction.client  # type: ignore[assignment]
        await router.board_click(interaction, self.code)


class HistoryButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=history_buttons.PATTERN):
    """Older, newer or delete under a private /history page; its custom id is the page codec's code."""

    def __init__(self, code: str, label: str = ""):
        super().__init__(discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=code))
        self.code = code

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> HistoryButton:
        return cls(match.string)

    async def callback(self, interaction: discord.Interaction) -> None:
        router: ClickRouter = interaction.client  # type: ignore[assignment]
        await router.page_click(interaction, self.code)


def page_view(buttons: Sequence[PageButton]) -> discord.ui.View:
    """The buttons under a private page, in a view that never times out (the store holds no state)."""
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(HistoryButton(button.code, button.label))
    return view
