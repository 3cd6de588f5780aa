"""The board button code: pure functions, no fakes. Any text decodes to a button or one clear error."""

from __future__ import annotations

import random
import string
import uuid

import pytest

from core.janken import Move
from handlers import janken_board
from handlers.janken_board import BoardButton, UnreadableButton, decode, encode
from handlers.port import Board, JankenRequest

GAME = uuid.UUID(int=7).hex
SNOWFLAKE = "18446744073709551615"  # the largest 64-bit snowflake: 20 digits
OWNERS = ("U012ABCDEF", "W0123456789", SNOWFLAKE, "alice")
BUTTONS = [BoardButton(move, GAME, 2, owner) for move in (*Move, None) for owner in OWNERS]


@pytest.mark.parametrize("button", BUTTONS, ids=lambda b: f"{b.move and b.move.value}-{b.owner}")
def test_every_button_round_trips_within_discords_limit(button: BoardButton) -> None:
    code = encode(button)
    assert decode(code) == button and len(code) <= 100


def test_the_format_is_prefix_action_game_round_owner() -> None:
    assert encode(BoardButton(Move.SCISSORS, GAME, 12, "U1")) == f"jk:scissors:{GAME}:12:U1"
    assert encode(BoardButton(None, GAME, 0, SNOWFLAKE)) == f"jk:again:{GAME}:0:{SNOWFLAKE}"


def test_the_longest_code_fits_a_discord_custom_id() -> None:
    longest = BoardButton(Move.SCISSORS, "f" * 32, 10**janken_board.ROUND_DIGITS - 1, "9" * 32)
    assert len(encode(longest)) == janken_board.LONGEST == 87 <= janken_board.MAX_CHARS == 100


def test_a_button_becomes_the_request_for_its_board() -> None:
    assert BoardButton(Move.ROCK, GAME, 3, "U1").request("C1:1.0") == JankenRequest(
        "play", move=Move.ROCK, board=Board("U1", GAME, 3, "C1:1.0")
    )
    assert BoardButton(None, GAME, 0, "U1").request("C1:1.0") == JankenRequest(
        "again", board=Board("U1", GAME, 0, "C1:1.0")
    )


UNREADABLE = {
    "not text": None,
    "a number": 5,
    "bytes": f"jk:rock:{GAME}:1:U1".encode(),
    "empty": "",
    "the old JSON value": '{"g":"g1","r":1,"u":"U1"}',
    "bad prefix": f"xx:rock:{GAME}:1:U1",
    "prefix in capitals": f"JK:rock:{GAME}:1:U1",
    "too few fields": f"jk:rock:{GAME}:1",
    "too many fields": f"jk:rock:{GAME}:1:U1:extra",
    "a colon in the owner": f"jk:rock:{GAME}:1:U1:U2",
    "unknown move": f"jk:lizard:{GAME}:1:U1",
    "move in capitals": f"jk:ROCK:{GAME}:1:U1",
    "non-numeric round": f"jk:rock:{GAME}:one:U1",
    "negative round": f"jk:rock:{GAME}:-1:U1",
    "round with a sign": f"jk:rock:{GAME}:+1:U1",
    "round with spaces": f"jk:rock:{GAME}: 1:U1",
    "round in other digits": f"jk:rock:{GAME}:\u0661:U1",
    "round with a leading zero": f"jk:rock:{GAME}:01:U1",
    "round too long": f"jk:rock:{GAME}:1234567890:U1",
    "empty round": f"jk:rock:{GAME}::U1",
    "empty game": "jk:rock::1:U1",
    "game too long": f"jk:rock:{'a' * 33}:1:U1",
    "game with a space": "jk:rock:g 1:1:U1",
    "empty owner": f"jk:rock:{GAME}:1:",
    "owner with a newline": f"jk:rock:{GAME}:1:U1\n",
    "owner with a mention": f"jk:rock:{GAME}:1:<@U1>",
    "owner too long": f"jk:rock:{GAME}:1:{'9' * 33}",
    "overlong": f"jk:rock:{GAME}:1:" + "U" * 200,
    "huge": "jk:" * 1_000_000,
}


