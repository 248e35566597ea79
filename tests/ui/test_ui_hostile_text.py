"""Container-controlled text is shown literally everywhere; markup in it never runs.

A container named ``[@click=app.quit]q`` must read exactly so in the table, the
sidebar, the detail view, notifications and the command palette, and clicking it
must not quit opsui. ``[/usr/bin]`` would crash a markup parser; ``[$accent]`` would
be a live variable under ``rich.markup.escape``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from textual.command import CommandPalette

from opsui.domain.errors import HostUnreachable
from opsui.domain.models import Container, ContainerDetail, ContainerState, Health, HealthLogEntry
from opsui.domain.operations.gate import ActionGate
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import NOW, FakeConnection, FakeEngine, container
from fakes import engine as fake_engine

HOSTILE = ["[bold]x", "[/usr/bin]", "[@click=app.quit]q", "[$accent]"]


def hostile_engine() -> FakeEngine:
    return FakeEngine([
        container(f"h{i}", name, image=f"{name}:latest", project="[red]proj",
                  service="[/]", health=Health.UNHEALTHY)
        for i, name in enumerate(HOSTILE)
    ])


def _hostile_detail(
    original: Callable[[Container], ContainerDetail],
) -> Callable[[Container], ContainerDetail]:
    def detail_for(c: Container) -> ContainerDetail:
        detail = original(c)
        entry = HealthLogEntry(NOW, NOW, 1, "[@click=app.quit]boom[/] [$accent] [/usr/bin]\n")
        return dataclasses.replace(detail, health_log=(entry,),
                                   env=(("[b]KEY", "[@click=app.quit]v"),),
                                   labels=(("[$primary]", "[/x]"),))
    return detail_for


async def test_hostile_names_show_literally_in_the_table_and_do_not_act() -> None:
    app = make_app(FakeConnection("local", hostile_engine()))
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 4, "four rows")
        text = screen_text(app)
        for name in HOSTILE:
            assert name in text
            assert f"{name}:latest" in text
        assert "[red]proj/[/]" in text
        # Click every row's name cell: a live [@click=app.quit] would end the app.
        for row in range(4):
            await pilot.click(ContainerTable, offset=(3, row + 1))
            await pilot.pause()
            if isinstance(app.screen, DetailScreen):  # clicking the cursor row opens it
                await pilot.press("escape")
                await pilot.pause()
        assert app.is_running
        assert app.return_code is None


async def test_hostile_text_in_detail_view_is_literal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake_engine, "detail_for", _hostile_detail(fake_engine.detail_for))
    app = make_app(FakeConnection("local", hostile_engine()))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 4, "four rows")
        await pilot.press("ctrl+home")  # the dashboard starts on the first container in trouble
        while table.selected is None or table.selected.name != "[@click=app.quit]q":
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen)
                    and app.screen.detail is not None, "inspected detail")
        await pilot.pause()
        text = screen_text(app)
        assert "[@click=app.quit]q  on local" in text
        assert "[@click=app.quit]boom[/] [$accent] [/usr/bin]" in text
        app.screen.query_one("#section-labels").scroll_visible(animate=False)
        await pilot.pause()
        text = screen_text(app)
        assert "[b]KEY" in text and "[@click=app.quit]v" in text
        assert "[$primary]" in text and "[/x]" in text
        assert app.is_running


async def test_hostile_name_in_notification_and_palette_is_literal() -> None:
    app = make_app(FakeConnection("local", hostile_engine()), gate=ActionGate(read_only=True))
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 4, "four rows")
        await pilot.press("ctrl+home")  # the dashboard starts on the first container in trouble
        while table.selected is None or table.selected.name != "[/usr/bin]":
            await pilot.press("down")
        await pilot.press("r")  # read-only: refused, with the name in the message
        await until(pilot, lambda: "Refused to restart [/usr/bin] on local" in
                    " ".join(screen_text(app).split()), "the toast, literally")

        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
        await pilot.press(*"restart")
        await until(pilot, lambda: "Restart [/usr/bin]" in screen_text(app), "palette entry")
        assert app.is_running


async def test_hostile_host_name_and_status_message_in_sidebar() -> None:
    app = make_app(
        FakeConnection("[b]local", hostile_engine()),
        FakeConnection("[@click=app.quit]prod",
                       failure=HostUnreachable("[@click=app.quit]prod: [/usr/bin] refused")),
    )
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: "[@click=app.quit]prod" in screen_text(app), "sidebar")
        assert "[b]local" in screen_text(app)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "[/usr/bin]" in " ".join(screen_text(app).split()),
                    "the message, literally")
        assert app.is_running


async def test_exited_hostile_status_text_is_literal() -> None:
    engine = FakeEngine([dataclasses.replace(
        container("e1", "[$accent]", state=ContainerState.EXITED),
        status_text="[@click=app.quit]Exited")])
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 1, "one row")
        assert "[@click=app.quit]Exited" in screen_text(app)
