"""A log feed opened on an app keeps following what serves it through a deploy and a
rollback, on the real engine: after each switch a marker says who replaced whom, and the
serving container's lines arrive after it. The kept ``NAME.before-r…`` copy is never
what the feed follows.

The app starts as a plain container (no opsui labels): its first deploy adopts it, and
the rollback makes that unlabelled container serve again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.backends.local import LocalHost
from opsui.config import Config, DeploySettings
from opsui.domain.logbuffer import LineKind
from opsui.domain.logfeed import LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail
from opsui.domain.models import Container, find_container
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.rollback import RollbackPlan
from opsui.domain.releases import OK

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, wait_for_health, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def local() -> Iterator[LocalHost]:
    host = LocalHost("local")
    host.connect()
    yield host
    host.close()


@pytest.fixture
def tails() -> Iterator[Callable[[LocalHost, LogTarget], LogTail]]:
    opened: list[LogTail] = []

    def open_tail(host: LocalHost, target: LogTarget) -> LogTail:
        tail = LogTail(lambda: host.engine, target, LogWindow(tail=None),
                       poll_seconds=0.2).start()
        opened.append(tail)
        return tail

    yield open_tail
    for tail in opened:
        tail.close()


def container_named(host: LocalHost, name: str) -> Container:
    found = find_container(host.engine.list_containers(), name)
    assert found is not None, f"no container {name}"
    return found


def marker_seq(tail: LogTail, text: str) -> int | None:
    """Sequence number of the newest marker containing ``text``."""
    found = [seq for seq, (_, kind, raw) in tail.buffer.entries(0)
             if kind == LineKind.MARKER and text in raw.decode()]
    return found[-1] if found else None


def line_after(tail: LogTail, seq: int, container_id: str, needle: bytes) -> bool:
    """A line of that container (not a marker) containing ``needle``, after ``seq``."""
    sources = {s.index for s in tail.buffer.sources if s.container_id == container_id}
    return any(source in sources and kind != LineKind.MARKER and needle in raw
               for _, (source, kind, raw) in tail.buffer.entries(seq + 1))


def followed_after_marker(tail: LogTail, marker: str, container_id: str,
                          needle: bytes, what: str) -> None:
    wait_until(lambda: marker_seq(tail, marker), timeout=30, message=f"{what}: '{marker}'")
    seq = marker_seq(tail, marker)
    assert seq is not None
    wait_until(lambda: line_after(tail, seq, container_id, needle), timeout=30,
               message=f"{what}: {needle!r} of the serving container after the marker")


def test_a_feed_on_an_app_follows_its_serving_container_through_deploy_and_rollback(
        testbed: Testbed, labelled: DockerResources, docker_client: DockerClient,
        local: LocalHost, tails: Callable[[LocalHost, LogTarget], LogTail],
        tmp_path: Path) -> None:
    image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    docker_client.images.pull(image)
    first = labelled.container(image, ports={"8080/tcp": ("127.0.0.1", None)})
    wait_for_health(first, "healthy")
    name = str(first.name)

    plain = container_named(local, name)
    by_name = LogTarget.for_container(plain)
    assert by_name == LogTarget(TargetKind.CONTAINER, (name,))  # not deployed by opsui yet
    ad_hoc = tails(local, by_name)
    wait_until(lambda: line_after(ad_hoc, -1, plain.id, b"1.0.0 starting"), timeout=20,
               message="the plain container's first line")

    config = Config(deploy=DeploySettings(state_dir=str(tmp_path / "state"), gate_timeout=40.0))
    releases = AppReleases(local.name, local.engine, local.prober, local.files, ActionGate(),
                           config, local.image_tags)
    app = releases.resolve(name)
    assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
    deployed = container_named(local, name)
    labelled.track(docker_client.containers.get(deployed.id))
    followed_after_marker(ad_hoc, f"replaced by {name} (release r", deployed.id,
                          b"2.0.0 starting", "the deploy, followed by name")
    assert marker_seq(ad_hoc, f"renamed to {name}.before-r") is not None

    # The kept copy stands for its app; the new container is the app's (labelled).
    copy = container_named(local, plain.id)
    assert copy.name.startswith(f"{name}.before-r")
    assert LogTarget.for_container(copy) == by_name
    by_app = LogTarget.for_container(deployed)
    assert by_app.kind is TargetKind.APP and by_app.names == (app.name,)
    on_app = tails(local, by_app)
    wait_until(lambda: line_after(on_app, -1, deployed.id, b"2.0.0 starting"), timeout=20,
               message="the app feed's first line")
    assert not line_after(on_app, -1, plain.id, b"1.0.0 starting"), \
        "the app feed showed the kept copy's dead lines"

    plan = releases.plan_rollback(app)
    assert isinstance(plan, RollbackPlan)
    assert plan.target_container is not None and plan.target_container.id == plain.id
    assert releases.rollback(app, plan, True) == OK
    assert container_named(local, name).id == plain.id  # the first container serves again

    for feed, what in ((on_app, "the rollback, followed by app"),
                       (ad_hoc, "the rollback, followed by name")):
        followed_after_marker(feed, f"replaced by {name} (image ", plain.id,
                              b"1.0.0 starting", what)
