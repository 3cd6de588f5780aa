"""Which battle card a clicked Slack board shows: read from the click's message, never trusted."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack_app import payloads, render

CARD = {"type": "image", "block_id": render.CARD_BLOCK, "slack_file": {"id": "F_CARD"}, "alt_text": "card"}
PICTURE = {"type": "image", "slack_file": {"id": "F_OPPONENT"}, "alt_text": "Cat"}


def click(blocks: Any) -> dict[str, Any]:
    return {
        "team": {"id": "T1"},
        "channel": {"id": "C1"},
        "user": {"id": "U1"},
        "message": {"ts": "1.5", "blocks": blocks},
    }


def test_a_board_with_a_card_names_its_file_and_one_with_a_picture_names_none() -> None:
    place, _, _ = payloads.from_click(click([CARD, {"type": "markdown", "text": "x"}]), {"value": "jk:rock:g1:1:U1"})
    assert (place.board_ts, place.board_card) == ("1.5", "F_CARD")
    place, _, _ = payloads.from_click(click([PICTURE]), {"value": "jk:rock:g1:1:U1"})
    assert place.board_card is None  # the opponent's drawing is not ours to delete


@pytest.mark.parametrize(
    "blocks",
    [None, "x", [None], [{**CARD, "slack_file": "F_CARD"}], [{**CARD, "slack_file": {"id": 7}}],
     [{**CARD, "slack_file": {"id": ""}}], [{**CARD, "type": "section"}]],
)  # fmt: skip
def test_a_card_block_of_another_shape_names_no_file(blocks: Any) -> None:
    place, _, _ = payloads.from_click(click(blocks), {"value": "jk:rock:g1:1:U1"})
    assert place.board_card is None
