"""A ``redis-server`` of a test's (or a bench's) own, on a loopback port, keeping nothing on disk.

The session's Redis (``tests/conftest.py``), tests that stop, kill and restart Redis
under a running bot, and the benches all start it the same way: ``RedisServer()``
picks a free port (or takes the one given), ``start()`` returns once it answers,
and it can be stopped or killed and started again on the same port, empty.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from types import TracebackType
from typing import Self

import redis

START_TIMEOUT = 10.0
"""Seconds a started ``redis-server`` has to answer."""
STOP_TIMEOUT = 10.0
"""Seconds a stopped ``redis-server`` has to exit before it is killed."""


class RedisServerError(RuntimeError):
    """The ``redis-server`` exited or did not answer in time."""


def free_port() -> int:
    """A loopback TCP port nobody listens on at the moment of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` on one port, without persistence: a restart starts it empty.

    :raises FileNotFoundError: there is no ``redis-server`` on PATH.
    """

    def __init__(self, port: int | None = None) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise FileNotFoundError("redis-server is not on PATH")
        self._executable = executable
        self.port = port if port is not None else free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        """Whether a server answers on the port now."""
        return self._answering_pid() is not None

    def _answering_pid(self) -> int | None:
        """The process id of the server answering on the port, None if none answers."""
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return int(client.info("server")["process_id"])
        except redis.RedisError:
            return None
        finally:
            client.close()

    def start(self) -> None:
        """Start the server and wait until it answers (it, not another server on the port).

        :raises RedisServerError: it exited, or did not answer within ``START_TIMEOUT`` (it is killed).
        """
        command = [self._executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._process = process
        deadline = time.monotonic() + START_TIMEOUT
        while self._answering_pid() != process.pid:
            if process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RedisServerError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``); nothing if it is not running."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def kill(self) -> None:
        """Kill the server at once, as a crash would; nothing if it is not running."""
        if self._process is None:
            return
        self._process.kill()
        self._process.wait()
        self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
