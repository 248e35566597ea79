"""Which container serves an app once a release kept its old one aside, and what counts
as trouble: the rules behind the dashboard's folded rows, cursor and ``t`` key."""

from __future__ import annotations

from opsui.domain.apps import app_of, base_name, in_trouble, is_release_copy, serving_for
from opsui.domain.models import Container, ContainerState, Health

KEPT = "ux-shop.before-r20261201123456-abcd"


def _c(cid: str, name: str, state: ContainerState = ContainerState.RUNNING,
       health: Health = Health.NONE, exit_code: int | None = None,
       app: str | None = None) -> Container:
    return Container(cid, name, "shop:1", state, health, exit_code=exit_code,
                     labels={"opsui.app": app} if app else {})


def test_a_kept_copy_belongs_to_its_label_or_its_base_name() -> None:
    assert is_release_copy(KEPT) and is_release_copy("web.r20261201123456-abcd")
    assert not is_release_copy("web.before") and not is_release_copy("web-r1")
    assert base_name(KEPT) == "ux-shop"
    assert app_of(_c("k", KEPT, app="shop")) == "shop"
    assert app_of(_c("k", KEPT)) == "ux-shop"


def test_the_serving_container_is_running_and_never_another_copy() -> None:
    kept = _c("k", KEPT, ContainerState.EXITED, exit_code=0)
    stopped = _c("s", "ux-shop", ContainerState.EXITED, exit_code=0)
    gated = _c("g", "ux-shop.r20261201123500-beef")
    running = _c("r", "shop-web", app="ux-shop")
    assert serving_for(kept, [kept, gated]) is None  # the new one has not taken the name
    assert serving_for(kept, [kept, gated, stopped]) == stopped
    assert serving_for(kept, [kept, stopped, running]) == running


def test_trouble_is_unhealthy_restarting_dead_or_an_error_exit_never_a_kept_copy() -> None:
    assert in_trouble(_c("a", "a", health=Health.UNHEALTHY))
    assert in_trouble(_c("b", "b", ContainerState.RESTARTING))
    assert in_trouble(_c("c", "c", ContainerState.DEAD))
    assert in_trouble(_c("d", "d", ContainerState.EXITED, exit_code=137))
    assert not in_trouble(_c("e", "e", ContainerState.EXITED, exit_code=0))
    assert not in_trouble(_c("f", "f", health=Health.STARTING))
    assert not in_trouble(_c("k", KEPT, ContainerState.EXITED, Health.UNHEALTHY, 137))
