"""The dashboard says when compose drifts from what opsui released, or replaced it (issue 13).

A real deploy (the release domain over the fake engine and the host's journal in
memory) makes shop-web-1 2.0.0 while its compose file still says 1.0.0. Compose on the
host is a fake (:class:`FakeCompose`): what it answers is what ``config --hash`` and
``config`` would say. The dashboard's compose watch is the real one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import pytest
from textual.pilot import Pilot

from opsui.config import Config
from opsui.domain.compose_project import (
    CONFIG_FILES_LABEL,
    CONFIG_HASH_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    WORKING_DIR_LABEL,
    ComposeProject,
)
from opsui.domain.errors import ActionFailed, HostUnreachable
from opsui.domain.models import Container
from opsui.domain.monitor import HostMonitor, MonitorListener
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection
from opsui.domain.releases import OK
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.release_watch import ReleaseWatch

from .helpers import NO_USER_THEMES, screen_text, until
from fakes import FAST, NOW, FakeConnection, FakeEngine, container, frozen_clock

APP = "opsui-test/app"
FILE_IMAGE = f"{APP}:1.0.0"
LONG = "shop-" + "very-long-service-name-" * 6 + "1"


class FakeCompose:
    """Compose on the host: the service's config hash and image as its file says."""

    def __init__(self) -> None:
        self.config = "hash-1"
        self.image = FILE_IMAGE
        self.failure: str | None = None
        """Raised (ActionFailed) by every question while set: compose is missing."""

    def _answer(self, value: str) -> str:
        if self.failure is not None:
            raise ActionFailed(self.failure)
        return value

    def config_hash(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        return self._answer(self.config)

    def service_image(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        return self._answer(self.image)

    def image_id(self, ref: str) -> str:
        return self._answer("sha256:" + "cd" * 32)

    def read(self, path: str) -> bytes | None:
        self._answer("")
        return None

    def write_atomic(self, path: str, data: bytes) -> None:
        raise AssertionError("no pin: nothing is written")


def _compose_made(c: Container, config_hash: str = "hash-1") -> Container:
    labels = {PROJECT_LABEL: "shop", SERVICE_LABEL: "web", WORKING_DIR_LABEL: "/srv/shop",
              CONFIG_FILES_LABEL: "compose.yml", CONFIG_HASH_LABEL: config_hash}
    return dataclasses.replace(c, labels=labels)


def _engine(*extra: Container) -> FakeEngine:
    engine = FakeEngine([
        _compose_made(container("a1", "shop-web-1", project="shop", service="web")),
        container("a4", "shop-db-1", project="shop", service="db", image="opsui-test/pg:15"),
        container("z1", "zeta", image="busybox:latest"),
        *extra,
    ])
    engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    return engine


def _releases(connection: HostConnection, compose: FakeCompose) -> AppReleases:
    return AppReleases(connection.name, connection.engine, connection.prober,
                       connection.files, ActionGate(), Config(), connection.image_tags,
                       compose=compose)


def _released(engine: FakeEngine, compose: FakeCompose) -> tuple[FakeConnection, Container]:
    """shop-web-1 deployed to 2.0.0 by opsui (without a compose pin); the new container."""
    connection = FakeConnection("local", engine)
    releases = _releases(connection, compose)
    app = releases.resolve("shop-web-1")
    assert releases.deploy(app, releases.plan_deploy(app, "2.0.0"), True) == OK
    serving = next(c for c in engine.list_containers() if c.name == "shop-web-1")
    assert serving.image == f"{APP}:2.0.0"
    return connection, serving


def _app(connection: FakeConnection, compose: FakeCompose) -> OpsuiApp:
    gate = ActionGate()

    def monitors(listener: MonitorListener) -> list[HostMonitor]:
        return [HostMonitor(connection, listener, gate, FAST, (), config=Config(),
                            releases_for=lambda c: _releases(c, compose))]

    return OpsuiApp(Config(), gate, monitors, clock=frozen_clock, theme_dir=NO_USER_THEMES)


def _table(app: OpsuiApp) -> ContainerTable:
    return app.screen.query_one(ContainerTable)


def _health(app: OpsuiApp, cid: str) -> str:
    try:
        return str(_table(app).get_cell(cid, "health").plain)
    except Exception:  # the row is not there yet
        return ""


def _row_of(app: OpsuiApp, name: str) -> str:
    return next((line for line in screen_text(app).splitlines()
                 if f" {name} " in line), "")


async def _shows(pilot: Pilot[Any], app: OpsuiApp, name: str,
                 wanted: Callable[[str], bool], what: str) -> str:
    await until(pilot, lambda: wanted(_row_of(app, name)), what)
    return _row_of(app, name)


@pytest.fixture(autouse=True)
def _quick_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch's pace, shortened: the test waits on what it shows, not on the clock."""
    monkeypatch.setattr(ReleaseWatch, "min_seconds", 0.2)
    monkeypatch.setattr(ReleaseWatch, "period_seconds", 0.5)


async def test_a_drifting_release_is_marked_then_said_replaced_once_compose_replaced_it(
        ) -> None:
    compose = FakeCompose()
    engine = _engine()
    connection, released = _released(engine, compose)
    app = _app(connection, compose)
    async with app.run_test(size=(160, 40)) as pilot:
        row = await _shows(pilot, app, "shop-web-1", lambda r: "drift" in r, "the drift mark")
        assert "running" in row and "● healthy ⚠ drift" in row, row
        # compose's own containers and other apps are not marked
        for name in ("shop-db-1", "zeta"):
            assert "⚠" not in _row_of(app, name) and "compose" not in _row_of(app, name)

        # compose `up -d --force-recreate` puts its file back: another container, 1.0.0
        engine.remove(released.id)
        engine.put(_compose_made(container("c9", "shop-web-1", project="shop",
                                           service="web")))
        row = await _shows(pilot, app, "shop-web-1", lambda r: "replaced" in r,
                           "the replaced mark")
        assert "⚠ replaced" in row and "drift" not in row, row
        assert _health(app, "c9".ljust(64, "0")).endswith("⚠ replaced")


async def test_compose_missing_says_compose_unknown_and_agreeing_says_nothing() -> None:
    compose = FakeCompose()
    engine = _engine()
    connection, released = _released(engine, compose)
    compose.failure = "docker-compose: command not found"
    app = _app(connection, compose)
    async with app.run_test(size=(160, 40)) as pilot:
        row = await _shows(pilot, app, "shop-web-1", lambda r: "? compose" in r,
                           "compose unknown")
        assert "drift" not in row
        compose.failure = None
        compose.image = f"{APP}:2.0.0"  # the file now says what runs: compose agrees
        await until(pilot, lambda: _health(app, released.id) == "● healthy",
                    "the mark gone once compose agrees")


async def test_a_lost_host_turns_the_drift_into_compose_unknown() -> None:
    compose = FakeCompose()
    engine = _engine()
    connection, _ = _released(engine, compose)
    app = _app(connection, compose)
    async with app.run_test(size=(160, 40)) as pilot:
        await _shows(pilot, app, "shop-web-1", lambda r: "⚠ drift" in r, "the drift mark")
        connection.failure = HostUnreachable("local: connection refused")
        row = await _shows(pilot, app, "shop-web-1", lambda r: "? compose" in r,
                           "compose unknown while the host is away")
        assert "drift" not in row
        assert app.is_running


async def test_detail_view_says_why_in_plain_text_and_t_stops_on_the_drift() -> None:
    compose = FakeCompose()
    compose.image = "[@click=app.quit]evil:1"  # what a compose file says is untrusted text
    engine = _engine(container("y1", "yak", image="busybox:latest"))
    connection, released = _released(engine, compose)
    app = _app(connection, compose)
    async with app.run_test(size=(160, 40)) as pilot:
        await _shows(pilot, app, "shop-web-1", lambda r: "drift" in r, "the drift mark")
        table = _table(app)
        table.move_cursor(row=0)
        await pilot.press("t")
        await until(pilot, lambda: table.selected is not None
                    and table.selected.id == released.id, "t on the drifting app")
        await pilot.press("t")  # the only trouble on the host: it stays
        assert table.selected is not None and table.selected.id == released.id

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen)
                    and "Release" in screen_text(app), "the detail's release row")
        text = screen_text(app)
        assert "compose drift" in text.splitlines()[0]  # the title says it too
        assert "compose drift: compose file says [@click=app.quit]evil:1, running " \
               f"{APP}:2.0.0" in text, text
        assert app.is_running


async def test_at_80x24_the_mark_keeps_name_state_and_health_on_screen() -> None:
    compose = FakeCompose()
    engine = _engine(container("l1", LONG, project="shop", service="long"))
    connection, _ = _released(engine, compose)
    app = _app(connection, compose)
    async with app.run_test(size=(80, 24)) as pilot:
        row = await _shows(pilot, app, "shop-web-1", lambda r: "⚠ drift" in r,
                           "the drift mark at 80 columns")
        header = next(line for line in screen_text(app).splitlines()
                      if "Name ▼" in line and "sort:" not in line)
        assert "State" in header and "Health" in header
        assert "running" in row and "● healthy ⚠ drift" in row, row
        long_row = next(line for line in screen_text(app).splitlines()
                        if "ervice-name-1" in line)
        assert "running" in long_row and "● healthy" in long_row, long_row
