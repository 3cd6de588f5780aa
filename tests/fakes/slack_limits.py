"""Slack's published rate and size limits, as the fake Slack Web API enforces them.

Rate limits are counted the way Slack documents them: per method, per workspace,
per app (https://docs.slack.dev/apis/web-api/rate-limits). In the fake, one bearer
token is one app installed in one workspace, so the token is the key. Each method has
a sliding window: at most `calls` admitted calls in any `seconds`-long window. A call
over the limit is refused with its Retry-After (whole seconds until the window would
admit one more) and does not count. A call the limiter admitted counts even if the
method then fails (message_not_found, ...), since the limiter runs before the method.

This table is written from Slack's documentation, not from the bot's pacer, so that
the two can be checked against each other.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limit:
    """At most `calls` calls in any sliding `seconds` window, per workspace (and channel)."""

    calls: int
    seconds: float = 60.0
    per_channel: bool = False


TIER_1, TIER_2, TIER_3, TIER_4 = Limit(1), Limit(20), Limit(50), Limit(100)  # "1+", "20+", "50+", "100+"/min

RATE_LIMITS: dict[str, Limit] = {
    # "Special": about one message per second per channel, short bursts allowed.
    "chat.postMessage": Limit(3, 3.0, per_channel=True),
    "chat.startStream": TIER_2,
    "chat.stopStream": TIER_2,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.replies": TIER_3,
    "chat.appendStream": TIER_4,
    "chat.postEphemeral": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "users.info": TIER_4,
    # Tier 2: docs.slack.dev/reference/methods/usergroups.list ("Rate limits: Tier 2: 20+ per minute").
    "usergroups.list": TIER_2,
    # Tier 4: api.slack.com/methods/files.info ("Rate limiting: Tier 4"); Java SDK MethodsRateLimits agrees.
    "files.info": TIER_4,
    # Tier 3: docs.slack.dev/reference/methods/files.delete ("Tier 3: 50+ per minute").
    "files.delete": TIER_3,
    # Tier 1: api.slack.com/methods/apps.connections.open ("Rate limits: Tier 1"); Java SDK agrees.
    # (A generated copy of the newer docs.slack.dev page reads "Tier 3"; we keep the stricter one.)
    "apps.connections.open": TIER_1,
    # "Special": docs.slack.dev/reference/methods/auth.test, "This method allows hundreds of requests
    # per minute" (Java SDK: SpecialTier_auth_test). Counted at Tier 4's 100, the published floor.
    "auth.test": TIER_4,
}
"""Method -> its limit. Methods not listed (and the upload/download URLs) are not limited."""


class RateLimiter:
    """Sliding windows of admitted calls; not thread-safe (the fake calls it under its lock)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """`clock` is read on every call (monotonic seconds)."""
        self.clock = clock
        self._windows: dict[tuple[str, str, str], deque[float]] = {}

    def admit(self, workspace: str, method: str, args: Mapping[str, Any]) -> int | None:
        """Count the call and return None, or return Retry-After seconds (not counted) if over the limit."""
        limit = RATE_LIMITS.get(method)
        if limit is None:
            return None
        channel = str(args.get("channel") or "") if limit.per_channel else ""
        window = self._windows.setdefault((workspace, method, channel), deque())
        now = self.clock()
        while window and window[0] <= now - limit.seconds:
            window.popleft()
        if len(window) >= limit.calls:
            frees_at = window[len(window) - limit.calls] + limit.seconds
            return max(1, math.ceil(frees_at - now))
        window.append(now)
        return None


# ----- argument limits -----------------------------------------------------------------------------

TEXT_TRUNCATED_AT = 40_000
"""chat.postMessage / chat.postEphemeral `text` past this is cut and posted with a `message_truncated`
warning: api.slack.com/changelog/2018-04-truncating-really-long-messages."""
UPDATE_TEXT_MAX = 4_000
"""chat.update `text` past this is refused: docs.slack.dev/reference/methods/chat.update, errors table,
"msg_too_long: Message text is too long. The `text` field cannot exceed 4,000 characters."
(seen in practice: seratch/ChatGPT-in-Slack#102, F3-Nation/archive-slackblast#64)."""
MARKDOWN_TEXT_MAX = 12_000
"""`markdown_text` on chat.postMessage/update/postEphemeral/startStream/appendStream/stopStream: "Limit this
field to 12,000 characters" (each method's reference). No error name is documented: msg_too_long."""
BLOCKS_MAX = 50
"""Blocks per message (Block Kit: up to 50). chat.postMessage/update/postEphemeral answer invalid_blocks
("no more than 50 items allowed [json-pointer:/blocks]", e.g. ryanrosello-og/playwright-slack-report#180);
chat.stopStream documents msg_blocks_too_many ("Max blocks exceeded, blocks are limited to 50 per
message") and a 50-block limit on its `blocks` argument (docs.slack.dev/reference/methods/chat.stopStream)."""

_MARKDOWN_METHODS = frozenset(
    {"chat.postMessage", "chat.update", "chat.postEphemeral", "chat.startStream", "chat.appendStream",
     "chat.stopStream"}
)  # fmt: skip
_MARKDOWN_ALONE = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral"})
"""Methods where `markdown_text` goes without `text` or `blocks`: "markdown_text_conflict: Markdown text
cannot be used in conjunction with `blocks` or `text` argument" (chat.postMessage's errors table)."""
_BLOCKS_ERROR = {
    "chat.postMessage": "invalid_blocks",
    "chat.update": "invalid_blocks",
    "chat.postEphemeral": "invalid_blocks",
    "chat.stopStream": "msg_blocks_too_many",
}
_TRUNCATED = ("[WARN] Your message was truncated but still posted. "
              "The `text` field accepts up to 40,000 characters.")  # fmt: skip
TRUNCATED_WARNING = {"warnings": ["message_truncated"], "messages": [_TRUNCATED]}
"""The `response_metadata` Slack adds to a post whose text it truncated."""


def argument_error(method: str, args: Mapping[str, Any], blocks: Any) -> str | None:
    """The error Slack gives a call whose text or blocks are over a documented limit, or whose
    `markdown_text` comes with `text` or `blocks`; else None.

    `blocks` is the decoded `blocks` argument (a list, or None).
    """
    if method in _MARKDOWN_ALONE and args.get("markdown_text") and (args.get("text") or blocks):
        return "markdown_text_conflict"
    if method in _MARKDOWN_METHODS and len(str(args.get("markdown_text") or "")) > MARKDOWN_TEXT_MAX:
        return "msg_too_long"
    if method == "chat.update" and len(str(args.get("text") or "")) > UPDATE_TEXT_MAX:
        return "msg_too_long"
    if method in _BLOCKS_ERROR and isinstance(blocks, list) and len(blocks) > BLOCKS_MAX:
        return _BLOCKS_ERROR[method]
    return None


def truncate_text(text: str) -> tuple[str, bool]:
    """A posted message's text as Slack keeps it, and whether it was cut."""
    return (text[:TEXT_TRUNCATED_AT], True) if len(text) > TEXT_TRUNCATED_AT else (text, False)
