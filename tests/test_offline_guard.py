"""The conftest guard: tests cannot reach beyond loopback, and start without credentials."""

from __future__ import annotations

import os
import socket

import pytest


def test_a_connection_outside_loopback_fails_the_test() -> None:
    with socket.socket() as sock, pytest.raises(AssertionError, match="loopback"):
        sock.connect(("93.184.216.34", 443))


def test_loopback_connections_are_allowed(unused_tcp_port: int) -> None:
    with socket.socket() as server, socket.socket() as client:
        server.bind(("127.0.0.1", unused_tcp_port))
        server.listen()
        client.connect(("127.0.0.1", unused_tcp_port))


def test_credentials_are_cleared() -> None:
    assert not any(os.environ.get(name) for name in ("OPENAI_API_KEY", "SLACK_BOT_TOKEN", "DISCORD_TOKEN"))
