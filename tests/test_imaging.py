"""Fitting an image under an upload limit (core/imaging.py): pure, no fakes, real Pillow images."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from core import imaging
from core.errors import BotError
from core.imaging import ImageTooLarge, fit_image


def noisy_png(width: int, height: int, *, alpha: int | None = None, seed: int = 1) -> bytes:
    """A PNG of random pixels: it compresses badly, like a detailed picture at its worst."""
    noise = random.Random(seed).randbytes(width * height * 3)
    image = Image.frombytes("RGB", (width, height), noise)
    if alpha is not None:
        image.putalpha(alpha)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_an_image_that_fits_is_returned_unchanged() -> None:
    small = noisy_png(16, 16)
    fitted = fit_image(small, len(small), "image/png")
    assert fitted.data is small and fitted.mime == "image/png" and fitted.extension == "png"


def test_a_noisy_png_over_the_limit_is_re_encoded_at_full_size_when_quality_is_enough() -> None:
    png = noisy_png(512, 384)
    limit = len(png) // 3  # JPEG of noise at full size: about a quarter of the PNG
    fitted = fit_image(png, limit)
    assert len(fitted.data) <= limit < len(png)
    assert (fitted.mime, fitted.extension) == ("image/jpeg", "jpeg")
    image = decoded(fitted.data)
    assert (image.format, image.size, image.mode) == ("JPEG", (512, 384), "RGB")


def test_a_noisy_png_far_over_the_limit_is_scaled_down_keeping_its_shape() -> None:
    png = noisy_png(512, 384)
    limit = 40 * 1024
    fitted = fit_image(png, limit)
    image = decoded(fitted.data)
    assert len(fitted.data) <= limit and image.format == "JPEG"
    assert image.width < 512 and abs(image.width / image.height - 512 / 384) < 0.02


def test_transparency_is_kept_by_re_encoding_as_webp() -> None:
    png = noisy_png(256, 256, alpha=128)
    fitted = fit_image(png, len(png) // 3)
    image = decoded(fitted.data)
    assert len(fitted.data) <= len(png) // 3 and (fitted.mime, fitted.extension) == ("image/webp", "webp")
    assert image.format == "WEBP" and image.mode == "RGBA"
    lowest, _ = image.getchannel("A").getextrema()
    assert isinstance(lowest, int) and lowest < 255  # still see-through


def test_an_opaque_alpha_channel_is_dropped_for_jpeg() -> None:
    png = noisy_png(256, 256, alpha=255)
    fitted = fit_image(png, len(png) // 3)
    assert fitted.mime == "image/jpeg" and decoded(fitted.data).format == "JPEG"


def test_an_impossible_limit_raises_our_error_after_a_bounded_number_of_encodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encodes: list[tuple[int, int]] = []
    real_encode = imaging._encode

    def counting(image: Image.Image, mime: str, quality: int) -> bytes:
        encodes.append(image.size)
        return real_encode(image, mime, quality)

    monkeypatch.setattr(imaging, "_encode", counting)
    with pytest.raises(ImageTooLarge) as raised:
        fit_image(noisy_png(512, 384), 100)
    assert isinstance(raised.value, BotError) and raised.value.key == "image_too_large"
    assert "100 bytes" in raised.value.message() and "Traceback" not in str(raised.value)
    assert 0 < len(encodes) <= len(imaging.QUALITIES) + imaging.MAX_SCALINGS
    assert [w * h for w, h in encodes] == sorted((w * h for w, h in encodes), reverse=True)


def test_bytes_that_are_not_an_image_raise_our_error() -> None:
    with pytest.raises(ImageTooLarge, match="1 KiB at most"):
        fit_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 4096, 1024)
