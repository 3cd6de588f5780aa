"""Slack text rendering and the game board: pure functions, no fakes."""

from __future__ import annotations

import json
import random
import re
import uuid
from urllib.parse import urlsplit

import pytest

from bot.slack_app import render
from bot.slack_app.render import JOINER, defuse_markdown, escape_mrkdwn, stable_length
from core import janken
from core.janken import Move, Opponent
from handlers import janken_board
from handlers.janken_board import BoardButton
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
        for out in (escape_mrkdwn(wrapped), defuse_markdown(wrapped)):
            assert "<!" not in out and "<@" not in out and "<#" not in out


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Here"])
def test_broadcast_words_are_defused_in_both_modes(word: str) -> None:
    assert word not in escape_mrkdwn(f"ping {word} now")
    assert word not in defuse_markdown(f"ping {word} now")
    assert escape_mrkdwn(f"ping {word}").replace(JOINER, "") == f"ping {word}"


def test_markdown_pings_get_a_joiner_and_everything_else_stays() -> None:
    text = "a < b && c > d <!here> <@U1> **bold** `x<y`"
    out = defuse_markdown(text)
    assert "<!" not in out and "<@" not in out
    assert out.replace(JOINER, "") == text


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
    return render.game_blocks(GameView("alice", game, played=round_, finished=finished), owner="U1")


