"""Discord's published (and observed) limits, as the fake Discord API enforces them.

Sources, in the discord/discord-api-docs repository unless noted:

- Rate limits (developers/topics/rate-limits.mdx): per-route buckets named by `X-RateLimit-Bucket`,
  counted per top-level resource (channel_id, guild_id, webhook_id + webhook_token); headers
  X-RateLimit-Limit/-Remaining/-Reset/-Reset-After/-Bucket on answers; a 429 carries `Retry-After`,
  `X-RateLimit-Scope` and ``{"message", "retry_after", "global"}``. A global limit of 50 requests a
  second per bot, which interaction endpoints are not bound to.
- Numbers per route are not published ("should not be hard coded"). The fake uses the ones people
  observe: channel message creation 5 per 5 s per channel (discord-relay-chat/drc#17, "five in five
  seconds from observation"); webhooks 5 per 2 s per webhook (a Discord engineer in
  discord/discord-api-docs#367: "it should be reporting 5/2"). Interaction follow-ups and edits share
  webhook limits ("Interactions webhooks share the same rate limit properties as normal webhooks",
  interactions/receiving-and-responding.mdx). Routes not listed get a roomy 50 per second bucket so
  that every answer still carries the headers.
- Sizes: content up to 2000 characters, up to 10 embeds of at most 6000 characters in all
  (resources/message.mdx, "Embed Limits"); files up to 10 MiB each by default (reference.mdx,
  "Uploading Files"); at most 25 MiB per request (resources/message.mdx, "Limitations"); too large
  answers 413 with code 40005 (discord/discord-api-docs#6058 shows it for a file over the limit).
- The fake puts creating, editing and deleting a channel's messages in that one 5-per-5-s bucket (a
  channel's messages share one budget); Discord may bucket edits apart, which is only kinder.
- Components: custom_id 1-100 characters, unique per message; 5 buttons per action row, 5 rows;
  button label up to 80 characters (components/reference.mdx).
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .discord_state import CALLBACK, CREATE_MESSAGE, DELETE_MESSAGE, EDIT_MESSAGE, WEBHOOK_ROUTES

JsonDict = dict[str, Any]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
EMBED_FIELD_MAX = {"title": 256, "description": 4096}
ATTACHMENTS_MAX = 10
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
REQUEST_SIZE_LIMIT = 25 * 1024 * 1024
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
CUSTOM_ID_MAX = 100
LABEL_MAX = 80
GLOBAL_PER_SECOND = 50


class ApiError(Exception):
    """An error answered in Discord's shape: ``{"message", "code"[, "errors"]}`` with an HTTP status."""

    def __init__(self, status: int, code: int, message: str, errors: JsonDict | None = None) -> None:
        """Keep the status, the JSON error code and the message (and form errors, if any)."""
        super().__init__(f"{status} {message} ({code})")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> JsonDict:
        """The JSON body Discord sends."""
        body: JsonDict = {"message": self.message, "code": self.code}
        return {**body, "errors": self.errors} if self.errors else body


def unknown(what: str, code: int) -> ApiError:
    """404 "Unknown <what>" (10008 message, 10015 webhook, 10062 interaction, ...)."""
    return ApiError(404, code, f"Unknown {what}")


# (status, code, message) of Discord's fixed errors: `raise ApiError(*TOO_LARGE)`
UNAUTHORIZED = (401, 0, "401: Unauthorized")
INVALID_WEBHOOK_TOKEN = (401, 50027, "Invalid Webhook Token")
ALREADY_ACKNOWLEDGED = (400, 40060, "Interaction has already been acknowledged.")
EMPTY_MESSAGE = (400, 50006, "Cannot send an empty message")
TOO_LARGE = (413, 40005, "Request entity too large")
FOLLOWUPS_MAXED = (400, 40094, "This interaction has hit the maximum number of follow up messages")


class FormErrors:
    """Collects Invalid Form Body (50035) errors under their JSON paths, as Discord nests them."""

    def __init__(self) -> None:
        """No errors yet."""
        self.errors: JsonDict = {}

    def add(self, path: Iterable[str | int], code: str, message: str) -> None:
        """Record one error at `path`, e.g. ("data", "content")."""
        node = self.errors
        for key in path:
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def too_long(self, path: Iterable[str | int], limit: int) -> None:
        """Discord's BASE_TYPE_MAX_LENGTH error."""
        self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        """Raise the collected errors as one 400 / 50035."""
        if self.errors:
            raise ApiError(400, 50035, "Invalid Form Body", self.errors)


