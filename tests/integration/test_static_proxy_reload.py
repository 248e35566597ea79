"""Issue 13: a rollback behind the guides' static nginx, named as the app's proxy.

The requests the static nginx lost in the bench (2 of ~7 040, during rollbacks) were
not the switch's: nginx's graceful reload makes its old workers close every idle
keep-alive client connection at once, and a client (httpx) that sent a request on one
at that instant got "Server disconnected" (deploys lose them the same way; the bench's
two fell in rollbacks by chance). A client that takes a new connection per request loses
none. So what opsui controls is how often it makes nginx do that: once per replica,
after the old container left the alias (it was twice: once before, once after).

A compose project of its own (``stack.sh up --project opsstatic-... --nginx static``),
the real CLI, a paced load, and one idle keep-alive connection watched for closes.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from .request_load import steady_load
from .test_zero_downtime import Stack

pytestmark = pytest.mark.testbed_stack

REQUEST = b"GET /api/version HTTP/1.1\r\nHost: shop\r\n\r\n"
PING_SECONDS = 5.0
"""Well under nginx's keepalive_timeout (65 s): the watched connection never times out."""


class OwnStack(Stack):
    PREFIX = "opsstatic"


class KeepAliveWatch:
    """One keep-alive connection to the proxy, idle between requests, as a browser's is;
    counts the times the proxy closed it (and opens it again each time)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.closed = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="keepalive")
        self.error: BaseException | None = None

    def __enter__(self) -> KeepAliveWatch:
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError(f"no answer on a keep-alive connection: {self.error}")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(15)

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self._ask(sock)
        return sock

    @staticmethod
    def _ask(sock: socket.socket) -> None:
        """One request, its whole answer read (headers, then Content-Length bytes)."""
        sock.sendall(REQUEST)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionResetError("closed before the answer")
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionResetError("closed in the answer")
            body += chunk

    def _watch(self) -> None:
        try:
            sock = self._open()
        except OSError as exc:
            self.error = exc
            return
        self._ready.set()
        waited = 0.0
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
                waited += 0.05
                if readable and not sock.recv(1):  # the proxy closed it
                    raise ConnectionResetError("closed by the proxy")
                if waited >= PING_SECONDS:
                    waited = 0.0
                    self._ask(sock)
            except OSError:
                sock.close()
                self.closed += 1
                try:
                    sock = self._open()
                except OSError as exc:
                    self.error = exc
                    return
        sock.close()


@pytest.fixture
def static(tmp_path: Path) -> Iterator[Stack]:
    stack = OwnStack(tmp_path, "static", name_proxy=True)
    try:
        yield stack
    finally:
        stack.down()


def test_a_rollback_behind_a_static_nginx_reloads_it_once_per_replica_and_loses_nothing(
        static: Stack) -> None:
    ok, output = static.opsui("deploy", "shop", "2.0.0", "--yes")
    assert ok, output
    assert static.versions() == ["2.0.0", "2.0.0"]
    port = int(static.url.split(":")[2].split("/")[0])
    with steady_load(static.url, rate=25, keepalive=False) as load, \
            KeepAliveWatch(port) as watch:
        start = load.mark()
        ok, output = static.opsui("rollback", "shop", "--yes")
        failed = load.failures(start, load.mark())
    assert ok, output
    assert static.versions() == ["1.0.0", "1.0.0"]
    # requests on their own connections: the switch itself (the restored kept copy
    # joining the alias, the reload after the old one left, the drain) loses none
    assert failed == [], output
    # each reload closes every idle keep-alive connection of nginx, the moment a request
    # sent on one is lost: one reload per replica, not two
    assert watch.error is None, watch.error
    assert watch.closed == 2, output
    assert "reload proxy (opsstatic-" in output and "reload proxy again" not in output
