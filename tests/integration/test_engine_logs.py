"""A container's log read on a socket of its own, without the docker SDK (issue 14).

``opsui --open NAME`` shows the container's last lines first. On a local engine the
feed reads them with the standard library while the SDK still loads; these tests hold
that path to what ``docker logs`` prints (TTY or not, hostile bytes, frames split over
many reads), to the errors the SDK path gives, and to a launch whose SDK import cannot
finish until the feed's lines are there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.models.containers import Container

from opsui.backends import docker_logs
from opsui.backends.docker_engine import DockerEngine
from opsui.backends.engine_feed import PlainEngine, plain_engine
from opsui.domain.errors import ContainerGone, EngineUnavailable
from opsui.domain.logbuffer import LineKind, LogEntry
from opsui.domain.logview import render_entry
from opsui.domain.sanitize import sanitize_line

from .conftest import DockerResources
from .helpers import APP_HEALTHY, unique_name, wait_until

pytestmark = pytest.mark.integration

HOSTILE = r"hostile \033[31mred\033[0m [bold]markup[/bold] \033]0;title\007\033[2J end"
SCRIPT = f"""
printf 'plain one\\n'
printf '{HOSTILE}\\n'
printf 'to stderr [red]x[/red] \\033[1mbright\\n' >&2
head -c 20000 /dev/zero | tr '\\0' x; echo
i=0; while [ $i -lt 200 ]; do echo "line $i"; i=$((i+1)); done
echo done-marker
i=0; while :; do echo "tick $i"; i=$((i+1)); sleep 0.2; done
"""
MakeContainer = Callable[..., Container]


def _printer(labelled: DockerResources, tty: bool) -> Container:
    container = labelled.container(APP_HEALTHY, ["-c", SCRIPT], entrypoint=["/bin/sh"],
                                   tty=tty, name=unique_name("engine-logs"))
    wait_until(lambda: b"done-marker" in container.logs(), timeout=30,
               message="the container to print its lines")
    return container


def _upto_marker(texts: list[str]) -> list[str]:
    return texts[:texts.index("done-marker") + 1] if "done-marker" in texts else texts


def _docker_logs(name: str) -> tuple[list[str], list[str]]:
    """What ``docker logs NAME`` prints on stdout and on stderr, line by line, as the
    pane would show each line (sanitised)."""
    out = subprocess.run(["docker", "logs", name], capture_output=True, timeout=30,
                         check=True)

    def shown(raw: bytes) -> list[str]:
        lines = raw.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        return _upto_marker([sanitize_line(line).text for line in lines])

    return shown(out.stdout), shown(out.stderr)


def _read_window(engine: PlainEngine, container: Container) -> list[LogEntry]:
    stream = engine.logs(str(container.id), tag=3, tail=None, follow=False)
    entries: list[LogEntry] = []
    try:
        for batch in stream:
            entries += batch
    finally:
        stream.close()
    return entries


def _shown(entries: list[LogEntry], kind: LineKind) -> list[str]:
    return _upto_marker([render_entry(0, entry).text for entry in entries
                         if entry[1] == kind])


@pytest.mark.parametrize("tty", [False, True], ids=["multiplexed", "tty"])
@pytest.mark.parametrize("read_size", [262144, 5], ids=["whole-reads", "frames-split"])
def test_the_follower_shows_what_docker_logs_prints(
        labelled: DockerResources, monkeypatch: pytest.MonkeyPatch, tty: bool,
        read_size: int) -> None:
    monkeypatch.setattr(docker_logs, "_READ_SIZE", read_size)  # 5: every frame in pieces
    container = _printer(labelled, tty)
    engine = plain_engine(None)
    assert engine is not None
    entries = _read_window(engine, container)

    assert {entry[0] for entry in entries} == {3}
    out, err = _docker_logs(str(container.name))
    assert _shown(entries, LineKind.STDOUT) == out
    assert _shown(entries, LineKind.STDERR) == err
    hostile = next(render_entry(0, e) for e in entries if b"hostile" in e[2])
    assert hostile.text == "hostile red [bold]markup[/bold]  end"  # no escape left
    assert hostile.spans  # the red survives as a span, not as an escape
    if tty:  # a TTY has one stream: stderr's line is on it
        assert err == []
        assert "to stderr [red]x[/red] bright" in out
    else:
        assert err[0] == "to stderr [red]x[/red] bright"


def test_a_followed_stream_gets_new_lines_and_ends_when_closed_from_another_thread(
        labelled: DockerResources) -> None:
    container = _printer(labelled, tty=False)
    engine = plain_engine(None)
    assert engine is not None
    stream = engine.logs(str(container.id), tag=0, tail=5, follow=True)
    seen: list[bytes] = []

    def read() -> None:
        for batch in stream:
            seen.extend(entry[2] for entry in batch)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    wait_until(lambda: sum(b" tick " in raw for raw in seen) >= 3, timeout=30,
               message="ticks written after the stream opened")
    stream.close()
    reader.join(10)
    assert not reader.is_alive()


def test_the_errors_are_the_sdk_paths(labelled: DockerResources, tmp_path: Path) -> None:
    engine = plain_engine(None)
    assert engine is not None
    with pytest.raises(ContainerGone) as plain:
        engine.logs("opsui-no-such-container", tag=0)
    sdk = DockerEngine(labelled.client)
    with pytest.raises(ContainerGone) as through_sdk:
        sdk.inspect("opsui-no-such-container")
    assert str(plain.value) == str(through_sdk.value)
    assert str(plain.value) == "container opsui-no-su\u2026 no longer exists"

    away = plain_engine(f"unix://{tmp_path}/no-engine.sock")
    assert away is not None
    with pytest.raises(EngineUnavailable, match=r"no Docker engine answers at unix://.*"
                       r"no-engine\.sock: No such file or directory"):
        away.logs("anything", tag=0)
    assert plain_engine("ssh://root@127.0.0.1") is None  # the SDK's transports speak there


LAUNCH = """
import json, sys, threading, time

