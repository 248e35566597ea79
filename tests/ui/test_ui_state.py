"""The UI state store: what each monitor update changes, and what the widgets redraw."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from opsui.domain.models import ContainerStats, Health, HostStatus, LinkState
from opsui.ui.state import HISTORY_POINTS, UiState

from fakes import NOW, SHOP_APP, SHOP_HEALTH, container, metrics_sample, shop_containers


def test_snapshot_reports_added_changed_and_removed_rows_only() -> None:
    state = UiState(["local"])
    first = shop_containers()
    state.apply_snapshot("local", first)
    changes = state.take_changes()
    assert changes.containers["local"] == {c.id for c in first}

    second = [dataclasses.replace(first[0], health=Health.UNHEALTHY), *first[1:-1],
              container("z1", "new-one")]
    state.apply_snapshot("local", second)
    changes = state.take_changes()
    assert changes.containers["local"] == {first[0].id, second[-1].id}  # unchanged rows skipped
    assert changes.removed["local"] == {first[-1].id}
    assert state.hosts["local"].unhealthy_count == 2


def test_remove_then_readd_in_one_burst_is_a_change_not_a_removal() -> None:
    state = UiState(["local"])
    c = container("a1")
    state.apply_changed("local", c)
    state.take_changes()
    state.apply_removed("local", c.id)
    state.apply_changed("local", c)
    changes = state.take_changes()
    assert changes.containers["local"] == {c.id}
    assert c.id not in changes.removed.get("local", set())


def test_stats_for_unknown_containers_are_dropped_and_removal_clears_stats() -> None:
    state = UiState(["local"])
    c = container("a1")
    state.apply_changed("local", c)
    state.apply_stats("local", [ContainerStats(c.id, 5.0, 1, 2, NOW),
                                ContainerStats("gone", 5.0, 1, 2, NOW)])
    assert set(state.hosts["local"].stats) == {c.id}
    state.apply_removed("local", c.id)
    assert state.hosts["local"].stats == {}


def test_metrics_history_is_bounded() -> None:
    state = UiState(["local"])
    for i in range(HISTORY_POINTS + 15):
        state.apply_metrics("local", metrics_sample(float(i)))
    view = state.hosts["local"]
    assert len(view.cpu) == HISTORY_POINTS
    assert view.cpu[-1] == HISTORY_POINTS + 14


def test_app_health_marks_only_matching_rows() -> None:
    state = UiState(["local"], apps=[SHOP_APP])
    containers = shop_containers()
    state.apply_snapshot("local", containers)
    state.take_changes()
    state.apply_app_health("local", "shop", SHOP_HEALTH)
    touched = state.take_changes().containers["local"]
    assert {c.name for c in containers if c.id in touched} == {"shop-web-1", "shop-web-2"}
    web = containers[0]
    assert state.http_health_for("local", web) == [("shop", SHOP_HEALTH)]
    assert state.http_health_for("local", containers[3]) == []


def test_all_without_engine_needs_every_host() -> None:
    state = UiState(["a", "b"])
    state.apply_status(HostStatus("a", LinkState.NO_ENGINE))
    assert not state.all_without_engine
    state.apply_status(HostStatus("b", LinkState.NO_ENGINE))
    assert state.all_without_engine


def test_a_sample_with_the_same_figures_redraws_nothing_but_is_kept() -> None:
    state = UiState(["local"])
    c = container("a1")
    state.apply_changed("local", c)
    state.take_changes()
    first = ContainerStats(c.id, 0.0, 400 * 1024, 2**30, NOW)
    state.apply_stats("local", [first])
    assert state.take_changes().stats["local"] == {c.id}
    later = dataclasses.replace(first, sampled_at=NOW + timedelta(seconds=3))
    state.apply_stats("local", [later])
    assert not state.take_changes().stats.get("local")  # an idle container: same figures
    assert state.hosts["local"].stats[c.id] is later
    busier = dataclasses.replace(later, cpu_percent=3.5)
    state.apply_stats("local", [busier])
    assert state.take_changes().stats["local"] == {c.id}
