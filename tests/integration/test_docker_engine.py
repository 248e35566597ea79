"""DockerEngine against a real engine and the test bed's images (scripts/testbed/up.sh).

Every container made here carries ``opsui.test=1`` and a unique name, and is removed
by the fixture even when the test fails. Waiting is always poll-with-deadline.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import docker
import docker.errors
import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.docker_engine import DockerEngine, connect_local
from opsui.domain.errors import ActionFailed, ContainerGone
from opsui.domain.models import ContainerEvent, ContainerState, EventKind, Health

pytestmark = pytest.mark.integration

APP = "opsui-test/app:1.0.0"  # healthy: httpd on 8080, /api/health with database + cache
APP_UNHEALTHY = "opsui-test/app:3.0.0"  # health check never passes
APP_CRASH = "opsui-test/app:4.0.0"  # exits with code 3 at once
TEST_LABEL = {"opsui.test": "1"}
# The images' own check (wget -T) segfaults in busybox-static; this one judges the same
# served body without -T, and every 0.5 s so tests wait less.
HTTP_CHECK = {
    "test": ["CMD-SHELL", "body=$(wget -q -O- http://127.0.0.1:8080/api/health 2>&1); "
             "case \"$body\" in *'\"status\":\"ok\"'*) echo \"$body\"; exit 0;; esac; "
             "echo \"health: database unreachable ($body)\"; exit 1"],
    "interval": 500_000_000,
    "timeout": 2_000_000_000,
    "retries": 2,
}
_T = TypeVar("_T")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# Local stand-ins for tests/integration/conftest.py and helpers.py, which did not exist
# yet when this module was written; same names and intent, so they can be dropped then.


def wait_for(
    fetch: Callable[[], _T],
    until: Callable[[_T], object],
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "",
) -> _T:
    """Fetch until ``until(value)`` holds and return that value; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}; last: {value!r}")
        time.sleep(interval)