def check_message(payload: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> None:
    """Raise ApiError(400, 50035) if a message body breaks a documented size limit."""
    errors = FormErrors()
    content = payload.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        errors.too_long((*prefix, "content"), CONTENT_MAX)
    _check_embeds(payload.get("embeds") or [], prefix, errors)
    _check_components(payload.get("components") or [], int(payload.get("flags") or 0), prefix, errors)
    if len(payload.get("attachments") or []) > ATTACHMENTS_MAX:
        errors.too_long((*prefix, "attachments"), ATTACHMENTS_MAX)
    errors.raise_if_any()


def _check_embeds(embeds: list[JsonDict], prefix: tuple[str, ...], errors: FormErrors) -> None:
    if len(embeds) > EMBEDS_MAX:
        errors.too_long((*prefix, "embeds"), EMBEDS_MAX)
    total = 0
    for index, embed in enumerate(embeds):
        for key, limit in EMBED_FIELD_MAX.items():
            if len(str(embed.get(key) or "")) > limit:
                errors.too_long((*prefix, "embeds", index, key), limit)
        texts = [embed.get("title"), embed.get("description"), (embed.get("footer") or {}).get("text"),
                 (embed.get("author") or {}).get("name")]  # fmt: skip
        texts += [t for f in embed.get("fields") or [] for t in (f.get("name"), f.get("value"))]
        total += sum(len(str(t)) for t in texts if t)
    if total > EMBED_TOTAL_MAX:
        errors.add((*prefix, "embeds"), "MAX_EMBED_SIZE_EXCEEDED",
                   f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")  # fmt: skip


def _check_components(rows: list[JsonDict], flags: int, prefix: tuple[str, ...], errors: FormErrors) -> None:
    if not flags & (1 << 15) and len(rows) > ACTION_ROWS_MAX:  # IS_COMPONENTS_V2 lifts the 5-row rule
        errors.too_long((*prefix, "components"), ACTION_ROWS_MAX)
    seen: set[str] = set()
    for r, row in enumerate(rows):
        children = row.get("components") or []
        if row.get("type") == 1 and len(children) > ROW_BUTTONS_MAX:
            errors.too_long((*prefix, "components", r, "components"), ROW_BUTTONS_MAX)
        for c, item in enumerate(children):
            path: tuple[str | int, ...] = (*prefix, "components", r, "components", c)
            custom_id = item.get("custom_id")
            if item.get("type") == 2 and item.get("style") not in (5, 6) and not custom_id:
                errors.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
            if custom_id is not None and len(str(custom_id)) > CUSTOM_ID_MAX:
                errors.too_long((*path, "custom_id"), CUSTOM_ID_MAX)
            elif custom_id is not None and custom_id in seen:
                errors.add((*path, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED",
                           "Component custom id cannot be duplicated")  # fmt: skip
            if custom_id is not None:
                seen.add(str(custom_id))
            if len(str(item.get("label") or "")) > LABEL_MAX:
                errors.too_long((*path, "label"), LABEL_MAX)


# ----- rate limits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """At most `calls` calls per `seconds` window, per bucket and top-level resource."""

    calls: int
    seconds: float
    bucket: str  # what X-RateLimit-Bucket says (the same for every route sharing the limit)


CHANNEL_MESSAGES = Limit(5, 5.0, "b1d4c0a5e6f7channelmessages")
INTERACTION_WEBHOOK = Limit(5, 2.0, "9a3e1f7c2b4dwebhooktoken")
INTERACTION_CALLBACK = Limit(5, 2.0, "77c5aa01e3f2callback")
ROUTE_DEFAULT = Limit(50, 1.0, "")  # bucket "" = a bucket of its own for each route key
ROUTE_LIMITS: dict[str, Limit] = {
    **dict.fromkeys((CREATE_MESSAGE, EDIT_MESSAGE, DELETE_MESSAGE), CHANNEL_MESSAGES),
    **dict.fromkeys(WEBHOOK_ROUTES, INTERACTION_WEBHOOK),
    CALLBACK: INTERACTION_CALLBACK,
}
"""Route key -> its Limit; routes not listed get ROUTE_DEFAULT."""


@dataclass
class Decision:
    """What the limiter says about one call: headers for the answer, and Retry-After if refused."""

    headers: dict[str, str]
    retry_after: float | None = None
    is_global: bool = False

    def error_body(self) -> JsonDict:
        """Discord's 429 body."""
        return {"message": "You are being rate limited.", "retry_after": self.retry_after,
                "global": self.is_global}  # fmt: skip


class RateLimiter:
    """Fixed windows, the way Discord's headers describe them (not thread-safe: called under a lock).

    A window opens at the first call and resets `seconds` later; a refused call is not counted.
    """

    def __init__(self, clock: Callable[[], float], limits: Mapping[str, Limit]) -> None:
        """`clock` is monotonic seconds; `limits` maps route keys to their Limit."""
        self.clock = clock
        self.limits = dict(limits)
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}  # key -> (resets_at, used)

    def admit(self, route: str, major: str, token: str, *, global_bound: bool) -> Decision:
        """Count the call (route bucket, then the bot's global 50/s) or refuse it with a 429 decision."""
        limit = self.limits.get(route, ROUTE_DEFAULT)
        if not limit.bucket:
            limit = Limit(limit.calls, limit.seconds, hashlib.md5(route.encode()).hexdigest()[:16])
        bucket = limit.bucket
        now = self.clock()
        if global_bound and self._remaining(("global", token), now)[1] >= GLOBAL_PER_SECOND:
            retry = self._windows[("global", token)][0] - now
            headers = {"X-RateLimit-Global": "true", "X-RateLimit-Scope": "global", **retry_header(retry)}
            return Decision(headers, round(retry, 3), True)
        resets_at, used = self._remaining((bucket, major), now, limit.seconds)
        if used >= limit.calls:
            retry = resets_at - now
            headers = {**self._headers(limit, 0, resets_at, now), "X-RateLimit-Scope": "user",
                       **retry_header(retry)}  # fmt: skip
            return Decision(headers, round(retry, 3))
        self._windows[(bucket, major)] = (resets_at, used + 1)
        if global_bound:
            g_resets, g_used = self._remaining(("global", token), now)
            self._windows[("global", token)] = (g_resets, g_used + 1)
        return Decision(self._headers(limit, limit.calls - used - 1, resets_at, now))

    def _remaining(self, key: tuple[str, str], now: float, seconds: float = 1.0) -> tuple[float, int]:
        resets_at, used = self._windows.get(key, (0.0, 0))
        return (now + seconds, 0) if now >= resets_at else (resets_at, used)

    @staticmethod
    def _headers(limit: Limit, remaining: int, resets_at: float, now: float) -> dict[str, str]:
        after = max(0.0, resets_at - now)
        return {"X-RateLimit-Limit": str(limit.calls), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": f"{time.time() + after:.3f}", "X-RateLimit-Reset-After": f"{after:.3f}",
                "X-RateLimit-Bucket": limit.bucket}  # fmt: skip


def retry_header(retry_after: float) -> dict[str, str]:
    """Retry-After is whole seconds, rounded up (the docs' example: 64.57 s -> "65")."""
    return {"Retry-After": str(max(1, math.ceil(retry_after)))}


# ----- application commands (interactions/application-commands.mdx) -------------------------------

COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")  # the docs' \p{L}\p{N} class, as Python's \w spells it
COMMANDS_MAX, OPTIONS_MAX, CHOICES_MAX, COMMAND_CHARS_MAX = 100, 25, 25, 8000


def check_commands(commands: list[JsonDict]) -> None:
    """Raise 400 / 50035 for a bulk overwrite Discord would refuse (names, lengths, counts, order)."""
    errors, seen = FormErrors(), set()
    if sum(1 for c in commands if c.get("type", 1) == 1) > COMMANDS_MAX:
        errors.too_long((), COMMANDS_MAX)
    for index, command in enumerate(commands):
        if not isinstance(command, dict):
            errors.add((index,), "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        kind, name = command.get("type", 1), str(command.get("name", ""))
        if (kind, name) in seen:
            errors.add(
                (index, "name"),
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                f"Application command names must be unique: {name}",
            )
        seen.add((kind, name))
        if kind == 1:
            _check_named((index,), command, errors)
            _check_options(command.get("options") or [], (index, "options"), errors)
            if _chars(command) > COMMAND_CHARS_MAX:
                errors.add(
                    (index,),
                    "APPLICATION_COMMAND_TOO_LARGE",
                    f"Command exceeds maximum size ({COMMAND_CHARS_MAX})",
                )
    errors.raise_if_any()


def _check_named(path: tuple[str | int, ...], item: JsonDict, errors: FormErrors) -> None:
    name = str(item.get("name", ""))
    if not COMMAND_NAME.match(name) or name != name.lower():
        errors.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if not 1 <= len(str(item.get("description", ""))) <= 100:
        errors.add((*path, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")


def _check_options(options: list[JsonDict], path: tuple[str | int, ...], errors: FormErrors) -> None:
    if len(options) > OPTIONS_MAX:
        errors.too_long(path, OPTIONS_MAX)
    names, optional_seen = set(), False
    for index, option in enumerate(options):
        _check_named((*path, index), option, errors)
        if option.get("name") in names:
            errors.add(
                (*path, index, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(option.get("name"))
        if option.get("required") and optional_seen:
            errors.add((*path, index, "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                       "Required options must be placed before non-required options")  # fmt: skip
        optional_seen = optional_seen or not option.get("required")
        choices = option.get("choices") or []
        if len(choices) > CHOICES_MAX:
            errors.too_long((*path, index, "choices"), CHOICES_MAX)
        if option.get("type") in (1, 2):
            _check_options(option.get("options") or [], (*path, index, "options"), errors)


def _chars(item: JsonDict) -> int:
    """Combined name, description and choice name/value characters (the 8000 rule)."""
    own = len(str(item.get("name", ""))) + len(str(item.get("description", "")))
    choices = sum(
        len(str(c.get("name", ""))) + len(str(c.get("value", ""))) for c in item.get("choices") or []
    )
    return own + choices + sum(_chars(o) for o in item.get("options") or [])
