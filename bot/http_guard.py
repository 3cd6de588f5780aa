"""Limits for an aiohttp server open to the internet: time, size and connections.

aiohttp bounds the size of a request's head (8 KiB a line, 128 header lines) but
not the time it may take to arrive, the time a body may take, or how many
connections may be open. A client that sends a byte every few seconds would
otherwise hold its connection (and its memory) for as long as it likes. So:

* the head must be complete within ``read_timeout`` of connecting, or of the
  previous answer on a kept-alive connection, or the connection is closed;
* the body must be complete within ``read_timeout`` of the head, or 408;
* a body over ``max_body`` bytes gets 413, before it is read if it says so;
* at most ``max_connections`` are open at once; one more is answered 503 and closed.

A refused request gets one log line (:func:`refusal`) and none in the access log.
A client's malformed HTTP is in the access log as its 400; the parser's
traceback is logged at DEBUG only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.log import server_logger

_log = logging.getLogger(__name__)
LINGER = 1.0
"""Seconds a refused request's unread body is drained before closing, so its client reads the answer."""
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
_CLIENT_FAULTS = (HttpProcessingError, web.RequestPayloadError)
"""Malformed HTTP, in the head or the body (as aiohttp's pure-Python parser reports a broken chunk)."""
_QUIET_SECONDS = 60.0
"""At most one log line a minute about connections refused for the cap."""


@dataclass(frozen=True)
class HttpLimits:
    """How long, how large, how many.

    ``read_timeout``: 10 s for a head, and again for a body. Slack sends a few KiB at
    once and gives up on an answer after 3 s, so 10 s is generous for any real sender;
    an idle kept-alive connection is closed after it too (Node's default is 5 s).

    ``max_body``: 1 MiB. The largest payload the bot listens to carries a message of
    up to 40,000 characters (Slack's limit): at most about 360 KB form-encoded even
    in Japanese (9 bytes a character), or about 250 KB as a JSON event that carries
    the text twice (``text`` and ``blocks``); a board click carries the bot's own
    small board. 1 MiB is about three times that, and aiohttp's default, made explicit.

    ``max_connections``: 512. Each open connection may hold up to ``max_body`` in
    memory while its body arrives, so this bounds that too (512 MiB at the very
    worst); it leaves room for the 200-command bursts of ``bench/slack_load.py`` and
    stays under the usual limit of 1,024 open files, which the bot's own
    connections to Slack, OpenAI and the store share.
    """

    read_timeout: float = 10.0
    max_body: int = 1024 * 1024
    max_connections: int = 512


DEFAULT_LIMITS = HttpLimits()


class Refused(Exception):
    """A request turned away at the door: the status it gets, and why (for the log)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


REFUSED = web.RequestKey("refused", str)


def refusal(request: web.Request, refused: Refused) -> web.Response:
    """The answer to a refused request, and its one log line."""
    request[REFUSED] = refused.reason
    _log.warning(
        "refused %s %s from %s: %d, %s",
        request.method,
        request.path,
        request.remote,
        refused.status,
        refused.reason,
    )
    response = web.Response(status=refused.status, text=HTTPStatus(refused.status).phrase)
    if refused.status in (HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.REQUEST_ENTITY_TOO_LARGE):
        response.force_close()  # its body may be unread: the connection cannot carry another request
    return response


async def read_body(request: web.Request, limits: HttpLimits) -> bytes:
    """The whole body, if it is no larger than ``limits.max_body`` and arrives in time.

    The application must have ``client_max_size=limits.max_body``, which aiohttp
    enforces for a body whose size is not declared up front.
    """
    if (request.content_length or 0) > limits.max_body:
        raise Refused(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"declared a body of {request.content_length} bytes"
        )
    try:
        async with asyncio.timeout(limits.read_timeout):
            return await request.read()
    except TimeoutError as exc:
        raise Refused(HTTPStatus.REQUEST_TIMEOUT, f"body not complete in {limits.read_timeout:g} s") from exc
    except web.HTTPRequestEntityTooLarge as exc:
        raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {limits.max_body} bytes") from exc
    except (ConnectionError, *_CLIENT_FAULTS) as exc:  # the client left, or sent a broken body
        raise Refused(HTTPStatus.BAD_REQUEST, f"body not received ({type(exc).__name__})") from exc


async def start_runner(application: web.Application, limits: HttpLimits) -> web.AppRunner:
    """A runner for ``application`` that times out slow request heads; it is set up, and not yet listening."""
    runner = web.AppRunner(
        application,
        keepalive_timeout=limits.read_timeout,  # aiohttp runs it from connecting until a head is complete
        lingering_time=LINGER,
        access_log_class=_AccessLog,
        logger=_ServerLog(server_logger, {}),
    )
    await runner.setup()
    return runner


async def listen(runner: web.AppRunner, host: str, port: int, limits: HttpLimits) -> asyncio.Server:
    """Accept connections on ``host:port`` for ``runner``, at most ``limits.max_connections`` open at once.

    Closing the server stops new connections; ``runner.cleanup()`` closes the open ones.
    An ``OSError`` means the port cannot be used.
    """
    if runner.server is None:
        raise RuntimeError("set the runner up first (start_runner)")
    cap = _ConnectionCap(runner.server, limits.max_connections)
    return await asyncio.get_running_loop().create_server(lambda: cap, host, port)


class _ConnectionCap(asyncio.Protocol):
    """Where every new connection starts: handed to aiohttp, or refused if ``cap`` are open.

    The count is aiohttp's own (:attr:`web.Server.connections`), checked as each
    connection is made; the one instance serves every connection, as it keeps none.
    """

    def __init__(self, server: web.Server, cap: int) -> None:
        self._server = server
        self._cap = cap
        self._refused = 0
        self._logged_at = -_QUIET_SECONDS

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if len(self._server.connections) < self._cap:
            handler = self._server()
            transport.set_protocol(handler)
            handler.connection_made(transport)
            return
        transport.write(_BUSY)
        transport.close()
        self._refused += 1
        if (now := time.monotonic()) - self._logged_at >= _QUIET_SECONDS:
            _log.warning("refused %d connection(s): %d are open, the most allowed", self._refused, self._cap)
            self._refused, self._logged_at = 0, now


class _AccessLog(web.AccessLogger):
    """aiohttp's access log, less the requests :func:`refusal` has logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if REFUSED not in request:
            super().log(request, response, time)


class _ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log, where a client's malformed HTTP is not an error with a traceback."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if isinstance(kwargs.get("exc_info"), _CLIENT_FAULTS):
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)