def wait_until(
    condition: Callable[[], object], timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` at the deadline."""
    wait_for(condition, bool, timeout, interval, what)


@pytest.fixture(scope="module")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine ({exc}); run scripts/testbed/up.sh")
    for image in (APP, APP_UNHEALTHY, APP_CRASH):
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            pytest.skip(f"test image {image} missing; run scripts/testbed/up.sh")
    yield client
    client.close()


@pytest.fixture
def make_container(docker_client: docker.DockerClient) -> Iterator[Callable[..., DockerContainer]]:
    made: list[DockerContainer] = []

    def make(image: str = APP, start: bool = True, **kwargs: Any) -> DockerContainer:
        labels = {**TEST_LABEL, **kwargs.pop("labels", {})}
        kwargs.setdefault("healthcheck", HTTP_CHECK)
        name = kwargs.pop("name", f"opsui-test-{uuid.uuid4().hex[:10]}")
        container = docker_client.containers.create(image, name=name, labels=labels, **kwargs)
        made.append(container)
        if start:
            container.start()
        return container

    yield make
    for container in made:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


@pytest.fixture
def engine(docker_client: docker.DockerClient) -> Iterator[DockerEngine]:
    engine = DockerEngine(connect_local(None))
    yield engine
    engine.close()


def _id(container: DockerContainer) -> str:
    assert container.id is not None
    return container.id


def _row(engine: DockerEngine, container_id: str) -> Any:
    return next((c for c in engine.list_containers() if c.id == container_id), None)


def _inert(text: str) -> bool:
    return "\x1b" not in text and not _CONTROLS.search(text.replace("\n", ""))


def test_ping(engine: DockerEngine) -> None:
    assert 0 < engine.ping() < 5000


def test_list_shows_container_with_health(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP, labels={"com.docker.compose.project": "shop",
                                       "com.docker.compose.service": "web"})
    row = wait_for(
        lambda: _row(engine, _id(made)),
        lambda r: r is not None and r.health is Health.HEALTHY,
        what="the container to be listed as healthy",
    )
    assert row is not None
    assert row.name == made.name
    assert row.image == APP
    assert row.state is ContainerState.RUNNING
    assert "(healthy)" in row.status_text
    assert (row.compose_project, row.compose_service) == ("shop", "web")
    assert row.labels["opsui.test"] == "1"
    assert row.restart_count is None
    reread = engine.get_container(_id(made))
    assert reread is not None
    assert reread.health is Health.HEALTHY and reread.restart_count == 0
    assert reread.started_at is not None and reread.status_text.startswith("Up ")


def test_list_is_one_round_trip_whatever_the_count(
    engine: DockerEngine,
    make_container: Callable[..., DockerContainer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = {make_container(APP, start=False).id for _ in range(10)}
    sent: list[str] = []
    send = engine._api.send

    def counting_send(request: Any, **kwargs: Any) -> Any:
        sent.append(request.url)
        return send(request, **kwargs)

    monkeypatch.setattr(engine._api, "send", counting_send)
    started = time.perf_counter()
    rows = engine.list_containers()
    elapsed = time.perf_counter() - started
    assert made <= {r.id for r in rows}
    assert len(sent) == 1 and "/containers/json" in sent[0]
    assert elapsed < 1.0


def test_unhealthy_detail_has_failing_health_log(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP_UNHEALTHY, environment={"DB_PASSWORD": "hunter2",
                                                      "DATABASE_URL": "postgres://u:pw@db/x"})
    detail = wait_for(
        lambda: engine.inspect(_id(made)),
        lambda d: d.container.health is Health.UNHEALTHY,
        what="the container to turn unhealthy",
    )
    failing = [e for e in detail.health_log if e.exit_code != 0]
    assert failing, detail.health_log
    assert "database unreachable" in failing[-1].output
    assert failing[-1].started_at is not None and failing[-1].ended_at is not None
    assert detail.health_failing_streak >= 1
    env = dict(detail.env)
    assert env["DB_PASSWORD"] == "••••••"
    assert env["DATABASE_URL"] == "postgres://u:••••••@db/x"
    assert detail.image_id.startswith("sha256:")
    assert detail.restart_policy == "no"
    assert detail.command == "/app/start.sh"
    assert [n.name for n in detail.networks] == ["bridge"]


def test_hostile_labels_env_and_health_output_are_sanitised(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    hostile = "\x1b]0;pwn\x07[@click=app.quit]\x1b[2J\u009b31m\x1bc"
    made = make_container(
        APP,
        labels={"evil": hostile, "com.docker.compose.project": hostile},
        environment={"GREETING": hostile},
        healthcheck={"test": ["CMD-SHELL", r"printf '\033]0;pwn\007\033[2Jok\n'; exit 1"],
                     "interval": 500_000_000, "retries": 1},
    )
    row = wait_for(lambda: _row(engine, _id(made)), bool, what="the container to be listed")
    assert row is not None
    assert row.labels["evil"] and _inert(row.labels["evil"])
    assert row.compose_project and _inert(row.compose_project)
    assert "[@click=app.quit]" in row.labels["evil"]  # data, never markup
    detail = wait_for(
        lambda: engine.inspect(_id(made)), lambda d: d.health_log, what="a health check run"
    )
    texts = [detail.container.name, detail.command, *(t for p in detail.env for t in p),
             *(t for p in detail.labels for t in p), *(e.output for e in detail.health_log)]
    assert all(_inert(t) for t in texts), texts
    assert "ok" in detail.health_log[-1].output


def _collect(stream: Any, sink: queue.Queue[ContainerEvent | None]) -> threading.Thread:
    def run() -> None:
        try:
            for event in stream:
                sink.put(event)
        finally:
            sink.put(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_events_stream_changes_and_removal_then_close_ends_it(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    stream = engine.events()
    sink: queue.Queue[ContainerEvent | None] = queue.Queue()
    thread = _collect(stream, sink)
    try:
        made = make_container(APP, start=False)
        made.start()
        made.stop(timeout=1)
        made.remove(force=True)
        seen: list[ContainerEvent] = []

        def saw_destroy() -> bool:
            while not sink.empty():
                event = sink.get_nowait()
                assert event is not None, "stream ended before close()"
                if event.container_id == _id(made):
                    seen.append(event)
            return any(e.kind is EventKind.REMOVED for e in seen)

        wait_until(saw_destroy, timeout=15, what="the destroy event")
        actions = [e.action for e in seen]
        kinds = {e.action: e.kind for e in seen}
        for action in ("create", "start", "stop", "die"):
            assert kinds.get(action) is EventKind.CHANGED, actions
        assert kinds["destroy"] is EventKind.REMOVED
        assert actions.index("start") < actions.index("stop") < actions.index("destroy")
        assert all(e.time is not None for e in seen)
    finally:
        closed_at = time.monotonic()
        stream.close()
        thread.join(timeout=5)
    assert not thread.is_alive(), "close() did not end the iteration"
    assert time.monotonic() - closed_at < 2.0


def test_close_ends_an_idle_stream_promptly(engine: DockerEngine) -> None:
    stream = engine.events()
    sink: queue.Queue[ContainerEvent | None] = queue.Queue()
    thread = _collect(stream, sink)
    wait_until(lambda: thread.is_alive(), what="the reader thread")
    stream.close()
    thread.join(timeout=3)
    assert not thread.is_alive()
    stream.close()  # twice is harmless


def test_exec_events_are_ignored(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP)
    stream = engine.events()
    sink: queue.Queue[ContainerEvent | None] = queue.Queue()
    thread = _collect(stream, sink)
    try:
        made.exec_run(["true"])
        made.pause()
        made.unpause()
        got: list[ContainerEvent] = []

        def saw_unpause() -> bool:
            while not sink.empty():
                event = sink.get_nowait()
                if event is not None and event.container_id == _id(made):
                    got.append(event)
            return any(e.action == "unpause" for e in got)

        wait_until(saw_unpause, timeout=15, what="the unpause event")
        assert not [e for e in got if e.action.startswith("exec")], got
        assert [e.action for e in got if e.action in ("pause", "unpause")] == ["pause", "unpause"]
    finally:
        stream.close()
        thread.join(timeout=5)


@pytest.mark.parametrize("feeds", [48, 0], ids=["feed", "one-shot"])
def test_stats_of_busy_container(
    docker_client: docker.DockerClient,
    make_container: Callable[..., DockerContainer],
    feeds: int,
) -> None:
    engine = DockerEngine(connect_local(None), max_stats_feeds=feeds)
    try:
        made = make_container(APP, command=["sh", "-c", "while :; do :; done"])
        assert engine.stats(_id(made)) is not None
        sample = wait_for(
            lambda: engine.stats(_id(made)),
            lambda s: s is not None and s.cpu_percent > 20,
            timeout=20, interval=0.5, what="a busy CPU sample",
        )
        assert sample is not None
        cpus = os.cpu_count() or 1
        assert sample.cpu_percent <= 100.0 * cpus + 5
        assert 0 < sample.memory_bytes <= sample.memory_limit_bytes
        assert sample.container_id == _id(made)
    finally:
        engine.close()


def test_stats_is_none_when_not_running_or_gone(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP, start=False)
    assert engine.stats(_id(made)) is None
    assert engine.stats("opsui-no-such-container") is None
    running = make_container(APP)
    assert engine.stats(_id(running)) is not None
    running.stop(timeout=1)
    wait_until(lambda: engine.stats(_id(running)) is None, timeout=10,
               what="stats to stop once the container stopped")


def test_stats_after_the_first_return_at_once(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP)
    assert engine.stats(_id(made)) is not None  # waits for the engine's next 1 s tick
    started = time.perf_counter()
    for _ in range(5):
        assert engine.stats(_id(made)) is not None
    assert time.perf_counter() - started < 0.2


@pytest.mark.parametrize("feeds", [48, 0], ids=["feed", "one-shot"])
def test_stats_many_overlaps_the_first_waits(
    docker_client: docker.DockerClient,
    make_container: Callable[..., DockerContainer],
    feeds: int,
) -> None:
    engine = DockerEngine(connect_local(None), max_stats_feeds=feeds)
    try:
        made = [make_container(APP) for _ in range(6)]
        stopped = make_container(APP, start=False)
        started = time.perf_counter()
        samples = engine.stats_many([_id(c) for c in made] + [_id(stopped), _id(made[0])])
        assert time.perf_counter() - started < 2.5  # about one tick, not six
        assert set(samples) == {_id(c) for c in made}
    finally:
        engine.close()


def _feed_threads(container_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"opsui-stats-{container_id[:12]}"]


def test_stats_feed_closes_itself_when_nobody_asks(
    docker_client: docker.DockerClient, make_container: Callable[..., DockerContainer]
) -> None:
    engine = DockerEngine(connect_local(None), stats_idle_seconds=0.5)
    try:
        made = make_container(APP)
        assert engine.stats(_id(made)) is not None
        wait_until(lambda: not _feed_threads(_id(made)), timeout=10,
                   what="the idle feed to close itself")
        assert engine.stats(_id(made)) is not None  # and a new one opens on demand
    finally:
        engine.close()


def test_engine_close_ends_stats_feeds(
    docker_client: docker.DockerClient, make_container: Callable[..., DockerContainer]
) -> None:
    engine = DockerEngine(connect_local(None))
    made = make_container(APP)
    try:
        assert engine.stats(_id(made)) is not None
        assert _feed_threads(_id(made))
    finally:
        engine.close()
    wait_until(lambda: not _feed_threads(_id(made)), timeout=3, what="close() to end the feed")


def test_restart_gives_a_new_start_and_policy_restarts_are_counted(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP)
    before = engine.get_container(_id(made))
    assert before is not None and before.started_at is not None
    engine.restart(_id(made), timeout=1)
    after = engine.get_container(_id(made))
    assert after is not None and after.started_at is not None
    assert after.state is ContainerState.RUNNING
    assert after.started_at > before.started_at
    # Docker counts only restarts made by the restart policy, not `docker restart`.
    crashing = make_container(APP_CRASH, restart_policy={"Name": "on-failure",
                                                         "MaximumRetryCount": 2})
    counted = wait_for(
        lambda: engine.get_container(_id(crashing)),
        lambda c: c is not None and (c.restart_count or 0) >= 1,
        what="the restart policy to restart the crashing container",
    )
    assert counted is not None and (counted.restart_count or 0) >= 1


def test_exit_code_of_crashed_container(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP_CRASH)
    row = wait_for(
        lambda: _row(engine, _id(made)),
        lambda r: r is not None and r.state is ContainerState.EXITED,
        what="the crash",
    )
    assert row is not None
    assert row.exit_code == 3
    reread = engine.get_container(_id(made))
    assert reread is not None and reread.exit_code == 3
    assert reread.status_text.startswith("Exited (3)")


def test_start_stop_and_errors(
    engine: DockerEngine, make_container: Callable[..., DockerContainer]
) -> None:
    made = make_container(APP, start=False)
    engine.start(_id(made))
    assert (c := engine.get_container(_id(made))) is not None and c.state is ContainerState.RUNNING
    engine.stop(_id(made), timeout=1)
    assert (c := engine.get_container(_id(made))) is not None and c.state is ContainerState.EXITED
    broken = make_container(APP, start=False, command=["/no/such/binary"])
    with pytest.raises(ActionFailed) as failed:
        engine.start(_id(broken))
    assert "no such file" in str(failed.value).lower()
    with pytest.raises(ContainerGone):
        engine.stop("opsui-no-such-container")
    with pytest.raises(ContainerGone):
        engine.restart("opsui-no-such-container")
    with pytest.raises(ContainerGone):
        engine.inspect("opsui-no-such-container")
    assert engine.get_container("opsui-no-such-container") is None
