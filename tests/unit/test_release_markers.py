"""Deploy/rollback markers in a log tail, from the app's journal."""

from __future__ import annotations

from opsui.domain.errors import HostError
from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail
from opsui.domain.models import ContainerState
from opsui.domain.monitor import wait_for
from opsui.domain.release_markers import ReleaseMarkers
from opsui.domain.releases import Release, Step

from fakes import FakeEngine, shop_containers


def release(rid: str, outcome: str | None = None, reason: str = "") -> Release:
    return Release(rid, "deploy", "shop/web:2.0.0", "sha256:x", "2.0.0", "alice@desk",
                   "2026-12-01T21:00:00+00:00", steps=(Step("pull", "ok", 1.5),),
                   outcome=outcome, reason=reason)


def test_only_what_happens_after_the_first_read_is_marked() -> None:
    journal = [release("r1", "ok")]
    markers = ReleaseMarkers(lambda: list(journal))
    assert markers.poll() == []  # history before the pane opened is not replayed
    journal.append(release("r2"))
    assert markers.poll() == ["deploy r2 of 2.0.0 by alice@desk started"]
    journal[-1] = release("r2", "failed", "Docker's health check says unhealthy\nmore")
    assert markers.poll() == ["deploy r2 of 2.0.0 ended failed (1.5 s): "
                              "Docker's health check says unhealthy"]
    assert markers.poll() == []


def test_a_journal_that_cannot_be_read_does_not_stop_the_tail() -> None:
    engine = FakeEngine(shop_containers())
    running = next(c for c in engine.containers.values() if c.state is ContainerState.RUNNING)
    calls = {"n": 0}
    journal = [release("r1", "ok")]

    def history() -> list[Release]:
        calls["n"] += 1
        if calls["n"] == 2:
            raise HostError("link lost")
        return list(journal)

    tail = LogTail(lambda: engine, LogTarget(TargetKind.CONTAINER, (running.name,)),
                   LogWindow(tail=None), poll_seconds=0.01,
                   markers=ReleaseMarkers(history), marker_seconds=0.01).start()
    try:
        assert wait_for(lambda: calls["n"] >= 3, timeout=5)
        journal.append(release("r2"))

        def marked() -> list[bytes]:
            return [raw for _, (_, kind, raw) in tail.buffer.entries(0)
                    if kind == LineKind.MARKER and b"r2" in raw]

        assert wait_for(lambda: bool(marked()), timeout=5)
    finally:
        tail.close()
    assert b"deploy r2 of 2.0.0 by alice@desk started" in marked()[0]
