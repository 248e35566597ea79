"""An app on several hosts in the dashboard (issue 15): D, R and H on a row of such an
app are the app's across its hosts. One confirmation names every host; the run shows
each host's steps as they happen and how it ended on each (the first failure stops it,
the hosts already switched go back, the rest are untouched); H is one history merged
from the hosts' journals; the detail view says the container is one host's part."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from functools import partial
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Static

from opsui.config import AppConfig, HostConfig
from opsui.domain.models import Container
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.confirm import ConfirmModal
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.deploy import PlanConfirmModal, ReleaseRunScreen
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.screens.multi_host import MultiHistoryScreen
from opsui.ui.screens.release_run import QuitModal

from .helpers import make_app, screen_text, until
from .test_ui_releases import confirm_tag, open_deploy, select
from fakes import NOW, FakeConnection, FakeEngine, container

APP = "opsui-test/app"
HOSTS = ("web1", "web2", "web3")
WEB = AppConfig("web", host="web1", hosts=HOSTS, container="web-1")
SMALL = (80, 24)
WIDE = (160, 45)


class HeldEngine(FakeEngine):
    """An engine whose pulls wait until the test lets them go (``held`` set): a step
    still running for as long as the test needs, however busy the machine."""

    def __init__(self, containers: list[Container]) -> None:
        super().__init__(containers)
        self.held = threading.Event()

    def pull(self, image: str, timeout: float = 600.0) -> str:
        self.held.wait(120.0)  # the test sets it (in a finally); 120 s only if it died
        return super().pull(image, timeout)


def host(name: str, broken: bool = False, held: bool = False) -> FakeConnection:
    """A host serving 1.0.0; 2.0.0 is in the registry (never healthy when ``broken``;
    its pull waits for the test when ``held``)."""
    engine = (HeldEngine if held else FakeEngine)(
        [container(f"{name}w", "web-1", image=f"{APP}:1.0.0")])
    engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    if broken:
        engine.unhealthy_images.add(f"{APP}:2.0.0")
    return FakeConnection(name, engine)


def fleet(broken: str = "", held: str = "") -> tuple[OpsuiApp, list[FakeConnection]]:
    hosts = [host(h, broken=h == broken, held=h == held) for h in HOSTS]
    return make_app(*hosts, hosts=tuple(HostConfig(h) for h in HOSTS), apps=(WEB,)), hosts


def serving(connection: FakeConnection) -> str:
    [web] = [c for c in connection.fake_engine.list_containers()
             if c.name == "web-1" and c.state.value == "running"]
    return web.image


def flat(app: OpsuiApp) -> str:
    return " ".join(screen_text(app).split())


def asks(action: str, version: str, app: OpsuiApp) -> bool:
    """The one question names every host (and the version, where the gate says it)."""
    return re.search(rf"{action} web (to {re.escape(version)} )?on web1, web2, web3\?",
                     flat(app)) is not None


async def on_host(pilot: Pilot[Any], app: OpsuiApp, name: str) -> None:
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
    dashboard = app.screen
    assert isinstance(dashboard, DashboardScreen)
    await until(pilot, lambda: name in dashboard.state.hosts, f"the host {name}")
    dashboard.show_host(name)
    await until(pilot, lambda: dashboard.host == name, f"{name} shown")


async def history_lines(pilot: Pilot[Any], app: OpsuiApp) -> list[str]:
    """The merged history's lines once its rows are drawn."""
    await until(pilot, lambda: isinstance(app.screen, MultiHistoryScreen)
                and app.screen.history is not None
                and "2.0.0    deploy" in screen_text(app), "the merged history")
    return screen_text(app).splitlines()


async def run_to_the_end(pilot: Pilot[Any], app: OpsuiApp) -> ReleaseRunScreen:
    await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                and app.screen.outcome is not None, "the outcome")
    run = app.screen
    assert isinstance(run, ReleaseRunScreen)
    run.query_one("#release-run").scroll_end(animate=False)
    await pilot.pause()
    return run


async def test_d_deploys_every_host_and_stops_at_the_second_returning_the_first() -> None:
    app, (one, two, three) = fleet(broken="web2")
    async with app.run_test(size=SMALL) as pilot:
        await on_host(pilot, app, "web2")  # from any host's row: the app's release
        await open_deploy(pilot, app, "web-1")
        await confirm_tag(pilot, app, downs=0)
        await until(pilot, lambda: asks("Deploy", "2.0.0", app), "the question")
        text = flat(app)  # readable at 80x24: every host, what it runs, the question
        assert "web on 3 hosts, to 2.0.0" in text
        assert f"image {APP}" in text
        for name in HOSTS:
            assert f"{name} 1.0.0 → 2.0.0 (start-first)" in text, name
        assert "hosts already switched go back" in text
        assert "this deploy is web2's alone" not in text
        assert "Deploy Cancel" in text  # the buttons too
        assert [c.fake_engine.calls for c in (one, two, three)] == [[], [], []]

        run = await run_to_the_end(pilot, app)
        assert run.outcome == "failed"
        assert run.steps.state_of("web1: health gate") == "ok"
        assert run.steps.state_of("web2: health gate") == "failed"
        assert run.steps.state_of("web3: pull") == "skipped"
        assert run.steps.state_of("web1 return: outcome") == "ok"
        outcome = str(run.query_one("#release-outcome", Static).render())
        assert "web1  returned" in outcome and "web2  failed" in outcome
        assert "web3  not deployed" in outcome
        assert [serving(c) for c in (one, two, three)] == [f"{APP}:1.0.0"] * 3
        assert three.fake_engine.calls == []  # untouched

        await pilot.press("escape")
        await select(pilot, app, "web-1")
        await pilot.press("H")
        lines = await history_lines(pilot, app)
        [row] = [line for line in lines if "2.0.0" in line and "deploy" in line]
        assert row.split()[:6] == ["2.0.0", "deploy", "failed", "returned", "failed", "not"]
        assert "web1" in screen_text(app) and "web3" in screen_text(app)


