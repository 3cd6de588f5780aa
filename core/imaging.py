"""Making an image fit an upload limit: unchanged if it fits, else re-encoded, then scaled down.

Platforms cap the size of one attached file (Discord: 10 MiB by default, less
on some servers; an interaction says its own limit). OpenAI returns PNG, which
for a detailed picture can pass such a cap. :func:`fit_image` keeps the
picture as it is when it fits; otherwise it re-encodes it, as JPEG when it is
opaque (fast, and shown everywhere) or WebP when it has transparency (which
JPEG would lose), first at full size with falling quality, then scaled down by
the ratio the last attempt missed by. The work is bounded: at most
``len(QUALITIES) + MAX_SCALINGS`` encodes, each of an image no larger than
the one before.
"""

from __future__ import annotations

import io
import logging
import math
from dataclasses import dataclass

from PIL import Image

from core.errors import BotError

_log = logging.getLogger(__name__)

QUALITIES = (85, 70)
"""Encoder qualities tried at full size, best first."""
SCALED_QUALITY = 70
"""The quality of every scaled-down attempt (resolution gives way before quality sinks further)."""
MAX_SCALINGS = 4
"""Scaled-down attempts before giving up."""
MARGIN = 0.9
"""Aim this far under the limit when choosing a scale, since size does not follow pixels exactly."""
MIN_SIDE = 16
"""An image scaled so that a side would be shorter than this is not worth sending."""
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/gif": "gif"}


class ImageTooLarge(BotError):
    """The image cannot be brought under the upload limit (or cannot be read to try)."""


@dataclass(frozen=True)
class FittedImage:
    """Image bytes that fit a limit, with what they now are."""

    data: bytes
    mime: str

    @property
    def extension(self) -> str:
        """The file name extension that matches :attr:`mime`, e.g. ``jpeg``."""
        return _EXTENSIONS.get(self.mime, "png")


def fit_image(data: bytes, limit: int, mime: str = "image/png") -> FittedImage:
    """``data`` (of type ``mime``) as it is if it fits in ``limit`` bytes, else re-encoded to fit.

    Raises :class:`ImageTooLarge` if no attempt fits or the bytes are not an image.
    CPU-bound for a large picture (tens to hundreds of milliseconds): call it from a
    worker thread in async code.
    """
    if len(data) <= limit:
        return FittedImage(data, mime)
    full = _opaque_or_not(_decode(data, limit))
    kind = "image/webp" if full.mode == "RGBA" else "image/jpeg"
    last = len(data)
    for quality in QUALITIES:
        encoded = _encode(full, kind, quality)
        if len(encoded) <= limit:
            return _fitted(encoded, kind, full, len(data))
        last = len(encoded)
    scale = 1.0
    for _ in range(MAX_SCALINGS):
        scale *= min(0.9, math.sqrt(limit / last * MARGIN))
        width, height = round(full.width * scale), round(full.height * scale)
        if min(width, height) < MIN_SIDE:
            break
        # scaled from the original each time: one blur, not several
        image = full.resize((width, height), Image.Resampling.LANCZOS)
        encoded = _encode(image, kind, SCALED_QUALITY)
        if len(encoded) <= limit:
            return _fitted(encoded, kind, image, len(data))
        last = len(encoded)
    raise ImageTooLarge("image_too_large", limit=_readable(limit))


def _decode(data: bytes, limit: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageTooLarge("image_too_large", limit=_readable(limit)) from exc
    return image


def _opaque_or_not(image: Image.Image) -> Image.Image:
    """RGBA if some pixel is (partly) transparent, else RGB: an opaque alpha channel is only weight."""
    if image.has_transparency_data:
        rgba = image.convert("RGBA")
        lowest_alpha = rgba.getchannel("A").getextrema()[0]
        if isinstance(lowest_alpha, (int, float)) and lowest_alpha < 255:
            return rgba
    return image.convert("RGB")


def _encode(image: Image.Image, mime: str, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, _EXTENSIONS[mime].upper(), quality=quality)
    return out.getvalue()


def _fitted(encoded: bytes, mime: str, image: Image.Image, original_size: int) -> FittedImage:
    _log.info(
        "image re-encoded to fit: %d -> %d bytes, %s %dx%d",
        original_size, len(encoded), mime, image.width, image.height,
    )  # fmt: skip
    return FittedImage(encoded, mime)


def _readable(size: int) -> str:
    """A byte count as people read it: ``8 MiB``, ``300 KiB``, ``512 bytes``."""
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"
