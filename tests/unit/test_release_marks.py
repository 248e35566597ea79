"""Which apps the dashboard's compose watch asks about, and what a host it cannot read
turns the marks into (issue 13)."""

from __future__ import annotations

import dataclasses

from opsui.config import AppConfig
from opsui.domain.compose_drift import DRIFTS, UNKNOWN
from opsui.domain.models import Container
from opsui.domain.operations.release_marks import (
    NOT_SERVING,
    REPLACED,
    ReleaseMark,
    released_refs,
    unknown,
)

from fakes import container


def _labelled(cid: str, name: str, app: str) -> Container:
    return dataclasses.replace(container(cid, name), labels={"opsui.app": app})


def test_asks_about_configured_apps_and_opsui_made_containers_once_per_app() -> None:
    listed = [
        container("a1", "shop-web-1", project="shop", service="web"),
        container("b1", "billing-1", project="billing", service="api"),  # compose's own
        _labelled("w2", "web.before-r2", "web"),
        _labelled("w1", "web", "web"),
        _labelled("w3", "web.before-r1", "web"),
        container("z1", "zeta"),
    ]
    apps = [AppConfig("shop", service="shop/web"), AppConfig("gone", service="gone/app"),
            AppConfig("elsewhere", host="prod", service="shop/web")]
    refs = released_refs("local", apps, listed, known=["old-app"])
    assert refs == ["shop", "old-app", "web"]  # the serving container, not three copies


def test_a_host_that_cannot_be_read_turns_marks_into_compose_unknown() -> None:
    marks = {"c1": ReleaseMark("web", "c1", DRIFTS, "compose file says 1.0.0"),
             "c2": ReleaseMark("api", "c2", REPLACED, "release r1 does not serve")}
    all_unknown = unknown(marks, "local: engine gone")
    assert {m.marker for m in all_unknown.values()} == {"compose unknown"}
    assert all(m.text == "local: engine gone" and not m.trouble for m in all_unknown.values())
    only_web = unknown(marks, "web: journal unreadable", "web")
    assert list(only_web) == ["c1"] and only_web["c1"].kind == UNKNOWN


def test_drift_replaced_and_not_serving_are_trouble() -> None:
    def mark(kind: str) -> ReleaseMark:
        return ReleaseMark("web", "c1", kind, "")

    assert [mark(k).trouble for k in (DRIFTS, REPLACED, NOT_SERVING, UNKNOWN)] == [
        True, True, True, False]
    assert mark(DRIFTS).marker == "compose drift" and mark(REPLACED).marker == "replaced"
