"""Slack text rendering and the game board: pure functions, no fakes."""

from __future__ import annotations

import json
import random

import pytest

from bot import slack_render
from bot.slack_render import JOINER, defuse_markdown, escape_mrkdwn, stable_length, to_mrkdwn
from core import janken
from core.janken import Move, Opponent
from handlers.port import GameView

PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<!subteam^S1>", "<#C1>")


@pytest.mark.parametrize("ping", PINGS)
def test_mrkdwn_never_forms_a_ping(ping: str) -> None:
    for wrapped in (
        ping,
        f"hey {ping} there",
        f"**{ping}**",
        f"`{ping}`",
        f"```\n{ping}\n```",
        f"[x]({ping})",
    ):
        out = to_mrkdwn(wrapped)
        assert "<!" not in out and "<@" not in out and "<#" not in out


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Here"])
def test_broadcast_words_are_defused_in_both_modes(word: str) -> None:
    assert word not in to_mrkdwn(f"ping {word} now")
    assert word not in defuse_markdown(f"ping {word} now")
    assert to_mrkdwn(f"ping {word}").replace(JOINER, "") == f"ping {word}"


def test_markdown_pings_get_a_joiner_and_everything_else_stays() -> None:
    text = "a < b && c > d <!here> <@U1> **bold** `x<y`"
    out = defuse_markdown(text)
    assert "<!" not in out and "<@" not in out
    assert out.replace(JOINER, "") == text


def test_markdown_becomes_mrkdwn_outside_code() -> None:
    md = "# Title\n**bold** and __also__ ~~gone~~ [docs](https://example.com/a?b=1&c=2)\n`**kept**`\n```\n**kept**\n```"
    out = to_mrkdwn(md)
    assert out.startswith("*Title*\n*bold* and *also* ~gone~ <https://example.com/a?b=1&amp;c=2|docs>")
    assert "`**kept**`" in out and "```\n**kept**\n```" in out


def test_only_web_links_become_slack_links() -> None:
    assert "<" not in to_mrkdwn("[click](javascript:alert)") and "<" not in to_mrkdwn("[x](!channel)")


def test_escape_handles_the_three_reserved_characters() -> None:
    assert escape_mrkdwn("a & b < c > d") == "a &amp; b &lt; c &gt; d"


def test_defusing_increments_on_stable_cuts_equals_defusing_the_whole() -> None:
    """How the native stream sends: only up to ``stable_length``, the rest at the end."""
    rng = random.Random(5)
    pieces = [
        "<",
        "!",
        "channel",
        ">",
        "@",
        "he",
        "re",
        " ",
        "text",
        "<@",
        "U1>",
        "@every",
        "one",
        "a<b",
        "#",
    ]
    for _ in range(300):
        full = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        sent, cut = [], 0
        for end in range(1, len(full) + 1):  # one-character deltas: the worst case
            stable = stable_length(full[:end])
            if stable > cut:
                sent.append(defuse_markdown(full[cut:stable]))
                cut = stable
        sent.append(defuse_markdown(full[cut:]))
        assert "".join(sent) == defuse_markdown(full)
        assert "<!" not in "".join(sent) and "<@" not in "".join(sent)


def board(finished: bool = False, image: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    game = janken.new_game("g1", Opponent("Cat <!here>", "", image), 3)
    round_ = janken.play(game, Move.ROCK, Move.SCISSORS) if finished else None
    return slack_render.game_blocks(GameView("alice", game, played=round_, finished=finished), owner="U1")


def test_a_running_board_has_three_move_buttons_carrying_game_round_and_owner() -> None:
    blocks = board()
    buttons = blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["janken_rock", "janken_paper", "janken_scissors"]
    assert all(slack_render.MOVE_ACTION.match(b["action_id"]) for b in buttons)
    assert json.loads(buttons[0]["value"]) == {"g": "g1", "r": 1, "u": "U1"}
    assert "<!here>" not in json.dumps(blocks[0])


def test_a_finished_board_offers_play_again_and_shows_the_opponent_picture() -> None:
    blocks = board(finished=True, image="F1")
    assert blocks[0] == {"type": "image", "slack_file": {"id": "F1"}, "alt_text": "Cat <!here>"}
    assert [b["action_id"] for b in blocks[-1]["elements"]] == [slack_render.AGAIN_ACTION]
