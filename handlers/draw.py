"""/draw: generate an image and upload it with the prompt as its caption."""

from __future__ import annotations

from typing import cast

from core.ai import IMAGE_SIZES, Quality
from core.errors import UserInputError
from core.messages import text
from core.store.activity import Usage
from handlers import admission, logbook
from handlers.port import Command, DrawRequest, Reply, Services
from handlers.text_input import checked, shown

SIZE_NAMES = {"square": "1024x1024", "landscape": "1536x1024", "portrait": "1024x1536"}
QUALITIES = ("low", "medium", "high")


def parse(command: Command) -> DrawRequest:
    """Read ``[--size S] [--quality Q] prompt`` (flags anywhere, ``--flag=value`` too)."""
    words = checked(command.text, "usage_draw").split()
    options: dict[str, str] = {}
    prompt: list[str] = []
    while words:
        word = words.pop(0)
        name, equals, value = word.partition("=")
        if name not in ("--size", "--quality"):
            prompt.append(word)
            continue
        if not equals:
            if not words:
                raise UserInputError("usage_draw")
            value = words.pop(0)
        options[name] = value
    if not prompt:
        raise UserInputError("usage_draw")
    return build_request(" ".join(prompt), options.get("--size"), options.get("--quality"))


def build_request(prompt: str, size: str | None, quality: str | None) -> DrawRequest:
    """Validate typed options (from flags or a platform's command options)."""
    size = SIZE_NAMES.get((size or "square").lower(), (size or "").lower())
    if size not in IMAGE_SIZES:
        raise UserInputError("bad_size", value=size)
    quality = (quality or "medium").lower()
    if quality not in QUALITIES:
        raise UserInputError("bad_quality", value=quality)
    return DrawRequest(prompt=prompt, size=size, quality=cast(Quality, quality))


async def handle(command: Command, reply: Reply, services: Services) -> None:
    await draw(parse(command), command, reply, services)


async def draw(request: DrawRequest, command: Command, reply: Reply, services: Services) -> None:
    """Show progress, generate, then upload the bytes with the prompt as caption.

    One drawing per user at a time, moderated and counted first (:mod:`handlers.admission`).
    """
    async with admission.one_at_a_time("draw", command, services):
        async with (
            admission.spending("draw", request.prompt, command, reply, services),
            reply.progress(text("drawing", command.locale, prompt=shown(request.prompt))),
        ):
            image = await services.ai.generate_image(
                request.prompt, size=request.size, quality=request.quality
            )
        ref = await reply.post_image(image, text("image_caption", command.locale, prompt=shown(request.prompt)))
        await logbook.record(
            command,
            services,
            "draw",
            prompt=request.prompt,
            answer=ref,
            model=services.ai.image_model,
            usage=Usage(images=1),
        )
