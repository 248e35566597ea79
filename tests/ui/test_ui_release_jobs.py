"""A confirmed release runs to its end unless the operator cancels it on purpose.

Issue 10's findings 1 and 2: ``q`` quit with no question and cancelled a running
rollback (the bad version served again); ``Esc`` on the running rollback screen
cancelled it. Here ``Esc`` leaves the run going (the dashboard says so, ``J`` brings
the steps back), and ``q`` / ``ctrl+q`` ask first and say what happens. The real
release domain runs over the fake engine, so "what serves" is what the domain did.
"""

from __future__ import annotations

import threading
from typing import Any

from textual.pilot import Pilot

from opsui.config import AppConfig
from opsui.domain.jobs import Job
from opsui.domain.models import ContainerState
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.backups import BackupsScreen
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.deploy import PlanConfirmModal, ReleaseRunScreen
from opsui.ui.screens.history import HistoryScreen
from opsui.ui.screens.release_run import QuitModal
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.job_banner import JobBanner

from .helpers import make_app, screen_text, until
from .test_ui_backups import backup_held_after_its_first_chunk, backups_app
from .test_ui_releases import APP, SIZE, deploy, named, release_engine, select
from fakes import FakeConnection, FakeEngine, FakeHostFiles


async def deployed_then_rolling_back(pilot: Pilot[Any], app: OpsuiApp, engine: FakeEngine
                                     ) -> tuple[ReleaseRunScreen, Job]:
    """2.0.0 deployed over 1.0.0, then a rollback confirmed and held at its start step."""
    await deploy(pilot, app, downs=1)
    await pilot.press("escape")
    await until(pilot, lambda: any(c.name == "shop-web-1" and c.image.endswith(":2.0.0")
                                   for c in app.state.host("local").containers.values()),
                "the table sees 2.0.0")
    await select(pilot, app, "shop-web-1")
    engine.start_gate = threading.Event()
    engine.starting.clear()
    await pilot.press("R")
    await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the preview")
    await pilot.press("y")
    await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                and app.screen.steps.state_of("start") == "running", "the start step running")
    run = app.screen
    assert isinstance(run, ReleaseRunScreen) and run.job is not None
    return run, run.job


def banner(app: OpsuiApp) -> JobBanner:
    dashboard = app.dashboard
    assert dashboard is not None
    return dashboard.query_one(JobBanner)


async def test_esc_on_a_running_rollback_goes_back_and_the_rollback_completes() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        _run, job = await deployed_then_rolling_back(pilot, app, engine)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        assert not job.cancelled.is_set()
        await until(pilot, lambda: "▶ Rollback of shop-web-1 on local: start" in
                    screen_text(app), "the running rollback in the banner")
        assert "J watch" in screen_text(app)
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.job is job, "the steps again")
        again = app.screen
        assert isinstance(again, ReleaseRunScreen)
        await until(pilot, lambda: again.steps.state_of("lock") == "ok", "the replayed steps")
        assert again.steps.state_of("start") == "running"
        await pilot.press("escape")  # and away again while it finishes
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "away again")
        assert engine.start_gate is not None
        engine.start_gate.set()
        await until(pilot, lambda: not job.running, "the rollback's end")
        assert job.outcome == "ok"
        assert named(engine, "shop-web-1").image == f"{APP}:1.0.0"  # the old version serves
        await until(pilot, lambda: "✓ Rollback of shop-web-1 on local: ok" in banner(app).plain,
                    "the outcome in the banner")
        await pilot.press("J")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.outcome == "ok", "the finished run")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen)
                    and not banner(app).display, "the banner gone once seen")


async def test_q_during_a_rollback_asks_and_stay_keeps_it_running() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        run, job = await deployed_then_rolling_back(pilot, app, engine)
        for key in ("q", "ctrl+q"):
            await pilot.press(key)
            await until(pilot, lambda: isinstance(app.screen, QuitModal), f"{key} asks")
            text = screen_text(app)
            assert "rollback of shop-web-1 on local, at 'start'" in text
            assert "FROM" in text and "serves again" in text, text
            await pilot.press("escape")  # stay
            await until(pilot, lambda: app.screen is run, "still on the run")
            assert app.is_running and not job.cancelled.is_set()
        assert engine.start_gate is not None
        engine.start_gate.set()
        await until(pilot, lambda: not job.running, "the rollback's end")
        assert job.outcome == "ok"
        assert named(engine, "shop-web-1").image == f"{APP}:1.0.0"
        assert named(engine, "shop-web-1").state is ContainerState.RUNNING