@pytest.mark.parametrize("code", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_unreadable_codes_raise_one_clear_error(code: object) -> None:
    with pytest.raises(UnreadableButton) as caught:
        decode(code)
    assert isinstance(caught.value, ValueError) and str(caught.value)
    if isinstance(code, str) and len(code) > 3:
        assert code[3:] not in str(caught.value)  # the reason, never the client's text


@pytest.mark.parametrize(
    "button",
    [
        BoardButton(Move.ROCK, "g:1", 1, "U1"),
        BoardButton(Move.ROCK, "", 1, "U1"),
        BoardButton(Move.ROCK, "a" * 33, 1, "U1"),
        BoardButton(Move.ROCK, GAME, 1, "9" * 33),
        BoardButton(Move.ROCK, GAME, -1, "U1"),
        BoardButton(Move.ROCK, GAME, 10**9, "U1"),
    ],
)
def test_encode_refuses_what_no_code_can_hold(button: BoardButton) -> None:
    with pytest.raises(ValueError):
        encode(button)


ID_ALPHABET = string.ascii_letters + string.digits + "_-"


def random_button(rng: random.Random) -> BoardButton:
    def an_id() -> str:
        return "".join(rng.choices(ID_ALPHABET, k=rng.randint(1, janken_board.ID_CHARS)))

    move = rng.choice([*Move, None])
    return BoardButton(move, an_id(), rng.randrange(10 ** rng.randint(1, janken_board.ROUND_DIGITS)), an_id())


def test_random_buttons_round_trip_within_the_limit() -> None:
    rng = random.Random(12)
    for _ in range(5_000):
        button = random_button(rng)
        code = encode(button)
        assert len(code) <= janken_board.LONGEST and decode(code) == button


def mutated(code: str, rng: random.Random) -> str:
    """``code`` with a few characters dropped, doubled or replaced (colons and digits often)."""
    chars = list(code)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(chars) + 1)
        what = rng.choice(["drop", "insert", "replace"])
        new = rng.choice([":", "0", "9", "-", "a", "é", "\u0663", " ", "\n", rng.choice(ID_ALPHABET)])
        if what == "drop" and at < len(chars):
            del chars[at]
        elif what == "insert":
            chars.insert(at, new)
        elif at < len(chars):
            chars[at] = new
    return "".join(chars)


def test_any_text_decodes_to_a_button_that_encodes_back_to_it_or_raises_the_clear_error() -> None:
    """The property: decode never raises anything else, and whatever it accepts is canonical."""
    rng = random.Random(7)
    alphabet = ID_ALPHABET + ":jkrockpaperscissorsagain é\u0663\x00"
    accepted = 0
    for i in range(20_000):
        if i % 2:
            text = mutated(encode(random_button(rng)), rng)
        else:
            text = "".join(rng.choices(alphabet, k=rng.randint(0, 120)))
            if i % 4 == 0:
                text = "jk:" + text
        try:
            button = decode(text)
        except UnreadableButton:
            continue
        accepted += 1
        assert encode(button) == text and len(text) <= janken_board.LONGEST
    assert accepted > 100  # the mutations do produce readable codes too


def test_the_pattern_matches_every_code_encode_makes() -> None:
    import random
    import re

    from core.janken import Move
    from handlers.janken_board import PATTERN, BoardButton, encode

    pattern, rng = re.compile(PATTERN), random.Random(7)
    for _ in range(2000):
        move = rng.choice([*Move, None])
        button = BoardButton(
            move, f"{rng.getrandbits(128):032x}", rng.randrange(10**6), str(rng.getrandbits(64))
        )
        assert pattern.fullmatch(encode(button))
    assert not pattern.fullmatch("jk:fly:a:1:b") and not pattern.fullmatch("xx:rock:a:1:b")
