"""How the Redis store's keys and values look: replies read back as text, a board link as a hash, a
conversation turn as JSON, a log entry as a sorted set member, a leaderboard rank as a score and
the names it shows as a hash, a month's usage as a hash of counts per model, a blob as base64, a
lifetime in milliseconds. Pure functions, no I/O.

The records every backend shares (games, stats, results, opponents) are :mod:`core.store.codec`'s;
these are the shapes only Redis keeps.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from redis.typing import EncodableT, FieldT

from core.conversation import Turn
from core.janken import Opponent, Stats
from core.store import codec
from core.store.activity import UNRECORDED_MODEL, Measure, Usage, by_model, tie_breaker
from core.store.base import PlayerKey

_T = TypeVar("_T")

PREFIX = "bot:"
"""Every key the store writes starts with it."""

RANK_SCALE = 2**26
"""A rank's score is ``-(measure * RANK_SCALE + other measure)``: the other measure breaks ties, and
equal scores are ordered by member (the user id), so ascending scores are the leaderboard's order.
Both fit a double exactly while the measure stays under 2**27 and the other is capped below the scale."""


def player_key(kind: str, player: PlayerKey) -> str:
    return f"{PREFIX}{kind}:{player}"


def rank_key(by: Measure, platform: str, workspace: str) -> str:
    """The sorted set ranking one platform's workspace by ``by``; members are user ids."""
    return f"{PREFIX}top:{by}:{platform}:{workspace}"


def names_key(platform: str, workspace: str) -> str:
    """The hash of the names one platform's workspace's players last played under, by user id."""
    return f"{PREFIX}top:names:{platform}:{workspace}"


def rank_score(stats: Stats, by: Measure) -> float | None:
    """Where ``stats`` ranks by ``by`` (lower is higher); ``None`` when ``by`` is 0: off the board."""
    measure, other = getattr(stats, by), getattr(stats, tie_breaker(by))
    return None if measure <= 0 else -float(measure * RANK_SCALE + min(other, RANK_SCALE - 1))


USAGE_FIELDS = ("tokens_in", "tokens_out", "images")
"""What a month's usage hash counts, per model: :class:`core.store.activity.Usage`'s fields."""

USAGE_SEPARATOR = "|"


def usage_field(model: str, count: str) -> str:
    """The field of a month's usage hash counting ``count`` (one of :data:`USAGE_FIELDS`) of
    ``model``: ``<model>|<count>``. A model name may hold any character (a fine-tuned one has
    colons), so the count is what follows the last separator."""
    return f"{model}{USAGE_SEPARATOR}{count}"


def usage_by_model(counts: Mapping[str, str]) -> dict[str, Usage]:
    """A month's usage hash read back, per model. A field of an older build, a count with no model
    (``tokens_in``), is model :data:`core.store.activity.UNRECORDED_MODEL`'s; one that is neither is
    ignored, and so is a count that is not a whole number."""
    rows = []
    for name, value in counts.items():
        model, separator, count = name.rpartition(USAGE_SEPARATOR)
        if not separator:
            model = UNRECORDED_MODEL
        if count in USAGE_FIELDS:
            rows.append((model, Usage(**{count: number(value)})))
    return by_model(rows)


def entry_text(member: str) -> str:
    """A log entry's record from its sorted set member, ``<16 hex digits of logging order>:<record>``
    (the order makes equal members distinct, and sorts entries of one time as they were logged)."""
    return member.partition(":")[2]


def number(value: bytes | str | None) -> int:
    """A count read back; 0 when missing or not a whole number (only this store writes them)."""
    try:
        return 0 if value is None else int(value)
    except ValueError:
        return 0


def millis(seconds: float) -> int:
    """A lifetime in whole milliseconds, at least 1 (Redis refuses an expiry of 0)."""
    return max(1, math.ceil(seconds * 1000))


def as_str(value: bytes | str) -> str:
    """A reply as text (the client decodes replies; its types still allow bytes)."""
    return value if isinstance(value, str) else value.decode()


def text(value: bytes | str | None) -> str | None:
    return None if value is None else as_str(value)


def texts(values: Sequence[bytes | str]) -> list[str]:
    return [as_str(value) for value in values]


def fields(values: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {as_str(k): as_str(v) for k, v in values.items()}


def board_fields(player: PlayerKey, game_id: str, opponent: Opponent | None) -> dict[FieldT, EncodableT]:
    """A board link as the hash stored for it (no ``opponent`` field when there is none)."""
    link: dict[FieldT, EncodableT] = {
        "platform": player.platform,
        "workspace": player.workspace,
        "user": player.user,
        "game_id": game_id,
    }
    if opponent is not None:
        link["opponent"] = codec.dump_opponent(opponent)
    return link


def owner(link: Mapping[str, str]) -> PlayerKey | None:
    """The player a board link (a hash read back) belongs to; ``None`` for no link."""
    if not link:
        return None
    return PlayerKey(link["platform"], link["workspace"], link["user"])


def dump_blob(data: bytes) -> str:
    """A blob as the text stored for it: base64, since the client decodes every reply as text."""
    return base64.b64encode(data).decode("ascii")


def load_blob(text: str | None) -> bytes | None:
    """A blob's bytes from the text read back; ``None`` when absent or not base64 (only this
    store writes blobs, so such text is not one: it reads as missing until a write replaces it)."""
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def dump_turn(turn: Turn) -> str:
    return json.dumps({"v": codec.VERSION, "role": turn.role, "content": turn.content})


def load_turn(text: str) -> Turn:
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise codec.UndecodableRecord("not JSON") from None
    if not isinstance(data, dict) or data.get("v", codec.VERSION) != codec.VERSION:
        raise codec.UndecodableRecord("not a turn of this format version")
    role, content = data.get("role"), data.get("content")
    if role not in ("user", "assistant") or type(content) is not str:
        raise codec.UndecodableRecord("field 'role' or 'content' is missing or malformed")
    return Turn(role=role, content=content)


def decoded(text: str | None, load: Callable[[str], _T], errors: list[codec.UndecodableRecord]) -> _T | None:
    """``text`` decoded; ``None`` when absent or unreadable (the reason is added to ``errors``)."""
    if text is None:
        return None
    try:
        return load(text)
    except codec.UndecodableRecord as exc:
        errors.append(exc)
        return None


def log_all(player: PlayerKey, what: str, errors: list[codec.UndecodableRecord]) -> None:
    for exc in errors:
        codec.log_discarded(str(player), what, exc)
