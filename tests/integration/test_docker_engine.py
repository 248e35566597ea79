"""DockerEngine against a real engine and the test bed's images (scripts/testbed/up.sh).

Containers come from the ``make_container`` fixture (labelled ``opsui.test=1``, unique
names, removed even when a test fails). Waiting is always poll-with-deadline.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import docker
import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.docker_engine import DockerEngine, connect_local
from opsui.domain.errors import ActionFailed, ContainerGone
from opsui.domain.models import ContainerEvent, ContainerState, EventKind, Health

from .helpers import APP_CRASHING, APP_HEALTHY, APP_UNHEALTHY, wait_until

pytestmark = pytest.mark.integration

APP = APP_HEALTHY  # httpd on 8080, /api/health with database + cache, becomes healthy
T = TypeVar("T")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def wait_for(
    fetch: Callable[[], T],
    until: Callable[[T], object],
    timeout: float = 30.0,
    interval: float = 0.2,
    what: str = "",
) -> T:
    """helpers.wait_until for checks that need the value back, typed for mypy."""
    latest: list[T] = []

    def check() -> bool:
        latest[:] = [fetch()]
        return bool(until(latest[0]))

    wait_until(check, timeout, interval, message=what)
    return latest[0]


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


def record_requests(engine: DockerEngine, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the URL of every HTTP request the engine's client sends."""
    sent: list[str] = []
    send = engine._api.send

    def counting_send(request: Any, **kwargs: Any) -> Any:
        sent.append(request.url)
        return send(request, **kwargs)

    monkeypatch.setattr(engine._api, "send", counting_send)
    return sent


def test_list_is_one_round_trip_whatever_the_count(
    engine: DockerEngine,
    make_container: Callable[..., DockerContainer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = {make_container(APP, start=False).id for _ in range(10)}
    sent = record_requests(engine, monkeypatch)
    rows = engine.list_containers()
    assert made <= {r.id for r in rows}
    assert len(sent) == 1 and "/containers/json" in sent[0]


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

        wait_until(saw_destroy, timeout=15, message="the destroy event")
        actions = [e.action for e in seen]
        kinds = {e.action: e.kind for e in seen}
        for action in ("create", "start", "stop", "die"):
            assert kinds.get(action) is EventKind.CHANGED, actions
        assert kinds["destroy"] is EventKind.REMOVED
        assert actions.index("start") < actions.index("stop") < actions.index("destroy")
        assert all(e.time is not None for e in seen)
    finally:
        stream.close()
        thread.join(timeout=5)
    assert not thread.is_alive(), "close() did not end the iteration"


def test_close_ends_an_idle_stream_promptly(engine: DockerEngine) -> None:
    stream = engine.events()
    sink: queue.Queue[ContainerEvent | None] = queue.Queue()
    thread = _collect(stream, sink)
    wait_until(lambda: thread.is_alive(), message="the reader thread")
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

        wait_until(saw_unpause, timeout=15, message="the unpause event")
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
               message="stats to stop once the container stopped")


def test_stats_after_the_first_come_from_the_feed_without_new_requests(
    engine: DockerEngine,
    make_container: Callable[..., DockerContainer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = make_container(APP)
    assert engine.stats(_id(made)) is not None  # opens the feed; waits for one tick
    sent = record_requests(engine, monkeypatch)
    for _ in range(5):
        assert engine.stats(_id(made)) is not None
    assert sent == []


@pytest.mark.parametrize("feeds", [48, 0], ids=["feed", "one-shot"])
def test_stats_many_samples_each_running_container_once(
    docker_client: docker.DockerClient,
    make_container: Callable[..., DockerContainer],
    feeds: int,
) -> None:
    engine = DockerEngine(connect_local(None), max_stats_feeds=feeds)
    try:
        made = [make_container(APP) for _ in range(6)]
        stopped = make_container(APP, start=False)
        samples = engine.stats_many([_id(c) for c in made] + [_id(stopped), _id(made[0])])
        assert set(samples) == {_id(c) for c in made}
    finally:
        engine.close()


def _feed_open(engine: DockerEngine, container_id: str) -> bool:
    """The engine holds an open stats stream (its own connection) for the container."""
    feed = engine._feeds.get(container_id)
    return feed is not None and feed._sock.fileno() != -1


def test_stats_feed_closes_when_nobody_asks(
    docker_client: docker.DockerClient, make_container: Callable[..., DockerContainer]
) -> None:
    engine = DockerEngine(connect_local(None), stats_idle_seconds=0.5)
    try:
        made = make_container(APP)
        assert engine.stats(_id(made)) is not None
        assert _feed_open(engine, _id(made))
        wait_until(lambda: not (engine.stats_many([]) or _feed_open(engine, _id(made))),
                   timeout=10, message="the idle feed to be closed at the next round")
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
        feed = engine._feeds[_id(made)]
        assert _feed_open(engine, _id(made))
    finally:
        engine.close()
    assert feed._sock.fileno() == -1, "close() left the feed's connection open"


def test_stats_feeds_hold_no_thread_per_row(
    docker_client: docker.DockerClient, make_container: Callable[..., DockerContainer]
) -> None:
    """Rows on screen cost a connection each and no thread woken by every frame (issue
    14: those wake-ups were the largest share of an idle dashboard's CPU), and repeated
    rounds still bring fresh samples of each."""
    engine = DockerEngine(connect_local(None))
    try:
        made = [_id(make_container(APP)) for _ in range(4)]
        first = engine.stats_many(made)
        assert set(first) == set(made)
        assert not [t for t in threading.enumerate() if t.name.startswith("opsui-stats-")
                    and t.name.removeprefix("opsui-stats-") in {m[:12] for m in made}]
        assert all(_feed_open(engine, cid) for cid in made)

        def all_newer() -> bool:
            later = engine.stats_many(made)
            return set(later) == set(made) and all(
                later[cid].sampled_at > first[cid].sampled_at for cid in made)

        wait_until(all_newer, timeout=10, message="newer samples from the same feeds")
    finally:
        engine.close()


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
    crashing = make_container(APP_CRASHING, restart_policy={"Name": "on-failure",
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
    made = make_container(APP_CRASHING)
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
