"""Two compose projects on one host with the same service names (``shop`` and
``shop-staging``, each with ``app``): ``[apps.shop] service = "shop/app"`` is only ever
``shop``'s, even when a ``shop-staging`` container, serving or kept for rollback,
carries ``opsui.app=shop`` (issue 13, leftover). Its deploys, rollbacks, replicas,
drains and retention follow :meth:`AppSpec.owns`; the dashboard folds kept copies
with :func:`serving_for` and names apps with :func:`app_name`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsui.config import AppConfig, Config, DeploySettings
from opsui.domain.app_shown import app_name
from opsui.domain.apps import serving_for
from opsui.domain.logfeed import APP_LABEL
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.app_spec import AppSpec, resolve_app
from opsui.domain.operations.health_gate import GateSettings
from opsui.domain.operations.retention import prune_candidates
from opsui.domain.release_copies import hide_compose_labels

T0 = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
SHOP = AppConfig("shop", service="shop/app")
RUNNING, EXITED = ContainerState.RUNNING, ContainerState.EXITED


def live(cid: str, project: str, minutes: int = 0, state: ContainerState = RUNNING,
         name: str = "") -> Container:
    """A container of compose ``project``'s ``app`` that a release labelled ``shop``."""
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": "app",
              APP_LABEL: "shop"}
    return Container(cid, name or f"{project}-app-1", "shop:2", state,
                     created_at=T0 + timedelta(minutes=minutes), compose_project=project,
                     compose_service="app", labels=labels)


def kept(cid: str, project: str, minutes: int = 0) -> Container:
    """A kept release copy of ``project``'s app: compose labels hidden, stopped."""
    labels = hide_compose_labels({"com.docker.compose.project": project,
                                  "com.docker.compose.service": "app"}, f"orig-{cid}")
    labels[APP_LABEL] = "shop"
    return Container(cid, f"{project}-app-1.before-r2026120120000{minutes}-abcd", "shop:1",
                     EXITED, created_at=T0 + timedelta(minutes=minutes), labels=labels)


def spec(app: AppConfig = SHOP) -> AppSpec:
    return AppSpec(app.name, "local", DeploySettings(), GateSettings(), config=app)


def test_a_compose_app_owns_its_projects_containers_live_and_kept_ad_hoc_by_label() -> None:
    app = spec()
    assert app.owns(live("s1", "shop")) and app.owns(kept("k1", "shop"))
    assert not app.owns(live("t1", "shop-staging"))  # same service name, same label
    assert not app.owns(kept("k2", "shop-staging"))  # not shop's rollback target
    several = spec(AppConfig("shop", service="shop/web", services=("shop/web", "shop/app")))
    assert several.owns(live("s1", "shop")) and several.owns(kept("k1", "shop"))
    assert not several.owns(live("t1", "shop-staging"))
    adhoc = AppSpec("shop", "local", DeploySettings(), GateSettings())  # as before: label
    assert adhoc.owns(live("t1", "shop-staging")) and adhoc.owns(kept("k2", "shop-staging"))
    assert spec(AppConfig("shop", container="ux-shop")).owns(live("t1", "shop-staging"))


def test_the_serving_container_is_the_declared_projects_whichever_is_listed_first() -> None:
    staging, shop = live("t1", "shop-staging", 5), live("s1", "shop", 0)
    assert spec().serving([staging, shop]) == shop
    assert spec().serving([staging, kept("k2", "shop-staging")]) is None


def test_retention_never_prunes_the_other_projects_kept_copies() -> None:
    mine = [kept(f"k{i}", "shop", i) for i in range(3)]
    theirs = [kept(f"x{i}", "shop-staging", i) for i in range(3)]
    containers = [live("s1", "shop"), *theirs, *mine, live("t1", "shop-staging")]
    doomed = prune_candidates(spec(), containers, [], retain=1, protected={"s1"})
    assert [c.id for c in doomed] == ["k0", "k1"]


def test_a_container_of_the_other_project_resolves_to_its_own_app_not_the_namesake() -> None:
    config = Config(apps=(SHOP,))
    shop, staging = live("s1", "shop"), live("t1", "shop-staging")
    containers = [staging, shop]
    assert resolve_app(config, "local", shop.name, containers).name == "shop"
    other = resolve_app(config, "local", staging.name, containers)
    assert other.name == "shop-staging-app-1" and other.config is None
    assert other.serving(containers) == staging
    copy = kept("k2", "shop-staging")
    assert resolve_app(config, "local", copy.name, [*containers, copy]).name != "shop"
    mine = kept("k1", "shop")
    assert resolve_app(config, "local", mine.name, [*containers, mine]).name == "shop"


def test_a_kept_copy_folds_under_its_own_projects_container_and_is_named_so() -> None:
    shop, staging = live("s1", "shop"), live("t1", "shop-staging")
    theirs, mine = kept("k2", "shop-staging"), kept("k1", "shop")
    assert serving_for(theirs, [shop, staging, theirs, mine]) == staging
    assert serving_for(mine, [staging, shop, theirs, mine]) == shop
    assert serving_for(theirs, [shop, theirs]) is None  # staging's app serves nowhere now
    assert app_name(mine, [SHOP]) == "shop"
    assert app_name(theirs, [SHOP]) == "shop-staging-app-1"
    assert app_name(staging, [SHOP]) == "shop-staging-app-1"
    assert app_name(theirs, []) == "shop"  # no config: the label is all there is
