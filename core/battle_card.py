"""The janken battle card: a PNG of the fight, composed with Pillow and regenerated every round.

:func:`render` turns a :class:`BattleCard` (plain values, every string already in the
reader's language) into PNG bytes, :data:`SIZE` pixels: the opponent's art on the left;
on the right the opponent's and the player's name, HP hearts and last move, and the
result banner at the bottom. Hearts are drawn shapes, so no colour emoji font is needed.
Text that is too wide is set smaller, then shortened with an ellipsis: nothing leaves
the card, however long a name.

Font: Noto Sans CJK JP Bold, shipped as a subset in ``core/fonts/`` (785 KB, SIL Open
Font License 1.1, licence beside it). Japanese names must render on a user's fresh
machine, which may have no CJK font, and nothing is downloaded at run time; the subset
keeps kana, the jōyō and jinmeiyō kanji (every kanji a given name may use), Latin,
Greek and Cyrillic. Characters beyond it are drawn with a system font when one has
them, and left out otherwise (see :mod:`core.fonts`). Shipped rather than looked for,
because macOS, Windows and slim containers often have no CJK font at the paths we would
know, and PyPI has no maintained package of one; Noto over M PLUS 1 or IPAex Gothic for
its coverage and plain OFL; OTF rather than WOFF2 (200 KB smaller) because every
FreeType build reads OTF, while WOFF2 needs one built with Brotli.

Cost: the art is decoded and fitted once per distinct picture (a small cache keyed by a
digest of its bytes), so a round's card is text, hearts and one PNG encode (most of the
time, at zlib level 1): about 20-25 ms. The bot keeps a drawn opponent's art as the card
draws it (:func:`art_thumbnail`, a 400x400 JPEG made once per drawing), so the first card
of a game decodes that, not the 1024x1024 drawing, and costs about the same
(``bench/battle_card.py``). It is CPU-bound: call it from a worker
thread in async code. An art that cannot be read, or is absurdly large, gives a neutral
placeholder, never an error.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from PIL import Image, ImageDraw

from core import fonts
from core.janken import Outcome

_log = logging.getLogger(__name__)

SIZE = (800, 440)
MARGIN, ART_SIDE = 20, 400
ART_BOX = (MARGIN, MARGIN, MARGIN + ART_SIDE, MARGIN + ART_SIDE)
PANEL_LEFT, PANEL_RIGHT = ART_BOX[2] + 28, SIZE[0] - MARGIN
PANEL_WIDTH = PANEL_RIGHT - PANEL_LEFT
OPPONENT_TOP, PLAYER_TOP, BANNER_TOP = MARGIN, 188, 364
HEARTS_OFFSET, HEART_MAX, HEART_GAP, HEART_MIN = 56, 36, 8, 12
MAX_ART_PIXELS = 4096 * 4096
"""Bigger pictures are not decoded at all (the placeholder stands in)."""
ART_CACHE_SIZE = 32
"""Fitted arts kept, the most recently drawn (0.5 MB each): a game's art stays while it is played."""

BACKGROUND = "#1d2029"
ART_BACKDROP, PLACEHOLDER = "#2c313d", "#4a5163"
TEXT, DIM, DIVIDER = "#f4f5f7", "#a9b0bf", "#2f3442"
OPPONENT_ACCENT, PLAYER_ACCENT = "#e5484d", "#3e8ed0"
HEART_FULL, HEART_EMPTY = "#e5484d", "#464b59"
BANNERS = {  # tone -> (fill, text)
    Outcome.WIN: ("#f2b705", "#1d2029"),
    Outcome.LOSE: ("#b93a3f", TEXT),
    Outcome.DRAW: ("#5b6478", TEXT),
    None: ("#3e8ed0", TEXT),
}
NAME_SIZES, MOVE_SIZES, BANNER_SIZES = (30, 24), (22, 18), (30, 24)


@dataclass(frozen=True)
class BattleCard:
    """What a card shows. ``last_round`` is (player's move, opponent's move) as labels;
    ``tone`` (from the player's side) colours the banner."""

    player_name: str
    opponent_name: str
    player_hp: int
    opponent_hp: int
    max_hp: int
    opponent_art: bytes | None = field(default=None, repr=False)
    last_round: tuple[str, str] | None = None
    banner: str | None = None
    tone: Outcome | None = None