def test_a_running_board_has_three_move_buttons_carrying_game_round_and_owner() -> None:
    blocks = board()
    buttons = blocks[-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["janken_rock", "janken_paper", "janken_scissors"]
    assert all(render.MOVE_ACTION.match(b["action_id"]) for b in buttons)
    assert [janken_board.decode(b["value"]) for b in buttons] == [
        BoardButton(move, "g1", 1, "U1") for move in Move
    ]
    assert buttons[0]["value"] == "jk:rock:g1:1:U1"
    assert "<!here>" not in json.dumps(blocks[0])


def test_a_finished_board_offers_play_again_and_shows_the_opponent_picture() -> None:
    blocks = board(finished=True, image="F1")
    assert blocks[0] == {"type": "image", "slack_file": {"id": "F1"}, "alt_text": "Cat <!here>"}
    [again] = blocks[-1]["elements"]
    assert again["action_id"] == render.AGAIN_ACTION
    assert janken_board.decode(again["value"]) == BoardButton(None, "g1", 0, "U1")  # no opponent in it


def test_board_button_values_fit_a_discord_custom_id_for_a_real_game() -> None:
    game = janken.new_game(uuid.uuid4().hex, Opponent("x" * 40, "y" * 4000, "F" * 100), 3)
    for finished in (False, True):
        view = GameView("alice", game, finished=finished)
        for button in render.game_blocks(view, owner="18446744073709551615")[-1]["elements"]:
            assert len(button["value"]) <= 100


# A link never hides its target: each way Markdown (or Slack) writes a link.
HIDDEN = "https://evil.example/x"
LINK_FORMS = {
    "inline": f"[Sign in to Slack]({HIDDEN})",
    "title": f'[Sign in to Slack]({HIDDEN} "Slack")',
    "image": "![Slack logo](https://evil.example/logo.png)",
    "spaces inside": f"[Sign in to Slack]( {HIDDEN} )",
    "angle destination": f"[Sign in to Slack](<{HIDDEN}>)",
    "nested brackets": f"[Sign in [now]]({HIDDEN})",
    "label on two lines": f"[Sign in\nto Slack]({HIDDEN})",
    "uppercase scheme": "[Sign in to Slack](HTTPS://EVIL.EXAMPLE/x)",
    "userinfo": "[Sign in to Slack](https://slack.com@evil.example/x)",
    "reference": f"[Sign in to Slack][1] today.\n\n[1]: {HIDDEN}",
    "collapsed reference": f"[Sign in][] today.\n\n  [Sign in]: {HIDDEN} 'Slack'",
    "shortcut reference": f"[Sign in] today.\n\n[Sign in]: <{HIDDEN}>",
    "autolink": f"<{HIDDEN}>",
    "slack style": f"<{HIDDEN}|Sign in to Slack>",
    "label is another url": f"[https://slack.com/signin]({HIDDEN})",
}


def markdown_shown(out: str) -> str:
    """What a reader sees of Markdown: each inline link's text (a joiner after ``]`` breaks one)."""
    return re.sub(r"!?\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)", r"\1", out)


def assert_no_hidden_markdown_link(out: str) -> None:
    for label, url in re.findall(r"\[([^\[\]]*)\]\(\s*<?([^()\s>]*)", out):
        assert label == urlsplit(url).hostname, (label, url)
    assert not re.search(r"^ {0,3}\[[^\[\]]*\]:", out, re.MULTILINE), "a reference definition survived"
    assert not re.search(r"<(?:[a-z][a-z0-9+.-]*://|www\.|mailto:|javascript:)", out, re.IGNORECASE), (
        "an angle link"
    )


@pytest.mark.parametrize("form", LINK_FORMS)
def test_a_link_shows_its_host_in_markdown(form: str) -> None:
    out = defuse_markdown(LINK_FORMS[form])
    assert "evil.example" in markdown_shown(out).lower()
    assert_no_hidden_markdown_link(out)


@pytest.mark.parametrize(
    ("markdown", "native"),
    [
        (f"[Sign in to Slack]({HIDDEN})", f"Sign in to Slack ([evil.example]({HIDDEN}))"),
        (f'[Docs]({HIDDEN} "t")', f"Docs ([evil.example]({HIDDEN}))"),
        ("![Logo](https://evil.example/l.png)", "Logo ([evil.example](https://evil.example/l.png))"),
        (f"[{HIDDEN}]({HIDDEN})", HIDDEN),
        (f"[evil.example/x]({HIDDEN})", HIDDEN),
        (f"[evil.example]({HIDDEN})", f"[evil.example]({HIDDEN})"),
        ("[Wiki](https://en.example/A_(b))", "Wiki ([en.example](https://en.example/A_(b)))"),
        ("[x](https://a.example@evil.example/)", "x (https://a.example@evil.example/)"),
    ],
)
def test_a_labelled_link_becomes_its_label_and_its_host(markdown: str, native: str) -> None:
    """Label, then the host in parentheses; the bare URL when the label is the URL, or when the URL is
    too unusual (user info, odd characters) for its host to be read the same way by everyone."""
    assert defuse_markdown(markdown) == native


@pytest.mark.parametrize("target", ["javascript:alert(1)", "slack://open?team=T1", "mailto:a@evil.example"])
def test_other_schemes_are_never_clickable_behind_a_label(target: str) -> None:
    md = f"[Open]({target}) and [Go](<{target}>) and <{target}|Open> and <{target}>"
    native = defuse_markdown(md)
    assert_no_hidden_markdown_link(native)
    assert "](" not in native and native.count(target) == 4


def stream(full: str, rng: random.Random) -> tuple[list[str], list[int]]:
    """Defuse as the native stream does: deltas of 1-3 characters, each time up to ``stable_length``."""
    sent, cut, stables, end = [], 0, [], 0
    while end < len(full):
        end = min(len(full), end + rng.randint(1, 3))
        stable = stable_length(full[:end])
        stables.append(stable)
        if stable > cut:
            sent.append(defuse_markdown(full[cut:stable]))
            cut = stable
    sent.append(defuse_markdown(full[cut:]))
    return sent, stables


def test_a_streamed_link_is_rewritten_or_broken_exactly_as_the_whole() -> None:
    rng = random.Random(7)
    pieces = ["[", "]", "(", ")", "!", "<", ":", " ", "\n", "a", "Sign in", "https://", "evil.example",
              "/x", "www.", '"t"', "@", "here", "<@U1>", "[a](https://e.example/p)", "](", "javascript:"]  # fmt: skip
    for _ in range(400):
        full = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        sent, stables = stream(full, rng)
        assert stables == sorted(stables), full  # a stream never takes back what it sent
        joined = "".join(sent)
        assert_no_hidden_markdown_link(joined)
        assert "<!" not in joined and "<@" not in joined
        # A piece that starts at "[x]:" in mid-line reads it as a definition: one more, invisible joiner.
        assert joined.replace("]" + JOINER + ":", "]:") == defuse_markdown(full).replace(
            "]" + JOINER + ":", "]:"
        )


def test_stable_length_looks_only_at_the_tail() -> None:
    """A huge buffer with an open construct long ago: everything past what a link can span is sent."""
    raw = "[" + "a" * 10_000 + " @her"
    assert stable_length(raw) == len(raw) - len("@her")
    assert stable_length("x" * 100_000 + "[a](https://e.example/") == 100_000
