"""The janken battle card (core/battle_card.py) and its text (core/fonts): pure, real Pillow images."""

from __future__ import annotations

import io
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageColor, ImageDraw, ImageFilter

from core import battle_card, fonts
from core.battle_card import PLAYER_TOP, BattleCard, hearts_box, render
from core.janken import Outcome

SHIPPED = str(fonts.SHIPPED)


def detailed_png(side: int = 1024, seed: int = 1) -> bytes:
    """Flat shapes under fine grain: about as hard to compress as a generated picture (~11 bits/pixel)."""
    rng = random.Random(seed)
    picture = Image.new("RGB", (side, side), (rng.randrange(256), 90, 160))
    canvas = ImageDraw.Draw(picture)
    for _ in range(60):
        x, y, r = rng.randrange(side), rng.randrange(side), rng.randrange(side // 50, side // 5)
        canvas.ellipse(
            (x - r, y - r, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256))
        )
    grain = Image.effect_noise((side, side), 40).convert("RGB")
    picture = Image.blend(picture, grain, 0.25).filter(ImageFilter.GaussianBlur(0.6))
    return png_of(picture)


def png_of(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
def art() -> bytes:
    return detailed_png()


def mid_game(art: bytes | None = None, **changes: Any) -> BattleCard:
    card = BattleCard(
        player_name="たろう",
        opponent_name="炎の魔法使いリン",
        player_hp=2,
        opponent_hp=1,
        max_hp=3,
        opponent_art=art,
        last_round=("✊ グー", "✌️ チョキ"),
        banner="あなたの勝ち！",
        tone=Outcome.WIN,
    )
    return replace(card, **changes)


def inside(inner: tuple[int, int, int, int] | None, outer: tuple[int, int, int, int]) -> bool:
    assert inner is not None
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


# --- the card -------------------------------------------------------------------------------------


def test_the_card_is_a_png_of_fixed_size_and_small_with_a_detailed_1024_pixel_art(art: bytes) -> None:
    png = render(mid_game(art))
    image = decoded(png)
    assert (
        (image.format, image.size, image.mode)
        == ("PNG", battle_card.SIZE, "RGB")
        == ("PNG", (800, 440), "RGB")
    )
    assert len(png) < 300 * 1024
    assert decoded(render(mid_game(None, banner=None, last_round=None))).size == battle_card.SIZE


def test_the_same_card_gives_the_same_bytes(art: bytes) -> None:
    assert render(mid_game(art)) == render(mid_game(art))


@pytest.mark.parametrize("side", ["player", "opponent"])
def test_losing_a_hit_point_changes_the_card_only_in_that_sides_hearts(art: bytes, side: str) -> None:
    before = render(mid_game(art, player_hp=3, opponent_hp=3))
    after = render(
        mid_game(art, player_hp=3 if side == "opponent" else 2, opponent_hp=2 if side == "opponent" else 3)
    )
    assert before != after
    changed = ImageChops.difference(decoded(before), decoded(after)).getbbox()
    top = PLAYER_TOP if side == "player" else battle_card.OPPONENT_TOP
    assert inside(changed, hearts_box(top))


def test_every_hit_point_count_draws_a_different_card() -> None:
    cards = {render(mid_game(None, player_hp=hp)) for hp in range(4)}
    assert len(cards) == 4


def test_more_hit_points_than_hearts_fit_are_a_bar_inside_the_hearts_area() -> None:
    full, low = (decoded(render(mid_game(None, max_hp=50, player_hp=hp))) for hp in (50, 10))
    assert inside(ImageChops.difference(full, low).getbbox(), hearts_box(PLAYER_TOP))


@pytest.mark.parametrize(
    "bad_art",
    [b"", b"not a picture", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "truncated", "enormous"],
    ids=["empty", "text", "png-signature-only", "truncated", "enormous"],
)
def test_art_that_cannot_be_drawn_gives_the_card_with_the_placeholder(
    art: bytes, bad_art: bytes | str
) -> None:
    if bad_art == "truncated":
        bad_art = art[: len(art) // 2]
    elif bad_art == "enormous":  # 25 megapixels, beyond MAX_ART_PIXELS, though a small file
        bad_art = png_of(Image.new("1", (5000, 5000)))
    assert isinstance(bad_art, bytes)
    assert render(mid_game(bad_art)) == render(mid_game(None))


def test_the_art_is_drawn_in_the_art_box_whatever_its_shape() -> None:
    plain = decoded(render(mid_game(None)))
    for size in [(1024, 1024), (1024, 1536), (1536, 1024), (64, 48)]:
        red = decoded(render(mid_game(png_of(Image.new("RGB", size, "red")))))
        assert inside(ImageChops.difference(plain, red).getbbox(), battle_card.ART_BOX)
        middle = (battle_card.ART_BOX[0] + 200, battle_card.ART_BOX[1] + 200)
        assert red.getpixel(middle) == (255, 0, 0)


def test_transparent_art_lies_on_the_backdrop() -> None:
    clear = png_of(Image.new("RGBA", (256, 256), (255, 0, 0, 0)))
    card = decoded(render(mid_game(clear)))
    middle = (battle_card.ART_BOX[0] + 200, battle_card.ART_BOX[1] + 200)
    assert card.getpixel(middle) == ImageColor.getrgb(battle_card.ART_BACKDROP)


@pytest.mark.parametrize("name", ["W" * 200, "漢" * 200, "ｗ" * 100 + "x " * 50])
def test_a_200_character_name_is_shortened_and_stays_inside_the_card(name: str) -> None:
    card = mid_game(None, player_name=name, opponent_name=name, banner=name, last_round=(name, name))
    image = decoded(render(card))
    right_margin = image.crop((battle_card.PANEL_RIGHT, 0, battle_card.SIZE[0], battle_card.SIZE[1]))
    assert [colour for _, colour in right_margin.getcolors() or []] == [
        ImageColor.getrgb(battle_card.BACKGROUND)
    ]
    for size in (30, 24, 18):
        short = fonts.shorten(name, size, battle_card.PANEL_WIDTH)
        assert fonts.width(short, size) <= battle_card.PANEL_WIDTH
        assert short.endswith(("...", "…")) and name.startswith(short.rstrip(".…"))


def test_cards_drawn_on_several_threads_at_once_are_the_ones_drawn_alone(art: bytes) -> None:
    cards = [mid_game(art, player_hp=index % 4, banner=f"round {index}") for index in range(8)]
    alone = [render(card) for card in cards]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(render, cards)) == alone


# --- the font -------------------------------------------------------------------------------------


def test_the_shipped_font_is_first_and_small_with_its_licence() -> None:
    assert fonts.faces()[0] == SHIPPED
    assert fonts.SHIPPED.stat().st_size < 1024 * 1024
    assert "SIL OPEN FONT LICENSE" in (fonts.SHIPPED.parent / "OFL.txt").read_text(encoding="utf-8")


def test_japanese_names_are_drawn_with_real_glyphs_from_the_shipped_font() -> None:
    for name in ["山田太郎", "たろう", "炎の魔法使いリン", "ｱｲｳ", "橋本 凜", "佐々木ヶ丘ー"]:
        assert fonts.clean(name) == name
        for char in name.replace(" ", ""):
            assert fonts.has_glyph(SHIPPED, char), char
            assert fonts.face_for(char) == SHIPPED, char
        drawn = Image.new("L", (400, 60))
        fonts.draw(ImageDraw.Draw(drawn), 0, 45, name, 30, "white")
        tofu = Image.new("L", (400, 60))
        ImageDraw.Draw(tofu).text(
            (0, 45), "\U0010fffd" * len(name), font=fonts.font(SHIPPED, 30), fill=255, anchor="ls"
        )
        assert drawn.getbbox() is not None and drawn.tobytes() != tofu.tobytes()


def test_a_missing_glyph_is_recognised_as_missing() -> None:
    for char in ["\U0001f600", "✊", "\U0010fffd", "□"]:
        assert not fonts.has_glyph(SHIPPED, char), char


def test_the_subset_has_every_kana_and_every_kanji_it_lists() -> None:
    kanji_file = fonts.SHIPPED.parent / "kanji.txt"
    lines = kanji_file.read_text(encoding="utf-8").splitlines()
    kanji = "".join(line for line in lines if not line.startswith("#"))
    assert len(set(kanji)) == len(kanji) == 2136 + 863
    kana = [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)] + ["ー", "・"]
    missing = [char for char in [*kanji, *kana] if not fonts.has_glyph(SHIPPED, char)]
    assert missing == []


