"""The dashboard marks a row of an app on several hosts (issue 15): the table lists one
host's containers, and D/R/H on such a row act on every host of the app, so the row
says whose part it is; with ``hosts_at_once`` the deploy question says how many hosts
go at a time."""

from __future__ import annotations

from dataclasses import replace

from opsui.config import AppConfig, HostConfig
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, until
from .test_ui_multi_host import HOSTS, WEB, WIDE, flat, host, on_host
from .test_ui_releases import confirm_tag, open_deploy
from fakes import FakeConnection, FakeEngine, container

SOLO = AppConfig("solo", host="web2", container="solo-1")
"""An app on one host: its row says nothing more."""


def project_cell(table: ContainerTable, name: str) -> str:
    """The Project cell of the row of the container called ``name``."""
    view = table.view
    assert view is not None
    [cid] = [cid for cid, c in view.containers.items() if c.name == name]
    return str(table.get_cell(cid, "project"))


async def test_a_row_of_an_app_on_three_hosts_says_so_and_a_one_host_app_does_not() -> None:
    hosts = [host(h) for h in HOSTS]
    hosts[1] = FakeConnection("web2", FakeEngine([
        container("web2w", "web-1", image="opsui-test/app:1.0.0"),
        container("s1", "solo-1", image="opsui-test/app:1.0.0")]))
    app = make_app(*hosts, hosts=tuple(HostConfig(h) for h in HOSTS), apps=(WEB, SOLO))
    async with app.run_test(size=WIDE) as pilot:
        await on_host(pilot, app, "web2")
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        table = dashboard.query_one(ContainerTable)
        await until(pilot, lambda: table.view is not None and len(table.view.containers) == 2,
                    "both rows")
        assert project_cell(table, "web-1") == "web on 3 hosts"
        assert project_cell(table, "solo-1") == "—"


async def test_the_deploy_question_says_two_hosts_at_a_time() -> None:
    hosts = [host(h) for h in HOSTS]
    app = make_app(*hosts, hosts=tuple(HostConfig(h) for h in HOSTS),
                   apps=(replace(WEB, hosts_at_once=2),))
    async with app.run_test(size=WIDE) as pilot:
        await on_host(pilot, app, "web1")
        await open_deploy(pilot, app, "web-1")
        await confirm_tag(pilot, app, downs=0)
        await until(pilot, lambda: "2 hosts at a time, each through its health gate"
                    in flat(app), "the order of the hosts")
        assert "host by host" not in flat(app)