import opsui.backends.local as local

NAME = sys.argv[1]
released = threading.Event()
load_sdk = local.import_docker_sdk_without_paramiko


def held_sdk_import():
    # The connection's SDK import waits until the feed has shown its lines (20 s at most).
    released.wait(20)
    load_sdk()


local.import_docker_sdk_without_paramiko = held_sdk_import
from opsui.backends.engine_glance import glance_containers
from opsui.backends.local import LocalHost
from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.monitor import BufferedListener, HostMonitor, MonitorSettings
from opsui.domain.operations.gate import ActionGate


def poll(check, seconds):
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)
    return check()


def lines(after=0):
    return [raw.decode("utf-8", "replace")[31:] for _, (_, kind, raw)
            in tail.buffer.entries(after)]


monitor = HostMonitor(LocalHost("local"), BufferedListener(), ActionGate(),
                      MonitorSettings(enrich_wait_seconds=60.0),
                      glance=lambda: glance_containers(None))
monitor.start()
poll(lambda: monitor.connected, 20)  # the glance's rows
tail = monitor.open_logs(LogTarget(TargetKind.CONTAINER, (NAME,)), LogWindow(tail=1000))
poll(lambda: "done-marker" in lines(), 15)
report = {"before_sdk": lines(), "sdk_loaded": "docker" in sys.modules}
released.set()
monitor.watch_stats([])  # the UI drew its first frame: the connection may load the SDK
poll(lambda: type(getattr(monitor.connection, "_engine", None)).__name__ == "DockerEngine",
     30)
mark = tail.buffer.total
poll(lambda: sum(line.startswith("tick") for line in lines(mark)) >= 3, 30)
report["after_connect"] = lines(mark)
report["all"] = lines()
tail.close()
monitor.stop()
print(json.dumps(report))
"""


def test_an_open_feed_shows_its_lines_before_the_sdk_loads(labelled: DockerResources,
                                                          tmp_path: Path) -> None:
    """The launch's monitor, its glance's rows shown and its connection started: the
    SDK's import is held until the feed has its lines, and the lines come (before,
    the feed waited for that connection). Once connected, the same stream goes on."""
    container = _printer(labelled, tty=False)
    out = subprocess.run([sys.executable, "-c", LAUNCH, str(container.name)],
                         capture_output=True, text=True, timeout=120, check=True,
                         env={**os.environ, "HOME": str(tmp_path)})
    report = json.loads(out.stdout.strip().splitlines()[-1])

    assert report["sdk_loaded"] is False
    assert "plain one" in report["before_sdk"]
    assert "done-marker" in report["before_sdk"]
    ticks = [line for line in report["after_connect"] if line.startswith("tick")]
    assert len(ticks) >= 3  # still followed once the SDK connection is up
    every = [line for line in report["all"] if line.startswith(("line ", "tick"))]
    assert len(every) == len(set(every))  # nothing shown twice
