"""Store URLs made fit for error and log lines.

``STORE_URL`` and ``REDIS_URL`` may carry credentials: ``user:password@``, a
password alone (``redis://:secret@host``), a token as the user name, or a
query parameter (``?password=``, ``?token=``). A driver's error may quote the
URL, the opened path, or the decoded password, so both the URL and any text
about it pass through here before they reach a message.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

MASK = "***"
SAFE_PARAMS = frozenset({"db", "mode", "cache", "immutable", "protocol", "timeout", "ssl_cert_reqs"})
"""Query parameters whose values are kept: settings, never secrets. Every other value is masked."""

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,19}://[^\s'\"<>]*")  # a bounded scheme keeps it linear
_PARAM = re.compile(r"(?<=[?&;])([^=&;#?\s'\"]+)(?:=([^&;#\s'\"]*))?")
"""``name=value`` (or a bare ``value``) after ``?``, ``&`` or ``;``."""


def redacted(url: str) -> str:
    """``url`` without its user info, fragment, or the values of query parameters not in SAFE_PARAMS."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    _, at, rest = rest.rpartition("@")  # the last @: a password may hold an unescaped one
    rest, hash_, _ = rest.partition("#")
    return f"{scheme}{sep}{MASK if at else ''}{at}{_masked_params(rest)}{hash_ and '#' + MASK}"


def scrubbed(text: str, url: str) -> str:
    """``text`` (say, a driver's error about ``url``) with every secret of ``url`` masked.

    Exact secrets go first, raw and percent-decoded; then any URL or query
    parameter left in the text is redacted, which catches a secret quoted in
    part, as in a path cut at a slash.
    """
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return _masked_params(_URL.sub(lambda match: redacted(match.group()), text))


def _secrets(url: str) -> set[str]:
    rest = url.partition("://")[2] or url
    userinfo, at, after = rest.rpartition("@")
    found = {userinfo, userinfo.partition(":")[2]} if at else set()
    found.add(after.partition("#")[2])
    query = after.partition("#")[0].partition("?")[2]
    for match in _PARAM.finditer("?" + query):
        name, value = match.groups()
        if name.lower() not in SAFE_PARAMS:
            found.add(name if value is None else value)
    found |= {unquote(s) for s in found} | {unquote_plus(s) for s in found}
    return {s for s in found if s and s != MASK}


def _masked_params(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        name, value = match.groups()
        if name.lower() in SAFE_PARAMS:
            return match.group()
        return MASK if value is None else f"{name}={MASK}"

    return _PARAM.sub(mask, text)