async def test_quitting_on_purpose_cancels_first_then_quits() -> None:
    engine = release_engine()
    engine.pull_gate = threading.Event()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "shop-web-1")
        await pilot.press("D")
        await until(pilot, lambda: app.screen.__class__.__name__ == "DeployScreen"
                    and bool(getattr(app.screen, "choices", None)), "the tags")
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the plan")
        await pilot.press("y")
        await until(pilot, lambda: engine.pulling.is_set(), "pulling")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen) and run.job is not None
        job = run.job
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitModal), "the question")
        assert "the version serving now keeps serving" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: job.cancelled.is_set(), "the cancellation")
        assert app.is_running  # it waits for the run to stop
        engine.pull_gate.set()
        await until(pilot, lambda: not app.is_running, "quit once the run stopped")
    assert job.outcome == "cancelled"
    assert not any(call[0] == "create" for call in engine.calls)
    assert named(engine, "shop-web-1").image == f"{APP}:1.0.0"


async def test_leaving_the_backups_screen_keeps_the_backup_running() -> None:
    app, conn = backups_app()
    store = conn.fake_store
    store.dump_gate = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        screen = await backup_held_after_its_first_chunk(pilot, app)
        job = screen.backup_job
        assert job is not None
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        await until(pilot, lambda: "▶ Backup of shop on local" in banner(app).plain,
                    "the backup in the banner")
        assert not job.cancelled.is_set()
        await pilot.press("K")  # reopened, the screen shows the running backup again
        await until(pilot, lambda: isinstance(app.screen, BackupsScreen)
                    and app.screen.busy == "backing up", "the backup shown again")
        store.dump_gate.set()
        await until(pilot, lambda: not job.running, "the backup's end")
        assert job.outcome == "ok"
        reopened = app.screen
        assert isinstance(reopened, BackupsScreen)
        await until(pilot, lambda: "verified:" in reopened.last, "the verdict")


async def test_declaring_an_app_deployed_ad_hoc_keeps_its_history_and_rollback() -> None:
    """Finding 6: an app deployed ad hoc (journal under the container's name) and then
    declared as ``[apps.shop] container = "shop-web-1"`` keeps its releases in H and its
    rollback target in R."""
    engine = release_engine()
    files = FakeHostFiles()
    ad_hoc = make_app(FakeConnection("local", engine, files=files))
    async with ad_hoc.run_test(size=SIZE) as pilot:
        screen = await deploy(pilot, ad_hoc, downs=1)  # 2.0.0 over the adopted 1.0.0
        assert screen.outcome == "ok"
    declared = make_app(FakeConnection("local", engine, files=files),
                        apps=(AppConfig("shop", container="shop-web-1"),))
    async with declared.run_test(size=SIZE) as pilot:
        await select(pilot, declared, "shop-web-1")
        await pilot.press("H")
        await until(pilot, lambda: isinstance(declared.screen, HistoryScreen)
                    and declared.screen.status is not None, "the history")
        history = declared.screen
        assert isinstance(history, HistoryScreen) and history.status is not None
        assert [r.action for r in history.status.newest_first] == ["deploy", "adopt"]
        await pilot.press("escape")
        await select(pilot, declared, "shop-web-1")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(declared.screen, PlanConfirmModal), "the preview")
        assert "target    1.0.0" in screen_text(declared)


async def test_t_also_stops_at_an_app_whose_release_failed() -> None:
    """The trouble key's "a release that failed or is running": after a failed deploy
    the app's serving container is healthy again, yet t stops on it."""
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one(ContainerTable)

        async def stops(presses: int = 6) -> set[str]:
            seen = set()
            for _ in range(presses):
                await pilot.press("t")
                await pilot.pause()
                if table.selected is not None:
                    seen.add(table.selected.name)
            return seen

        await until(pilot, lambda: table.row_count > 0, "the table")
        assert "shop-web-1" not in await stops()
        screen = await deploy(pilot, app, downs=0)  # 3.0.0 never gets healthy
        assert screen.outcome == "failed"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
        assert named(engine, "shop-web-1").state is ContainerState.RUNNING  # 1.0.0 serves
        assert "shop-web-1" in await stops()