def render(card: BattleCard) -> bytes:
    """The card as PNG bytes, :data:`SIZE` pixels."""
    image = _background().copy()
    image.paste(_art(card.opponent_art), ART_BOX[:2], _rounded_mask(ART_SIDE, ART_SIDE, 18))
    canvas = ImageDraw.Draw(image)
    player_move, opponent_move = card.last_round or (None, None)
    _side(canvas, OPPONENT_TOP, OPPONENT_ACCENT, card.opponent_name, opponent_move)
    _side(canvas, PLAYER_TOP, PLAYER_ACCENT, card.player_name, player_move)
    _hearts(image, hearts_box(OPPONENT_TOP), card.opponent_hp, card.max_hp)
    _hearts(image, hearts_box(PLAYER_TOP), card.player_hp, card.max_hp)
    if card.banner:
        _banner(image, canvas, card.banner, card.tone)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def hearts_box(top: int) -> tuple[int, int, int, int]:
    """Where a side's hearts are drawn, for the side whose block starts at ``top``."""
    y = top + HEARTS_OFFSET
    return PANEL_LEFT, y, PANEL_RIGHT, y + HEART_MAX


def _side(canvas: ImageDraw.ImageDraw, top: int, accent: str, name: str, move: str | None) -> None:
    """One side's accent bar, name and last move; its hearts are drawn apart."""
    canvas.rectangle((PANEL_LEFT - 14, top + 4, PANEL_LEFT - 10, top + 148), fill=accent)
    line, size = _fit(name, NAME_SIZES, PANEL_WIDTH)
    fonts.draw(canvas, PANEL_LEFT, top + 36, line, size, TEXT)
    if move:
        line, size = _fit(move, MOVE_SIZES, PANEL_WIDTH)
        fonts.draw(canvas, PANEL_LEFT, top + 132, line, size, DIM)


def _fit(text: str, sizes: tuple[int, ...], max_width: int) -> tuple[str, int]:
    """The text at the largest of ``sizes`` it fits at, else shortened at the smallest."""
    cleaned = fonts.clean(text)
    for size in sizes[:-1]:
        if fonts.width(cleaned, size) <= max_width:
            return cleaned, size
    return fonts.shorten(cleaned, sizes[-1], max_width), sizes[-1]


def _hearts(image: Image.Image, box: tuple[int, int, int, int], hp: int, max_hp: int) -> None:
    """``max_hp`` hearts, ``hp`` of them full; a bar when there are too many to draw as hearts."""
    left, top, right, bottom = box  # right and bottom are outside, as in Image.crop
    max_hp = max(max_hp, 1)
    hp = min(max(hp, 0), max_hp)
    side = min(HEART_MAX, (right - left + HEART_GAP) // max_hp - HEART_GAP)
    if side < HEART_MIN:
        canvas = ImageDraw.Draw(image)
        canvas.rounded_rectangle((left, top + 8, right - 1, bottom - 9), 10, fill=HEART_EMPTY)
        if hp:
            filled = left + round((right - 1 - left) * hp / max_hp)
            canvas.rounded_rectangle((left, top + 8, max(filled, left + 20), bottom - 9), 10, fill=HEART_FULL)
        return
    y = top + (bottom - top - side) // 2
    for index in range(max_hp):
        heart = _heart(side, HEART_FULL if index < hp else HEART_EMPTY)
        image.paste(heart, (left + index * (side + HEART_GAP), y), heart)


def _banner(image: Image.Image, canvas: ImageDraw.ImageDraw, text: str, tone: Outcome | None) -> None:
    fill, ink = BANNERS.get(tone, BANNERS[None])
    box = (PANEL_LEFT - 14, BANNER_TOP, PANEL_RIGHT, SIZE[1] - MARGIN)
    image.paste(_rounded_fill(box[2] - box[0], box[3] - box[1], fill), box[:2],
                _rounded_mask(box[2] - box[0], box[3] - box[1], 14))  # fmt: skip
    line, size = _fit(text, BANNER_SIZES, box[2] - box[0] - 32)
    x = (box[0] + box[2] - fonts.width(line, size)) / 2
    fonts.draw(canvas, x, (box[1] + box[3]) / 2 + size * 0.36, line, size, ink)


@functools.cache
def _background() -> Image.Image:
    image = Image.new("RGB", SIZE, BACKGROUND)
    divider = PLAYER_TOP - 18
    ImageDraw.Draw(image).line((PANEL_LEFT, divider, PANEL_RIGHT - 1, divider), fill=DIVIDER, width=2)
    return image


@functools.lru_cache(maxsize=16)
def _heart(side: int, colour: str) -> Image.Image:
    """A heart ``side`` pixels square, drawn four times larger and scaled down for smooth edges."""
    big = side * 4
    points = []
    for step in range(120):
        t = 2 * math.pi * step / 120
        x = 16 * math.sin(t) ** 3
        y = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((big / 2 + x * big / 34, big * 0.44 - y * big / 34))
    sprite = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    ImageDraw.Draw(sprite).polygon(points, fill=colour)
    return sprite.resize((side, side), Image.Resampling.LANCZOS)


@functools.lru_cache(maxsize=8)
def _rounded_mask(width: int, height: int, radius: int) -> Image.Image:
    mask = Image.new("L", (width * 4, height * 4), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width * 4 - 1, height * 4 - 1), radius * 4, fill=255)
    return mask.resize((width, height), Image.Resampling.LANCZOS)


