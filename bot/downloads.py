"""Fetch a file a chat platform hosts: from its own file host only, streamed, size-limited.

An attachment's URL comes from a platform payload, so it is checked before anything is
sent: https only (plain http to a loopback host, for tests), and a host the platform
owns (``files.slack.com``; ``cdn.discordapp.com``, ``media.discordapp.net``). Redirects
are followed by hand, each hop checked the same way, and the headers (the platform's
token) go only to the host they were given for. The size is checked twice: a declared
``Content-Length`` over the limit is refused before a byte of the body is read, and a
body that runs past the limit is cut off there and its connection closed, so an
oversized file is never read whole.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from types import MappingProxyType

import aiohttp
from aiohttp import hdrs
from yarl import URL

from core.audio import audio_too_large
from core.errors import Unavailable, UpstreamError, UserInputError

_log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_CHUNK = 64 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=30)
"""A stalled host is given up on; a slow but steady download of a large file is not."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


async def fetch_limited(
    session: aiohttp.ClientSession,
    url: str,
    *,
    allowed_hosts: frozenset[str],
    max_bytes: int,
    headers: Mapping[str, str] = _NO_HEADERS,
) -> bytes:
    """The body of ``url``, at most ``max_bytes`` long, from one of ``allowed_hosts`` (lower case).

    Raises :class:`UserInputError` ``file_elsewhere`` for a URL off the platform's hosts,
    ``audio_too_large`` for a file over ``max_bytes`` (transcription is what downloads),
    and :class:`UpstreamError` ``download_failed`` when the host fails, answers with
    something other than the file, or redirects off its platform.
    """
    origin = _parsed(url)
    if origin is None or not _permitted(origin, allowed_hosts):
        shown = _shown(origin) if origin else repr(url[:100])
        _log.warning("not fetching %s: only https from %s", shown, ", ".join(sorted(allowed_hosts)))
        raise UserInputError("file_elsewhere")
    target = origin
    sent = headers
    try:
        for _ in range(MAX_REDIRECTS + 1):
            async with session.get(target, headers=sent, allow_redirects=False, timeout=_TIMEOUT) as response:
                if response.status not in _REDIRECTS:
                    return await _read_limited(response, max_bytes)
                target = _redirect(target, response, allowed_hosts)
                sent = headers if target.host == origin.host else _NO_HEADERS
    except (TimeoutError, aiohttp.ClientError) as exc:
        _log.warning("download of %s failed: %r", _shown(target), exc)
        raise Unavailable("download_failed") from exc
    _log.warning("download of %s gave up after %d redirects", _shown(origin), MAX_REDIRECTS)
    raise UpstreamError("download_failed")


async def _read_limited(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The body, read in chunks; the connection is closed the moment it is known to be too large."""
    if response.status != 200:
        _log.warning("file host answered %s for %s", response.status, _shown(response.url))
        raise UpstreamError("download_failed")
    if response.content_type == "text/html":
        _log.warning("file host sent a web page for %s, not the file: a missing token or scope?",
                     _shown(response.url))  # fmt: skip
        raise UpstreamError("download_failed")
    if response.content_length is not None and response.content_length > max_bytes:
        response.close()
        raise audio_too_large(max_bytes)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            response.close()
            raise audio_too_large(max_bytes)
    return bytes(body)


def _redirect(current: URL, response: aiohttp.ClientResponse, allowed_hosts: frozenset[str]) -> URL:
    """Where a redirect leads, if it stays on the platform's hosts."""
    location = response.headers.get(hdrs.LOCATION, "")
    target = _parsed(location, base=current) if location else None
    if target is None or not _permitted(target, allowed_hosts):
        shown = _shown(target) if target else repr(location[:100])
        _log.warning("file host redirected %s to %s; not followed", _shown(current), shown)
        raise UpstreamError("download_failed")
    return target


def _parsed(text: str, *, base: URL | None = None) -> URL | None:
    """``text`` as a URL (resolved against ``base``), or ``None`` if it is not one."""
    try:
        url = URL(text)
        return base.join(url) if base is not None else url
    except ValueError:
        return None


def _permitted(url: URL, allowed_hosts: frozenset[str]) -> bool:
    """Whether ``url`` is on an allowed host, over https (or http to loopback), with no user info."""
    host = (url.host or "").lower()
    if host not in allowed_hosts or url.user is not None:
        return False
    return url.scheme == "https" or (url.scheme == "http" and _loopback(host))


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(url: URL) -> str:
    """A URL fit for a log: its query (Discord's signature, expiry) left out."""
    return str(url.with_query(None).with_fragment(None))
