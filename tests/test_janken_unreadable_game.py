"""/janken over a stored game this build cannot read: the player is never locked out.

Runs on every backend (the ``store`` fixture); the records are planted as a
damaged database or an older build would have left them.
"""

from __future__ import annotations

import logging
import random

import pytest

from core.ai import DisabledAI
from core.store import Store
from handlers.port import Command, GameView, Services
from handlers.registry import HANDLERS
from tests.fakes.recording_reply import RecordingReply
from tests.store_records import plant

BROKEN = {
    "garbage": "\x00{{{ not json",
    "unknown version": '{"v": 99, "game_id": "g", "board": "future"}',
    "older schema": '{"game_id": "g", "opponent": {"name": "Bot"}, "player_hp": 3}',
}


@pytest.fixture
def services(store: Store) -> Services:
    return Services(ai=DisabledAI(), store=store, rng=random.Random(3))


def cmd(text: str, request_id: str = "") -> Command:
    return Command("slack", "T1", "C1", "alice", text, request_id=request_id)


async def janken(text: str, services: Services, request_id: str = "") -> RecordingReply:
    reply = RecordingReply()
    await HANDLERS["janken"](cmd(text, request_id), reply, services)
    return reply


@pytest.fixture(params=BROKEN.values(), ids=BROKEN.keys())
async def broken(request: pytest.FixtureRequest, services: Services) -> Services:
    await plant(services.store, "games", cmd("").player, request.param)
    return services


async def test_janken_starts_a_new_game(broken: Services, caplog: pytest.LogCaptureFixture) -> None:
    reply = await janken("", broken)
    [view] = reply.values("game")
    assert isinstance(view, GameView) and view.game.rounds_played == 0 and view.game.player_hp == 3
    again = await janken("", broken)
    assert again.values("game")[0].game == view.game  # type: ignore[attr-defined]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "slack:T1:alice" in warning.getMessage() and warning.exc_info is None


async def test_janken_quit_answers_that_no_game_runs(broken: Services) -> None:
    reply = await janken("quit", broken)
    assert reply.kinds() == ["private"]
    assert "no game running" in reply.values("private")[0]  # type: ignore[operator]


async def test_janken_rock_plays_a_new_game(broken: Services) -> None:
    reply = await janken("rock", broken, request_id="r1")
    [view] = reply.values("game")
    assert view.played is not None and view.played.number == 1  # type: ignore[attr-defined]
    stats = await broken.store.get_stats(cmd("").player)
    assert stats.wins + stats.losses + stats.draws == 1
