"""Fixtures for integration tests against the real test bed (scripts/testbed/up.sh).

Every test in this folder is marked ``integration``. Without an engine they skip with
a reason; with ``OPSUI_REQUIRE_DOCKER=1`` (CI) such a skip is a failure (tests/conftest.py).

Fixtures:
    docker_client    session  docker.DockerClient on the default engine
    testbed          session  helpers.Testbed: sshd / registry coordinates
    labelled         function DockerResources: labelled containers, networks, volumes,
                              services, all removed at teardown even when the test fails
    make_container   function labelled.container
    swarm            session  docker_client with swarm mode on (left again at session end
                              if this session turned it on)
    second_engine    function a started SecondEngine, cleaned up at teardown
    swarm_bed        session  swarm_bed.SwarmBed: three dockerd as a 3-manager swarm
    swarm_resources  function DockerResources on its node 1 (services removed at teardown)
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .backup_fixtures import any_host, local_host, shop_db  # noqa: F401  (fixtures)
from .helpers import APP_HEALTHY, TEST_LABELS, Testbed, load_testbed, unique_name
from .second_engine import SecondEngine
from .swarm_bed import swarm_bed, swarm_resources  # noqa: F401  (fixtures)

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container
    from docker.models.networks import Network
    from docker.models.services import Service
    from docker.models.volumes import Volume

HERE = Path(__file__).resolve().parent
NO_ENGINE = "no Docker engine: run scripts/testbed/up.sh"

#: Labels every object of this pytest session carries, so the session-end sweep
#: removes leftovers of this session only (other sessions may share the engine).
SESSION_LABEL_KEY = "opsui.test.session"
SESSION_ID = uuid.uuid4().hex[:12]
#: Label naming the DockerResources (one per test) that made an object.
OWNER_LABEL_KEY = "opsui.test.owner"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # This hook sees every item of the session: mark only the ones in this folder.
    for item in items:
        if HERE in item.path.resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[DockerClient]:
    """The default engine (DOCKER_HOST or /var/run/docker.sock); skips if it is not up."""
    try:
        import docker
    except ImportError:
        pytest.skip("docker SDK not installed: pip install -e '.[test]'")
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        pytest.skip(f"{NO_ENGINE} ({exc.__class__.__name__}: {exc})")
    yield client
    _sweep(client, {SESSION_LABEL_KEY: SESSION_ID})
    client.close()


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    """sshd/registry coordinates from OPSUI_TEST_* (or $OPSUI_TEST_STATE/env)."""
    bed = load_testbed()
    if bed is None:
        pytest.skip("test bed not set up (no OPSUI_TEST_* variables): run scripts/testbed/up.sh")
    if not bed.sshd_answers():
        pytest.skip(
            f"test sshd not answering on {bed.ssh_host}:{bed.ssh_port}: run scripts/testbed/up.sh"
        )
    return bed


def _sweep(client: DockerClient, labels: Mapping[str, str]) -> list[str]:
    """Remove services, containers, networks and volumes carrying all of ``labels``."""
    filters: dict[str, Any] = {"label": [f"{k}={v}" for k, v in labels.items()]}
    problems: list[str] = []
    groups: list[tuple[str, Callable[[], list[Any]], Callable[[Any], None]]] = [
        ("container", lambda: client.containers.list(all=True, filters=filters),
         lambda c: c.remove(force=True, v=True)),
        ("network", lambda: client.networks.list(filters=filters), lambda n: n.remove()),
        ("volume", lambda: client.volumes.list(filters=filters), lambda v: v.remove(force=True)),
    ]
    try:
        if client.info()["Swarm"]["LocalNodeState"] == "active":
            groups.insert(0, ("service", lambda: client.services.list(filters=filters),
                              lambda s: s.remove()))
    except Exception as exc:
        problems.append(f"docker info: {exc}")
    for kind, lister, remover in groups:
        try:
            found = lister()
        except Exception as exc:
            problems.append(f"listing {kind}s: {exc}")
            continue
        for obj in found:
            try:
                remover(obj)
            except Exception as exc:
                if "No such" not in str(exc) and "not found" not in str(exc):
                    problems.append(f"removing {kind} {getattr(obj, 'name', obj)}: {exc}")
    return problems


class DockerResources:
    """Makes labelled Docker objects for one test and removes them all afterwards.

    Every object gets ``opsui.test=1`` plus this session's and this tracker's labels
    and a unique ``opsui-t-xxxxxxxx`` name unless one is given. Objects that opsui
    itself creates from a labelled container (a redeploy copying its labels) are
    cleaned up too, because cleanup also sweeps by the owner label.
    """

    def __init__(self, client: DockerClient, prefix: str = "opsui-t") -> None:
        self.client = client
        self.prefix = prefix
        self.owner = uuid.uuid4().hex[:12]
        self._tracked: list[Any] = []

    def labels(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The labels every object of this tracker carries, plus ``extra``."""
        return {
            **TEST_LABELS,
            SESSION_LABEL_KEY: SESSION_ID,
            OWNER_LABEL_KEY: self.owner,
            **(extra or {}),
        }

    def name(self, prefix: str | None = None) -> str:
        return unique_name(prefix or self.prefix)

    def track(self, obj: Any) -> Any:
        """Register an object made elsewhere (e.g. by opsui) for removal at teardown."""
        self._tracked.append(obj)
        return obj

    def container(
        self,
        image: str = APP_HEALTHY,
        command: str | list[str] | None = None,
        *,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        start: bool = True,
        **kwargs: Any,
    ) -> Container:
        """``containers.run`` (detached) or, with start=False, ``containers.create``."""
        kwargs.update(name=name or self.name(), labels=self.labels(labels))
        if start:
            kwargs.setdefault("detach", True)
            ctr = self.client.containers.run(image, command, **kwargs)
        else:
            ctr = self.client.containers.create(image, command, **kwargs)
        self.track(ctr)
        return ctr  # type: ignore[no-any-return]

    def network(
        self, name: str | None = None, *, labels: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Network:
        net = self.client.networks.create(name or self.name(), labels=self.labels(labels), **kwargs)
        self.track(net)
        return net

    def volume(
        self, name: str | None = None, *, labels: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Volume:
        vol = self.client.volumes.create(name or self.name(), labels=self.labels(labels), **kwargs)
        self.track(vol)
        return vol

    def service(
        self,
        image: str,
        command: str | list[str] | None = None,
        *,
        name: str | None = None,
        labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Service:
        """A swarm service (request the ``swarm`` fixture first). Its tasks' containers
        are labelled too, via ``container_labels``."""
        kwargs.setdefault("container_labels", self.labels())
        svc = self.client.services.create(  # type: ignore[no-untyped-call]
            image, command, name=name or self.name(), labels=self.labels(labels), **kwargs
        )
        self.track(svc)
        return svc  # type: ignore[no-any-return]

    def cleanup(self) -> None:
        problems: list[str] = []
        # Tracked objects first (they may lack our labels), newest first, services
        # before containers before networks/volumes so nothing is still in use.
        order = {"Service": 0, "Container": 1, "Network": 2, "Volume": 3}
        for obj in sorted(reversed(self._tracked), key=lambda o: order.get(type(o).__name__, 9)):
            try:
                if type(obj).__name__ == "Container":
                    obj.remove(force=True, v=True)
                elif type(obj).__name__ == "Volume":
                    obj.remove(force=True)
                else:
                    obj.remove()
            except Exception as exc:
                if "No such" not in str(exc) and "not found" not in str(exc):
                    problems.append(f"removing {getattr(obj, 'name', obj)}: {exc}")
        problems += _sweep(self.client, {OWNER_LABEL_KEY: self.owner})
        self._tracked.clear()
        if problems:
            warnings.warn("test cleanup left things behind: " + "; ".join(problems), stacklevel=1)


@pytest.fixture
def labelled(docker_client: DockerClient) -> Iterator[DockerResources]:
    """Factory for labelled containers/networks/volumes/services, removed at teardown."""
    resources = DockerResources(docker_client)
    try:
        yield resources
    finally:
        resources.cleanup()


@pytest.fixture
def make_container(labelled: DockerResources) -> Callable[..., Container]:
    """``make_container(image=APP_HEALTHY, command=None, *, name=None, labels=None,
    start=True, **run_kwargs) -> Container``; removed (force) at teardown."""
    return labelled.container


@pytest.fixture(scope="session")
def swarm(docker_client: DockerClient) -> Iterator[DockerClient]:
    """The default engine in swarm mode (single node, advertising 127.0.0.1)."""
    state = docker_client.info()["Swarm"]["LocalNodeState"]
    marker = Path(os.environ.get("OPSUI_TEST_STATE", "/tmp/opsui-testbed")) / "swarm-initialised"
    initialised = False
    if state != "active":
        docker_client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
        initialised = True
        # Tells scripts/testbed/down.sh the swarm is ours if this session dies early.
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(SESSION_ID + "\n")
    yield docker_client
    if initialised:
        _sweep(docker_client, {SESSION_LABEL_KEY: SESSION_ID})
        docker_client.swarm.leave(force=True)
        marker.unlink(missing_ok=True)


@pytest.fixture
def second_engine() -> Iterator[SecondEngine]:
    """A second dockerd (own socket/data/exec root, no bridge) for fault tests.

    ``engine.url`` is its socket, ``engine.client()`` an SDK client, ``engine.kill()``
    crashes it, ``engine.restart()`` brings it back. Cleaned up at teardown.
    """
    if os.geteuid() != 0:
        pytest.skip("a second Docker engine needs root")
    if shutil.which("dockerd") is None:
        pytest.skip("dockerd not installed: run scripts/testbed/up.sh")
    engine = SecondEngine.create()
    try:
        engine.start()
        yield engine
    finally:
        engine.cleanup()

