"""The log tail against real engines: restarts, replacements, a killed dockerd, a cut
SSH link. Each test compares what the tail collected with ``docker logs -t`` on the
same container: every line the engine kept is there exactly once, in order.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

from opsui.backends.docker_engine import DockerEngine
from opsui.cli.logs import ReconnectingEngine
from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import FeedState, LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail
from opsui.domain.ports import ContainerEngine

from .conftest import DockerResources
from .helpers import (
    APP_HEALTHY,
    APP_HEALTHY_V2,
    Testbed,
    client_ports_to,
    sshd_children_serving,
    wait_until,
)
from .second_engine import SecondEngine

pytestmark = pytest.mark.integration

TICK = {"APP_TICK": "0.05"}


@pytest.fixture
def tails() -> Iterator[Callable[..., LogTail]]:
    opened: list[LogTail] = []

    def open_tail(provider: Callable[[], ContainerEngine], target: LogTarget,
                  **kwargs: object) -> LogTail:
        tail = LogTail(provider, target, LogWindow(tail=None), poll_seconds=0.2,
                       **kwargs).start()  # type: ignore[arg-type]
        opened.append(tail)
        return tail

    yield open_tail
    for tail in opened:
        tail.close()


def lines_of(tail: LogTail, source_id: str) -> list[bytes]:
    """The container's own lines in the tail, with the engine's timestamps."""
    sources = {s.index for s in tail.buffer.sources if s.container_id == source_id}
    return [raw for _, (source, kind, raw) in tail.buffer.entries(0)
            if source in sources and kind != LineKind.MARKER]


def markers(tail: LogTail) -> list[str]:
    return [raw.decode()[31:] for _, (_, kind, raw) in tail.buffer.entries(0)
            if kind == LineKind.MARKER]


def engine_lines(container: Container) -> list[bytes]:
    """``docker logs -t``: what the engine kept (stdout and stderr merged by time)."""
    raw = container.logs(timestamps=True, stdout=True, stderr=True)
    return sorted(line for line in raw.split(b"\n") if line)


def has_line(tail: LogTail, needle: bytes, after: int = 0) -> bool:
    return any(needle in raw for _, (_, _, raw) in tail.buffer.entries(after))


def assert_same_lines(tail: LogTail, container: Container) -> None:
    ours = lines_of(tail, str(container.id))
    assert len(ours) == len(set(ours)), "a line was shown twice"
    assert sorted(ours) == engine_lines(container), "the tail and `docker logs -t` differ"


def test_restart_and_replace_continue_the_same_tail(
        labelled: DockerResources, tails: Callable[..., LogTail]) -> None:
    engine = DockerEngine(labelled.client)
    name = labelled.name()
    first = labelled.container(APP_HEALTHY, name=name, environment=TICK)
    tail = tails(lambda: engine, LogTarget(TargetKind.CONTAINER, (name,)))
    wait_until(lambda: has_line(tail, b"tick 5"), timeout=20, message="the first ticks")
    assert tail.status().state is FeedState.LIVE

    first.restart(timeout=2)
    wait_until(lambda: any("restarted" in m for m in markers(tail)), timeout=20,
               message="a 'restarted' marker")
    mark = tail.buffer.total
    wait_until(lambda: has_line(tail, b"tick 5", after=mark), timeout=20,
               message="ticks of the restarted container")
    assert any(f"{name} exited with code 0" in m for m in markers(tail))
    first.stop(timeout=2)
    wait_until(lambda: tail.status().state is FeedState.STALE, timeout=20,
               message="the badge to say stale")
    assert_same_lines(tail, first)

    first.remove()
    second = labelled.container(APP_HEALTHY_V2, name=name, environment=TICK,
                                labels={"opsui.release": "r2"})
    wait_until(lambda: any("replaced by" in m and "release r2" in m for m in markers(tail)),
               timeout=20, message="a 'replaced by ... release r2' marker")
    wait_until(lambda: has_line(tail, b"opsui test app 2.0.0 starting"), timeout=20,
               message="the new release's first line")
    wait_until(lambda: tail.status().state is FeedState.LIVE, timeout=20, message="live again")
    second.kill()
    wait_until(lambda: any("exited with code 137" in m for m in markers(tail)), timeout=20,
               message="the kill's exit code")
    assert_same_lines(tail, second)


def test_a_killed_engine_is_reconnected_and_nothing_is_lost_or_repeated(
        second_engine: SecondEngine, testbed: Testbed,
        tails: Callable[..., LogTail]) -> None:
    client = second_engine.client()
    image = testbed.registry_ref(APP_HEALTHY)
    client.images.pull(image)
    container = client.containers.run(image, detach=True, environment=TICK,
                                      labels={"opsui.test": "1"},
                                      restart_policy={"Name": "always"})
    try:
        engine = DockerEngine(docker.DockerClient(base_url=second_engine.url, timeout=10))
        tail = tails(lambda: engine, LogTarget(TargetKind.CONTAINER, (str(container.name),)))
        wait_until(lambda: has_line(tail, b"tick 10"), timeout=30, message="the first ticks")

        second_engine.kill()
        wait_until(lambda: tail.status().state is FeedState.RECONNECTING, timeout=20,
                   message="the badge to say reconnecting")
        mark = tail.buffer.total
        second_engine.start()
        wait_until(lambda: has_line(tail, b"tick 10", after=mark), timeout=60,
                   message="ticks after the engine came back")
        assert tail.status().state is FeedState.LIVE
        assert any("lost the engine" in m for m in markers(tail))
        assert any("resumed after" in m for m in markers(tail))
        container.reload()
        container.stop(timeout=2)
        wait_until(lambda: tail.status().state is FeedState.STALE, timeout=20,
                   message="the tail to see the stop")
        assert_same_lines(tail, container)
    finally:
        container.remove(force=True)
        client.close()


def test_a_cut_ssh_link_is_rebuilt_and_the_tail_resumes(
        testbed: Testbed, labelled: DockerResources, tails: Callable[..., LogTail],
        tmp_path: Path) -> None:
    provider = ReconnectingEngine(lambda: testbed.opsui_ssh_host(tmp_path))
    container = labelled.container(APP_HEALTHY, environment=TICK)
    try:
        tail = tails(provider, LogTarget(TargetKind.CONTAINER, (str(container.name),)))
        wait_until(lambda: has_line(tail, b"tick 10"), timeout=30, message="ticks over SSH")

        pid_file = Path(testbed.state_dir / "sshd.pid")
        ours = client_ports_to(testbed.ssh_port, os.getpid())
        for child in sshd_children_serving(pid_file, testbed.ssh_port, ours):
            os.kill(child, signal.SIGKILL)  # the sshd children serving this test only
        wait_until(lambda: any("resumed after" in m for m in markers(tail)), timeout=30,
                   message="the stream to be resumed on a new link")
        mark = tail.buffer.total
        wait_until(lambda: has_line(tail, b"tick", after=mark)
                   and tail.status().state is FeedState.LIVE, timeout=60,
                   message="ticks after the link was rebuilt")
        container.stop(timeout=2)
        wait_until(lambda: tail.status().state is FeedState.STALE, timeout=20,
                   message="the tail to see the stop")
        assert_same_lines(tail, container)
    finally:
        provider.close()


def test_the_chunked_http11_path_reads_the_same_lines(
        labelled: DockerResources, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engines reached over TCP take requests' HTTP/1.1 path (one chunk per line)."""
    engine = DockerEngine(labelled.client)
    monkeypatch.setattr(engine, "_plain_address", None)  # not the socket of its own
    monkeypatch.setattr(engine, "_plain_pool", lambda url: None)
    container = labelled.container(APP_HEALTHY, ["-c", "seq 1 5000; echo oops >&2"],
                                   entrypoint=["/bin/sh"])
    container.wait()
    tail = LogTail(lambda: engine, LogTarget(TargetKind.CONTAINER, (str(container.name),)),
                   LogWindow(tail=None), follow=False).start()
    assert tail.wait_closed(30)
    assert_same_lines(tail, container)
    assert tail.status().state is FeedState.ENDED