@functools.lru_cache(maxsize=8)
def _rounded_fill(width: int, height: int, colour: str) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def art_thumbnail(data: bytes) -> bytes | None:
    """The art as a card draws it (:data:`ART_SIDE` square) in a JPEG of a few tens of KB: small
    enough for the store to keep, so that a card drawn after a restart, or by another process,
    still shows it. ``None`` for art that cannot be read. CPU-bound, like :func:`render`."""
    fitted = _fit_art(data)  # not through the cache: cards draw from the thumbnail, not the drawing
    if fitted is _placeholder():
        return None
    out = io.BytesIO()
    fitted.save(out, "JPEG", quality=85)
    return out.getvalue()


_arts: OrderedDict[bytes, Image.Image] = OrderedDict()
_arts_lock = threading.Lock()


def _art(data: bytes | None) -> Image.Image:
    """The art fitted to the art box: from a small cache keyed by a digest of the bytes."""
    if data is None:
        return _placeholder()
    key = hashlib.sha256(data).digest()  # about 1 ms for a 1.5 MB PNG
    with _arts_lock:
        if key in _arts:
            _arts.move_to_end(key)
            return _arts[key]
    fitted = _fit_art(data)
    with _arts_lock:
        _arts[key] = fitted
        while len(_arts) > ART_CACHE_SIZE:
            _arts.popitem(last=False)
    return fitted


def _fit_art(data: bytes) -> Image.Image:
    """Crop to a square (keeping the upper part, where a character's face is) and scale."""
    try:
        opened = Image.open(io.BytesIO(data))
        if opened.width * opened.height > MAX_ART_PIXELS:
            raise ValueError(f"{opened.width}x{opened.height} is too large to draw")
        opened.draft("RGB", (ART_SIDE, ART_SIDE))  # JPEG only: decode at a fraction of the size
        picture = opened.convert("RGBA" if opened.has_transparency_data else "RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        _log.warning("opponent art cannot be drawn (%s); using the placeholder", exc)
        return _placeholder()
    crop = min(picture.width, picture.height)
    left, top = (picture.width - crop) / 2, (picture.height - crop) * 0.3
    fitted = picture.resize(
        (ART_SIDE, ART_SIDE),
        Image.Resampling.LANCZOS,
        box=(left, top, left + crop, top + crop),
        reducing_gap=1.25,
    )
    if fitted.mode == "RGB":
        return fitted
    return Image.alpha_composite(Image.new("RGBA", fitted.size, ART_BACKDROP), fitted).convert("RGB")


@functools.cache
def _placeholder() -> Image.Image:
    """A neutral silhouette for an opponent without (readable) art, drawn twice as large and scaled."""
    big = Image.new("RGB", (ART_SIDE * 2, ART_SIDE * 2), ART_BACKDROP)
    canvas = ImageDraw.Draw(big)
    middle = ART_SIDE
    canvas.ellipse((middle - 150, 170, middle + 150, 470), fill=PLACEHOLDER)
    canvas.rounded_rectangle((middle - 270, 520, middle + 270, ART_SIDE * 2 + 200), 200, fill=PLACEHOLDER)
    return big.resize((ART_SIDE, ART_SIDE), Image.Resampling.LANCZOS)
