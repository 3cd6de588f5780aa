"""Text in pictures: which font draws which character, loaded once and cached.

The first font is the one shipped beside this file, a subset of Noto Sans CJK JP
Bold (kana, the jōyō and jinmeiyō kanji, Latin, Greek, Cyrillic; see README.md),
so Japanese renders on any machine without a font installed and nothing is
downloaded. Fonts found at the usual system paths (:data:`SYSTEM_FONTS`) follow,
for the characters the subset lacks (a rare kanji in a surname, Hangul, Arabic).
Each letter or digit is drawn by the first font that has it, every other character
by the shipped font only; a character left without a font is left out rather than
drawn as an empty box (so "✊ rock" reads "rock", as the colour emoji cannot be drawn).

Whether a font has a character is decided by drawing it: a missing one comes
out as the font's ``.notdef`` glyph, whatever the font format. FreeType faces
are not safe to use from two threads at once, so every call here takes one lock.
"""

from __future__ import annotations

import functools
import logging
import threading
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

_log = logging.getLogger(__name__)

SHIPPED = Path(__file__).with_name("NotoSansCJKjp-Bold.subset.otf")
SYSTEM_FONTS = (
    # Noto Sans CJK (face 0 is Japanese): Debian and Ubuntu, Fedora, Arch
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    # macOS Hiragino Sans W6, Windows Meiryo and Yu Gothic bold, Malgun Gothic bold (Hangul)
    "/System/Library/Fonts/ヒラギノ角ゴシック W6.ttc",
    "C:/Windows/Fonts/meiryob.ttc",
    "C:/Windows/Fonts/YuGothB.ttc",
    "C:/Windows/Fonts/malgunbd.ttf",
    # wide coverage of the other scripts
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)
MAX_CHARS = 256
"""Longer text is cut before any work: no line in a picture shows more."""
_MISSING = "\U0010fffd"  # private use, plane 16: no font we use draws it, so it shows .notdef
_PROBE_SIZE = 24
_LOCK = threading.RLock()


@functools.cache
def faces() -> tuple[str, ...]:
    """The font files in use, best first: the shipped subset, then those found on the system."""
    found = [str(SHIPPED)] + [path for path in SYSTEM_FONTS if Path(path).is_file()]
    usable = []
    for path in found:
        try:
            ImageFont.truetype(path, _PROBE_SIZE)
        except OSError:
            _log.warning("font %s cannot be read; going without it", path, exc_info=True)
            continue
        usable.append(path)
    if not usable:
        _log.warning("no font could be read; text falls back to Pillow's built-in font")
    return tuple(usable)


@functools.lru_cache(maxsize=64)
def font(face: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font ``face`` (a path from :func:`faces`) at ``size`` pixels; ``None`` is Pillow's own."""
    if face is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(face, size)


def _ink(face: str, text: str) -> tuple[tuple[float, float, float, float], bytes]:
    probe = font(face, _PROBE_SIZE)
    left, top, right, bottom = probe.getbbox(text)
    image = Image.new("L", (max(int(right - left), 1), max(int(bottom - top), 1)))
    ImageDraw.Draw(image).text((-left, -top), text, font=probe, fill=255)
    return (left, top, right, bottom), image.tobytes()


@functools.lru_cache(maxsize=8192)
def has_glyph(face: str, char: str) -> bool:
    """Whether ``face`` draws ``char`` as itself rather than as its missing-glyph box."""
    with _LOCK:
        return _ink(face, char) != _ink(face, _MISSING)


@functools.lru_cache(maxsize=8192)
def face_for(char: str) -> str | None:
    """The first face that draws ``char``. Only letters and digits come from system fonts:
    a black-and-white dingbat beside an emoji left out would look like a mistake."""
    available = faces()
    candidates = available if unicodedata.category(char)[0] in "LN" else available[:1]
    return next((face for face in candidates if has_glyph(face, char)), None)


def clean(text: str) -> str:
    """``text`` as one drawable line: NFC, at most :data:`MAX_CHARS`, single spaces, and
    without controls, variation selectors and characters no face draws."""
    text = unicodedata.normalize("NFC", text[:MAX_CHARS])
    kept = [" " if char.isspace() else char for char in text if char.isspace() or _drawable(char)]
    return " ".join("".join(kept).split())


def _drawable(char: str) -> bool:
    category = unicodedata.category(char)
    if category[0] == "C" or 0xFE00 <= ord(char) <= 0xFE0F:
        return False
    return category[0] == "M" or not faces() or face_for(char) is not None


def runs(text: str) -> list[tuple[str | None, str]]:
    """``text`` (already :func:`clean`) cut into runs that one face draws each."""
    if not faces():
        return [(None, text)] if text else []
    out: list[tuple[str | None, str]] = []
    for char in text:
        if char == " " or unicodedata.category(char)[0] == "M":
            face = out[-1][0] if out else faces()[0]  # spaces and combining marks stay with their neighbour
        else:
            face = face_for(char)
        if out and out[-1][0] == face:
            out[-1] = (face, out[-1][1] + char)
        else:
            out.append((face, char))
    return out


def width(text: str, size: int) -> float:
    """How wide ``text`` (already :func:`clean`) is drawn at ``size``, in pixels."""
    with _LOCK:
        return sum(font(face, size).getlength(run) for face, run in runs(text))


def shorten(text: str, size: int, max_width: float) -> str:
    """``text`` cleaned, and cut with an ellipsis if it is wider than ``max_width`` at ``size``."""
    text = clean(text)
    if width(text, size) <= max_width:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis lies in [low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if width(_cut(text, middle), size) <= max_width:
            low = middle
        else:
            high = middle
    return _cut(text, low)


def _cut(text: str, length: int) -> str:
    """The first ``length`` characters and an ellipsis: a centred one after CJK, dots after the rest."""
    kept = text[:length].rstrip()
    wide = bool(kept) and unicodedata.east_asian_width(kept[-1]) in "WF"
    return kept + ("…" if wide else "...")


def draw(canvas: ImageDraw.ImageDraw, x: float, baseline: float, text: str, size: int, fill: str) -> None:
    """Draw ``text`` (already :func:`clean`, or from :func:`shorten`) from ``x`` on ``baseline``."""
    with _LOCK:
        for face, run in runs(text):
            typeface = font(face, size)
            canvas.text((x, baseline), run, font=typeface, fill=fill, anchor="ls")
            x += typeface.getlength(run)