async def test_r_rolls_every_host_back_to_the_same_release() -> None:
    app, connections = fleet()
    async with app.run_test(size=WIDE) as pilot:
        await open_deploy(pilot, app, "web-1")
        await confirm_tag(pilot, app, downs=0)
        run = await run_to_the_end(pilot, app)
        assert run.outcome == "ok", screen_text(app)
        assert [serving(c) for c in connections] == [f"{APP}:2.0.0"] * 3
        await pilot.press("escape")
        await until(pilot, lambda: all(
            any(c.name == "web-1" and c.image.endswith(":2.0.0")
                for c in app.state.host(h).containers.values()) for h in HOSTS),
            "every table sees 2.0.0")

        await on_host(pilot, app, "web3")
        await select(pilot, app, "web-1")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the preview")
        await until(pilot, lambda: asks("Rollback", "1.0.0", app), "the question")
        text = flat(app)
        for name in HOSTS:
            assert f"{name} 2.0.0 → 1.0.0" in text, name
        run = await run_to_the_end(pilot, app)
        assert run.outcome == "ok", screen_text(app)
        assert [serving(c) for c in connections] == [f"{APP}:1.0.0"] * 3
        outcome = str(run.query_one("#release-outcome", Static).render())
        assert all(f"{h}  switched" in outcome for h in HOSTS), outcome

        await pilot.press("escape")
        await select(pilot, app, "web-1")
        await pilot.press("H")
        lines = await history_lines(pilot, app)
        [back] = [line for line in lines if "rollback" in line]
        assert back.split()[:6] == ["1.0.0", "rollback", "ok", "ok", "ok", "ok"]
        [forth] = [line for line in lines if "2.0.0" in line and "deploy" in line]
        assert forth.split()[:3] == ["2.0.0", "deploy", "ok"]
        assert forth.count("rolled back") == 3  # on each host, since


async def test_the_detail_view_says_the_container_is_one_hosts_part_of_the_app() -> None:
    app, _ = fleet()
    async with app.run_test(size=SMALL) as pilot:
        await on_host(pilot, app, "web2")
        await select(pilot, app, "web-1")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "the detail view")
        await until(pilot, lambda: "web — also on web1, web3" in screen_text(app),
                    "the other hosts")


async def test_esc_during_the_release_leaves_it_running_across_hosts_in_the_banner() -> None:
    app, (one, two, three) = fleet(held="web2")  # web2's pull is still running
    assert isinstance(two.fake_engine, HeldEngine)
    try:
        await esc_during_the_release(app, one, two.fake_engine, three)
    finally:
        two.fake_engine.held.set()


async def esc_during_the_release(app: OpsuiApp, one: FakeConnection, second: HeldEngine,
                                 three: FakeConnection) -> None:
    async with app.run_test(size=WIDE) as pilot:
        await open_deploy(pilot, app, "web-1")
        await confirm_tag(pilot, app, downs=0)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.steps.state_of("web2: pull") == "running", "web2 pulling")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen) and run.job is not None
        job = run.job
        assert run.steps.state_of("web1: outcome") == "ok"
        assert run.steps.state_of("web3: pull") == "pending"
        asks: tuple[tuple[str, type[ConfirmModal]], ...] = (("c", ConfirmModal),
                                                              ("q", QuitModal))
        for key, modal in asks:  # each says what cancelling does; Esc stays
            await pilot.press(key)
            await until(pilot, partial(lambda m: isinstance(app.screen, m), modal),
                        f"{key} asks")
            await until(pilot, lambda: "are not touched" in flat(app), "what it does")
            text = flat(app)
            assert "hosts already switched go back" in text and "are not touched" in text
            assert "keeps serving" not in text  # the one-host deploy's effect is not this
            await pilot.press("escape")
            await until(pilot, lambda: app.screen is run, "still on the run")
        assert not job.cancelled.is_set()
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        await until(pilot, lambda: "▶ Deploy of web on web1, web2, web3: web2: pull"
                    in screen_text(app), "the release in the banner, at web2")
        assert job.running and not job.cancelled.is_set()
        second.held.set()
        await until(pilot, lambda: not job.running, "the release's end")
        assert job.outcome == "ok"
        assert [serving(c) for c in (one, three)] == [f"{APP}:2.0.0"] * 2
        [web] = [c for c in second.list_containers()
                 if c.name == "web-1" and c.state.value == "running"]
        assert web.image == f"{APP}:2.0.0"
