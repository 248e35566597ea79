"""The standard-library log follower over bytes an engine could send (issue 14).

A scripted endpoint on a Unix socket answers ``/containers/ID/json`` and ``/logs`` the
way the engine does, sending the body in odd pieces; the follower is read a few bytes
at a time, so every frame header and line arrives split. The real engine's side is in
tests/integration/test_engine_logs.py.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opsui.backends import docker_logs
from opsui.backends.engine_feed import PlainEngine
from opsui.backends.engine_logs import open_engine_logs
from opsui.domain.errors import ActionFailed, ContainerGone, EngineUnavailable

STAMP = b"2026-12-07T20:00:00.000000001Z "


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(payload)) + payload


LINES = [(1, b"first"), (2, b"oops \x1b[31m[bold]"), (1, b"x" * 40), (1, b"last")]
MULTIPLEXED = b"".join(frame(kind, STAMP + text + b"\n") for kind, text in LINES)
RAW = b"".join(STAMP + text + b"\r\n" for _, text in LINES)


class ScriptedEngine:
    """Answers one request per connection from ``answers`` (path prefix -> status,
    body), writing each body in 7-byte pieces; ``cut`` stops a body half-way."""

    def __init__(self, path: Path, answers: dict[str, tuple[int, bytes]],
                 cut: bool = False) -> None:
        self.path = str(path)
        self.answers = answers
        self.cut = cut
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096)
                target = head.split(b" ")[1].decode()
                status, body = next((answer for prefix, answer in self.answers.items()
                                     if target.startswith(prefix)), (404, b"{}"))
                if self.cut and "/logs" in target:
                    body = body[:len(body) // 2]
                conn.sendall(b"HTTP/1.0 %d X\r\nContent-Type: x\r\n\r\n" % status)
                for start in range(0, len(body), 7):
                    conn.sendall(body[start:start + 7])

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_logs, "_READ_SIZE", 3)


Engines = Callable[..., ScriptedEngine]


@pytest.fixture
def engine_at(tmp_path: Path) -> Iterator[Engines]:
    made: list[ScriptedEngine] = []

    def make(answers: dict[str, tuple[int, bytes]], cut: bool = False) -> ScriptedEngine:
        made.append(ScriptedEngine(tmp_path / f"e{len(made)}.sock", answers, cut))
        return made[-1]

    yield make
    for engine in made:
        engine.close()


def inspect(tty: bool) -> bytes:
    return json.dumps({"Id": "abc", "Config": {"Tty": tty}}).encode()


def read_all(path: str, container: str = "abc") -> tuple[list[tuple[int, int, bytes]], bool]:
    stream = open_engine_logs(path, container, 4, since=None, tail=10, follow=False,
                              timeout=5)
    entries = [entry for batch in stream for entry in batch]
    return entries, stream.completed


@pytest.mark.usefixtures("small_reads")
@pytest.mark.parametrize("tty", [False, True], ids=["multiplexed", "tty"])
def test_split_frames_come_out_as_whole_lines_of_their_stream(
        engine_at: Engines, tty: bool) -> None:
    engine = engine_at({"/containers/abc/json": (200, inspect(tty)),
                        "/containers/abc/logs": (200, RAW if tty else MULTIPLEXED)})
    entries, completed = read_all(engine.path)
    if tty:  # one stream, the terminal's line ends
        assert entries == [(4, 1, STAMP + text + b"\r") for _, text in LINES]
    else:
        assert entries == [(4, kind, STAMP + text) for kind, text in LINES]
    assert completed


@pytest.mark.usefixtures("small_reads")
def test_an_engine_gone_mid_stream_ends_it_with_the_lines_it_sent(
        engine_at: Engines) -> None:
    engine = engine_at({"/containers/abc/json": (200, inspect(False)),
                        "/containers/abc/logs": (200, MULTIPLEXED)}, cut=False)
    whole, _ = read_all(engine.path)
    engine.cut = True
    entries, _ = read_all(engine.path)
    assert entries and entries == whole[:len(entries)] and len(entries) < len(whole)


def test_refusals_say_what_the_sdk_path_says(engine_at: Engines,
                                             tmp_path: Path) -> None:
    engine = engine_at({
        "/containers/abc/json": (200, inspect(False)),
        "/containers/abc/logs": (501, b'{"message": "configured logging driver does '
                                      b'not support reading"}'),
        "/containers/gone/json": (404, b'{"message": "No such container: gone"}')})
    with pytest.raises(ContainerGone, match=r"^container gone no longer exists$"):
        read_all(engine.path, "gone")
    with pytest.raises(ActionFailed, match=r"^logs abc: configured logging driver does not "
                                           r"support reading$"):
        read_all(engine.path)
    feed = PlainEngine(str(tmp_path / "none.sock"), "unix:///somewhere/docker.sock")
    with pytest.raises(EngineUnavailable, match=r"^no Docker engine answers at "
                                                r"unix:///somewhere/docker\.sock: "):
        feed.logs("abc", tag=0)
    with pytest.raises(EngineUnavailable):
        feed.list_containers()