def test_emoji_are_left_out_rather_than_drawn_as_boxes() -> None:
    assert fonts.clean("✊ グー") == "グー"
    assert fonts.clean("✌️ チョキ") == "チョキ"
    assert fonts.clean(" 👨‍👩‍👧 Bob\u200b\n the  great ") == "Bob the great"
    assert fonts.clean("\u304b\u3099") == "が"  # a combining voicing mark is composed first


def test_text_no_font_can_draw_leaves_an_empty_line_not_an_error() -> None:
    assert fonts.clean("🐉🐉🐉") == ""
    assert fonts.shorten("🐉" * 300, 24, 100) == ""
    assert decoded(render(mid_game(None, player_name="🐉", banner="🎉"))).size == battle_card.SIZE


def test_very_long_text_is_cut_before_any_work() -> None:
    assert len(fonts.clean("a" * 1_000_000)) == fonts.MAX_CHARS


def test_letters_beyond_the_subset_come_from_a_system_font_when_one_has_them() -> None:
    hebrew = "שלום"
    if not any(fonts.has_glyph(face, "ש") for face in fonts.faces()[1:]):
        assert fonts.clean(hebrew) == ""
        pytest.skip("no font on this machine draws Hebrew")
    assert fonts.clean(hebrew) == hebrew
    assert fonts.face_for("ש") not in (None, SHIPPED)
    assert {face for face, _ in fonts.runs("Bob שלום 太郎")} == {SHIPPED, fonts.face_for("ש")}
