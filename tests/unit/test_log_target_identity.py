"""What a log pane follows when releases rename containers, which app it shows (for
D/R/H/K there), and where ``opsui --open TARGET`` lands."""

from __future__ import annotations

from opsui.config import AppConfig
from opsui.domain.app_shown import app_shown
from opsui.domain.logfeed import APP_LABEL, LogTarget, TargetKind
from opsui.domain.models import Container, ContainerState, HostStatus, LinkState
from opsui.ui.open_target import OpenFound, find_open_target
from opsui.ui.state import UiState

KEPT = ".before-r20261207071419-b1b5"


def c(name: str, *, app: str | None = None, state: ContainerState = ContainerState.RUNNING,
      project: str | None = None, service: str | None = None) -> Container:
    return Container(id=f"id-{name}", name=name, image="opsui-test/app:1.0.0", state=state,
                     compose_project=project, compose_service=service,
                     labels={APP_LABEL: app} if app else {})


def test_a_kept_copy_stands_for_its_app_not_for_itself() -> None:
    assert LogTarget.for_container(c(f"web{KEPT}", state=ContainerState.EXITED)) == \
        LogTarget(TargetKind.CONTAINER, ("web",))
    labelled = LogTarget.for_container(c(f"web{KEPT}", app="shop"))
    assert labelled == LogTarget(TargetKind.APP, ("shop",), serving_name="web")


def test_an_app_target_follows_what_serves_never_a_kept_copy() -> None:
    target = LogTarget.for_container(c("web", app="web"))
    assert target.matches(c("web"))  # an adopted container a rollback brought back
    assert target.matches(c("web", app="web"))
    assert not target.matches(c(f"web{KEPT}", app="web", state=ContainerState.EXITED))
    assert not target.matches(c("web.r20261207071419-b1b5", app="web"))  # not switched yet
    assert not target.matches(c("api", app="api"))


def test_services_and_projects_skip_kept_copies_too() -> None:
    service = LogTarget(TargetKind.SERVICE, ("shop/web",))
    project = LogTarget(TargetKind.PROJECT, ("shop",))
    copy = c(f"shop-web-1{KEPT}", project="shop", service="web")
    assert not service.matches(copy) and not project.matches(copy)
    serving = c("shop-web-1", project="shop", service="web")
    assert service.matches(serving) and project.matches(serving)


def test_a_copy_asked_for_by_its_own_name_is_that_copy() -> None:
    copy = c(f"web{KEPT}", app="web", state=ContainerState.EXITED)
    assert LogTarget.parse([copy.name], [copy, c("web", app="web")]) == \
        LogTarget(TargetKind.CONTAINER, (copy.name,))
    assert LogTarget.parse(["app:web"], []) == \
        LogTarget(TargetKind.APP, ("web",), serving_name="web")


def test_the_app_shown_is_one_app_or_none() -> None:
    containers = [c("web", app="web"), c(f"web{KEPT}", app="web"), c("db")]
    shown = app_shown(LogTarget(TargetKind.APP, ("web",), serving_name="web"), containers)
    assert shown.apps == ("web",) and shown.serving is not None
    assert shown.serving.name == "web"
    merged = app_shown(LogTarget(TargetKind.NAMES, ("web", "db")), containers)
    assert merged.apps == ("db", "web") and merged.serving is None
    replicas = [c("shop-web-1", project="shop", service="web"),
                c("shop-web-2", project="shop", service="web")]
    service = LogTarget(TargetKind.SERVICE, ("shop/web",))
    assert app_shown(service, replicas).serving is None  # two ad hoc apps
    configured = [AppConfig("shop", service="shop/web")]
    assert app_shown(service, replicas, configured).apps == ("shop",)


def test_open_waits_for_the_lists_then_finds_or_says_unknown() -> None:
    state = UiState(["local", "prod"])
    state.apply_snapshot("local", [c("web", app="web"), c("db")])
    assert find_open_target("api", state) is None  # prod is still connecting
    found = find_open_target("app:web", state)
    assert isinstance(found, OpenFound) and found.container.name == "web"
    assert found.target.kind is TargetKind.APP and found.host == "local"
    state.apply_status(HostStatus("prod", LinkState.UNREACHABLE))
    unknown = find_open_target("api", state)
    assert isinstance(unknown, str) and "--open api" in unknown and "local, prod" in unknown
