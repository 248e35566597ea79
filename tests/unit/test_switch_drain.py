"""Issue 13 in the domain: the order of a switch with drain, replicas, their undo."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import threading
from typing import Any

import pytest

from opsui.config import config_from_data
from opsui.domain.apps import app_matches
from opsui.domain.errors import ActionFailed, ActionRefused, ConfigError
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.deploy import Deployment, plan_deploy
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.operations.recovery import ABORT, FINISH, Recovery, plan_recovery
from opsui.domain.operations.release_run import ReleaseRun, StepEvent
from opsui.domain.operations.replicas import replicas_of
from opsui.domain.operations.traffic import TrafficSettings
from opsui.domain.releases import CANCELLED, FAILED, INTERRUPTED, OK, fold_releases
from opsui.domain.settings import ProxyConfig

from fakes import FakeEngine, FakeHostFiles, container
from fakes.traffic import FakeTraffic

NET = "shop_default"
COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "app"}


def _replica(cid: str, name: str) -> Container:
    return dataclasses.replace(container(cid, name, image="opsui-test/app:1.0.0"),
                               labels=dict(COMPOSE))


def _setup(count: int = 2, proxy: bool = False, drain: float = 0.05
           ) -> tuple[FakeEngine, FakeTraffic, Any]:
    replicas = [_replica(f"a{i}", f"shop_app_{i}") for i in range(1, count + 1)]
    nginx = container("ng", "shop_nginx_1", image="opsui-test/nginx:1")
    engine = FakeEngine([*replicas, nginx])
    engine.add_image("opsui-test/app:2.0.0")
    engine.add_image("opsui-test/app:3.0.0")
    traffic = FakeTraffic(engine)
    for replica in replicas:
        traffic.table[replica.id] = {NET: ("app",)}
    settings = TrafficSettings(drain, ProxyConfig("shop_nginx_1") if proxy else None)

    def plan(tag: str) -> Any:
        current = replicas[0]
        return plan_deploy("local", current, tag, "shop",
                           replicas=replicas_of(current, engine.list_containers()),
                           aliases=traffic.aliases(current.id), traffic=settings)
    return engine, traffic, plan


def _deploy(engine: FakeEngine, traffic: FakeTraffic, plan: Any,
            cancelled: threading.Event | None = None,
            events: list[StepEvent] | None = None) -> str:
    run = ReleaseRun(FakeHostFiles(), "/state", "shop", cancelled=cancelled,
                     report=(events.append if events is not None else None))
    deployment = Deployment(plan, engine, None, run, GateSettings(timeout=5,
                                                                  settle_seconds=0.05),
                            traffic)
    return run.under_lock(plan.version, deployment._locked)


def _serving(engine: FakeEngine) -> dict[str, str]:
    return {c.name: c.image.rsplit(":", 1)[1] for c in engine.list_containers()
            if c.state is ContainerState.RUNNING and c.name.startswith("shop_app_")}


def test_the_plan_lists_every_replica_and_what_a_static_proxy_would_do() -> None:
    _, _, plan = _setup(3)
    deploy = plan("2.0.0")
    assert [c.name for c in deploy.targets] == ["shop_app_1", "shop_app_2", "shop_app_3"]
    assert "drain (shop_app_3)" in deploy.steps
    text = "\n".join(deploy.notes)
    assert "shop_app_2" in text and "shop_app_3" in text
    assert "resolved it once at start" in text and "proxy = " in text


def test_old_leaves_the_aliases_after_the_gate_the_proxy_reloads_once_drain_then_stop(
        ) -> None:
    engine, traffic, plan = _setup(1, proxy=True)
    events: list[StepEvent] = []
    assert _deploy(engine, traffic, plan("2.0.0"), events=events) == OK
    old = "a1".ljust(64, "0")
    ng = "ng".ljust(64, "0")
    new = next(c.id for c in engine.list_containers() if c.name == "shop_app_1")
    order = [call for call in engine.calls if call[0] in ("start", "stop", "aliases ",
                                                          "exec nginx -s reload")]
    # one reload, after the old one left: each reload of nginx closes its idle
    # keep-alive connections, and a reload while the old one held the alias added nothing
    assert order == [("start", new), ("aliases ", old), ("exec nginx -s reload", ng),
                     ("stop", old)]
    assert traffic.aliases(new) == {NET: ("app",)} or new not in traffic.table
    drain = next(e for e in events if e.step == "drain" and e.outcome is None)
    assert drain.expected == 0.05
    assert _serving(engine) == {"shop_app_1": "2.0.0"}


def test_the_plan_shows_one_proxy_reload_per_replica_and_what_it_does_to_clients() -> None:
    _, _, plan = _setup(2, proxy=True)
    deploy = plan("2.0.0")
    reloads = [s for s in deploy.steps if s.startswith("reload proxy")]
    assert reloads == ["reload proxy (shop_app_1)", "reload proxy (shop_app_2)"]
    assert deploy.steps.index("reload proxy (shop_app_1)") == \
        deploy.steps.index("leave aliases (shop_app_1)") + 1
    text = "\n".join(deploy.notes)
    assert "once per container" in text and "keep-alive" in text


def test_every_replica_is_released_one_after_the_other() -> None:
    engine, traffic, plan = _setup(2)
    assert _deploy(engine, traffic, plan("2.0.0")) == OK
    assert _serving(engine) == {"shop_app_1": "2.0.0", "shop_app_2": "2.0.0"}
    stops = [cid for action, cid in engine.calls if action == "stop"]
    assert stops == ["a1".ljust(64, "0"), "a2".ljust(64, "0")]


def test_a_failed_gate_on_the_second_replica_returns_the_first_to_the_old_version() -> None:
    engine, traffic, plan = _setup(2)
    original = engine.create_like
    made: list[str] = []

    def create_like(container_id: str, image: str, name: str,
                    labels: dict[str, str]) -> str:
        new_id = original(container_id, image, name, labels)
        made.append(new_id)
        if len(made) == 2:  # the second replica's new container turns unhealthy
            engine.unhealthy_images.add(engine.containers[new_id].image)
        return new_id

    engine.create_like = create_like  # type: ignore[method-assign]
    assert _deploy(engine, traffic, plan("2.0.0")) == FAILED
    assert _serving(engine) == {"shop_app_1": "1.0.0", "shop_app_2": "1.0.0"}
    assert traffic.aliases("a1".ljust(64, "0")) == {NET: ("app",)}


def test_a_cancel_during_the_drain_finishes_the_switch() -> None:
    engine, traffic, plan = _setup(1, drain=30.0)
    cancelled = threading.Event()
    events: list[StepEvent] = []

    def report(event: StepEvent) -> None:
        events.append(event)
        if event.step == "drain" and event.outcome is None:
            cancelled.set()

    run = ReleaseRun(FakeHostFiles(), "/state", "shop", cancelled=cancelled, report=report)
    deployment = Deployment(plan("2.0.0"), engine, None, run,
                            GateSettings(timeout=5, settle_seconds=0.05), traffic)
    assert run.under_lock("2.0.0", deployment._locked) == OK
    assert _serving(engine) == {"shop_app_1": "2.0.0"}
    kept = [c for c in engine.list_containers() if c.name.startswith("shop_app_1.before-")]
    assert kept and kept[0].state is not ContainerState.RUNNING
    outcome = next(e for e in events if e.step == "outcome")
    assert "cut short" in outcome.detail
    assert outcome.outcome != CANCELLED


class _Killed(BaseException):
    """opsui killed mid-release: no step ends, no outcome is written."""


def test_a_release_killed_during_its_drain_is_rolled_back_with_the_aliases() -> None:
    engine, traffic, plan = _setup(2)
    files = FakeHostFiles()
    deployment_run = ReleaseRun(files, "/state", "shop")
    deployment = Deployment(plan("2.0.0"), engine, None, deployment_run,
                            GateSettings(timeout=5, settle_seconds=0.05), traffic)
    stops = 0

    def stop_timeout(container_id: str) -> int:
        nonlocal stops
        stops += 1
        if stops == 2:  # the second replica drained, then opsui died
            raise _Killed()
        return 10

    traffic.stop_timeout = stop_timeout  # type: ignore[method-assign]
    with contextlib.suppress(_Killed):
        deployment_run.under_lock("2.0.0", deployment._locked)
    assert traffic.aliases("a2".ljust(64, "0")) == {}  # it left them before it died
    release = fold_releases(list(deployment_run.journal.read().records))[-1]
    recovery_plan = plan_recovery("local", "shop", engine, release, None, ABORT)
    recovery = Recovery(recovery_plan, engine, None, ReleaseRun(files, "/state", "shop",
                                                                release_id=release.id),
                        GateSettings(timeout=5, settle_seconds=0.05), traffic)
    assert recovery._abort() == INTERRUPTED
    assert _serving(engine) == {"shop_app_1": "1.0.0", "shop_app_2": "1.0.0"}
    for name in ("shop_app_1", "shop_app_2"):
        serving = next(c for c in engine.list_containers() if c.name == name)
        assert traffic.aliases(serving.id) == {NET: ("app",)}


def test_finishing_half_a_rollout_of_replicas_is_refused() -> None:
    engine, traffic, plan = _setup(2)
    files = FakeHostFiles()
    run = ReleaseRun(files, "/state", "shop")
    deployment = Deployment(plan("2.0.0"), engine, None, run,
                            GateSettings(timeout=5, settle_seconds=0.05), traffic)
    traffic.stop_timeout = lambda container_id: (_ for _ in ()).throw(  # type: ignore
        _Killed())
    with contextlib.suppress(_Killed):
        run.under_lock("2.0.0", deployment._locked)
    release = fold_releases(list(run.journal.read().records))[-1]
    with pytest.raises(ActionRefused, match="half a rollout"):
        plan_recovery("local", "shop", engine, release, None, FINISH)


def test_an_app_of_several_services_releases_them_together() -> None:
    web = _replica("w1", "shop_web_1")
    worker = dataclasses.replace(_replica("k1", "shop_worker_1"), labels={
        "com.docker.compose.project": "shop", "com.docker.compose.service": "worker"})
    web = dataclasses.replace(web, labels={"com.docker.compose.project": "shop",
                                           "com.docker.compose.service": "web"})
    engine = FakeEngine([web, worker])
    engine.add_image("opsui-test/app:2.0.0")
    traffic = FakeTraffic(engine)
    targets = replicas_of(web, engine.list_containers(), ("shop/web", "shop/worker"))
    assert [c.name for c in targets] == ["shop_worker_1"]
    plan = plan_deploy("local", web, "2.0.0", "shop", replicas=targets,
                       traffic=TrafficSettings(0.05))
    files = FakeHostFiles()
    run = ReleaseRun(files, "/state", "shop")
    deployment = Deployment(plan, engine, None, run,
                            GateSettings(timeout=5, settle_seconds=0.05), traffic)
    assert run.under_lock("2.0.0", deployment._locked) == OK
    serving = {c.name: c.image for c in engine.list_containers()
               if c.state is ContainerState.RUNNING}
    assert serving == {"shop_web_1": "opsui-test/app:2.0.0",
                       "shop_worker_1": "opsui-test/app:2.0.0"}
    releases = fold_releases(list(run.journal.read().records))
    assert [(r.version, r.outcome) for r in releases] == [("2.0.0", OK)]  # one release


def test_services_with_different_repositories_are_refused_in_the_plan() -> None:
    web = _replica("w1", "shop_web_1")
    other = dataclasses.replace(_replica("k1", "shop_worker_1"), image="other/worker:1")
    with pytest.raises(ActionRefused, match="one image repository"):
        plan_deploy("local", web, "2.0.0", "shop", replicas=(other,))


def test_services_and_drain_seconds_in_the_config() -> None:
    config = config_from_data("t.toml", {"apps": {"shop": {
        "services": ["shop/web", "shop/worker"], "drain_seconds": 2,
        "proxy": {"container": "shop-nginx-1"}}}})
    app = config.apps[0]
    assert app.services == ("shop/web", "shop/worker") and app.service == "shop/web"
    assert app.deploy.drain_seconds == 2
    assert app.proxy is not None and app.proxy.reload == ("nginx", "-s", "reload")
    worker = dataclasses.replace(container("k1", "shop-worker-1"), compose_project="shop",
                                 compose_service="worker")
    assert app_matches(app, worker)
    for bad, key in (({"services": ["web"]}, "apps.shop.services"),
                     ({"services": ["a/b"], "service": "a/b"}, "apps.shop"),
                     ({"drain_seconds": -1}, "apps.shop.drain_seconds"),
                     ({"proxy": {"reload": ["x"]}}, "apps.shop.proxy.container"),
                     ({"proxy": {"container": "n", "reload": []}}, "apps.shop.proxy.reload")):
        with pytest.raises(ConfigError, match=re.escape(f"'{key}'")):
            config_from_data("t.toml", {"apps": {"shop": bad}})


def test_a_switch_failing_after_the_old_one_stopped_starts_it_again_with_its_aliases(
        ) -> None:
    engine, traffic, plan = _setup(1)
    renames = engine.rename

    def rename(container_id: str, name: str) -> None:
        if name.startswith("shop_app_1.before-"):
            raise ActionFailed("rename: name in use")
        renames(container_id, name)

    engine.rename = rename  # type: ignore[method-assign]
    assert _deploy(engine, traffic, plan("2.0.0")) == FAILED
    old = engine.containers["a1".ljust(64, "0")]
    assert old.state is ContainerState.RUNNING and old.name == "shop_app_1"
    assert traffic.aliases(old.id) == {NET: ("app",)}
    assert _serving(engine) == {"shop_app_1": "1.0.0"}


def test_a_cancel_during_the_first_replicas_drain_returns_it_all_back() -> None:
    engine, traffic, plan = _setup(2, drain=1.0)  # going back drains the new one fully
    cancelled = threading.Event()

    def report(event: StepEvent) -> None:
        if event.step == "drain (shop_app_1)" and event.outcome is None:
            cancelled.set()

    run = ReleaseRun(FakeHostFiles(), "/state", "shop", cancelled=cancelled, report=report)
    deployment = Deployment(plan("2.0.0"), engine, None, run,
                            GateSettings(timeout=5, settle_seconds=0.05), traffic)
    assert run.under_lock("2.0.0", deployment._locked) == CANCELLED
    assert _serving(engine) == {"shop_app_1": "1.0.0", "shop_app_2": "1.0.0"}
    back = next(c for c in engine.list_containers() if c.name == "shop_app_1")
    assert traffic.aliases(back.id) == {NET: ("app",)}
    assert not any(c.name.startswith("shop_app_2.") for c in engine.list_containers())
