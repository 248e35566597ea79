"""An app on several hosts in the dashboard (issue 15): on each of its hosts its row is
the app's (D plans the app with its settings), and the confirmation of a deploy from
one host's row says the release is that host's alone and how to release them all."""

from __future__ import annotations

from datetime import timedelta

from opsui.config import AppConfig, HostConfig
from opsui.ui.screens.dashboard import DashboardScreen

from .helpers import make_app, screen_text, until
from .test_ui_releases import SIZE, confirm_tag, open_deploy
from fakes import NOW, FakeConnection, FakeEngine, container

APP = "opsui-test/app"
HOSTS = ("web1", "web2")
WEB = AppConfig("web", host="web1", hosts=HOSTS, container="web-1")


def host(name: str) -> FakeConnection:
    engine = FakeEngine([container(f"{name}w", "web-1", image=f"{APP}:1.0.0")])
    engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    return FakeConnection(name, engine)


async def test_a_deploy_from_the_second_hosts_row_is_the_apps_and_says_it_is_one_host() -> None:
    second = host("web2")
    app = make_app(host("web1"), second, hosts=tuple(HostConfig(h) for h in HOSTS),
                   apps=(WEB,))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        dashboard = app.screen
        assert isinstance(dashboard, DashboardScreen)
        await until(pilot, lambda: "web2" in dashboard.state.hosts, "the second host")
        dashboard.show_host("web2")
        await until(pilot, lambda: dashboard.host == "web2", "the second host shown")
        await open_deploy(pilot, app, "web-1")
        await confirm_tag(pilot, app, downs=0)
        text = " ".join(screen_text(app).split())
        assert "Deploy web on web2?" in text
        assert "web runs on web1, web2; this deploy is web2's alone" in text
        assert second.fake_engine.calls == []  # planning changes nothing
