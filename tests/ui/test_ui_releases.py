"""Deploy, rollback, history, the lock banner and recovery, driven by keys against fakes.

A real HostMonitor and the real release domain run over ``FakeEngine`` (images on the
host and in a fake registry, pulls, clones, renames) and ``FakeHostFiles`` (the host's
journal and lock in memory), so what a test sees on screen is what the domain did.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

from textual.pilot import Pilot

from opsui.config import DEFAULT_STATE_DIR, AppConfig
from opsui.domain.history import encode_record
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.confirm import ConfirmModal
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.screens.deploy import DeployScreen, PlanConfirmModal, ReleaseRunScreen
from opsui.ui.screens.history import HistoryScreen, ReleaseDetailScreen
from opsui.ui.widgets.container_table import ContainerTable
from opsui.ui.widgets.lock_banner import LockBanner

from .helpers import make_app, screen_text, until
from fakes import (
    NOW,
    SHOP_APP,
    FakeConnection,
    FakeEngine,
    FakeHostFiles,
    container,
    shop_containers,
)

SIZE = (160, 45)
APP = "opsui-test/app"


def release_engine() -> FakeEngine:
    """The shop host with three versions of the app: 1.0.0 serves, 2.0.0 is healthy,
    3.0.0 never becomes healthy."""
    engine = FakeEngine(shop_containers())
    engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    engine.add_image(f"{APP}:3.0.0", NOW - timedelta(days=1), on_host=False)
    engine.unhealthy_images.add(f"{APP}:3.0.0")
    return engine


def named(engine: FakeEngine, name: str) -> Container:
    return next(c for c in engine.list_containers() if c.name == name)


def notes(app: OpsuiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def select(pilot: Pilot[Any], app: OpsuiApp, name: str) -> None:
    """Back on the dashboard, the cursor on the row called ``name``."""
    await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "the dashboard")
    table = app.screen.query_one(ContainerTable)
    await until(pilot, lambda: any(table.get_row_at(i)[0].plain == name
                                   for i in range(table.row_count)), f"a row {name}")
    row = next(i for i in range(table.row_count) if table.get_row_at(i)[0].plain == name)
    table.move_cursor(row=row)
    await until(pilot, lambda: table.selected is not None and table.selected.name == name,
                f"the cursor on {name}")


async def open_deploy(pilot: Pilot[Any], app: OpsuiApp, name: str = "shop-web-1"
                      ) -> DeployScreen:
    await select(pilot, app, name)
    await pilot.press("D")
    await until(pilot, lambda: isinstance(app.screen, DeployScreen) and bool(app.screen.choices),
                "the tag list")
    screen = app.screen
    assert isinstance(screen, DeployScreen)
    return screen


async def deploy_held_at_pull(pilot: Pilot[Any], app: OpsuiApp) -> DeployScreen:
    """A deploy of 2.0.0 confirmed and running its pull (the test holds the engine's
    ``pull_gate``): a run in progress to cancel or leave."""
    screen = await open_deploy(pilot, app)
    await confirm_tag(pilot, app, downs=1)
    await pilot.press("y")
    await until(pilot, lambda: screen.steps.state_of("pull") == "running", "pull running")
    return screen


async def confirm_tag(pilot: Pilot[Any], app: OpsuiApp, downs: int) -> None:
    """Move ``downs`` rows from the highlighted (newest) tag, Enter, wait for the plan."""
    await pilot.press(*["down"] * downs, "enter")
    await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the confirmation")


async def deploy(pilot: Pilot[Any], app: OpsuiApp, downs: int) -> DeployScreen:
    screen = await open_deploy(pilot, app)
    await confirm_tag(pilot, app, downs)
    await pilot.press("y")
    await until(pilot, lambda: screen.outcome is not None, "the outcome")
    return screen


async def test_deploy_picks_a_tag_previews_the_plan_and_shows_every_step() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        old = named(engine, "shop-web-1")
        screen = await open_deploy(pilot, app)
        assert [c.tag for c in screen.choices] == ["3.0.0", "2.0.0", "1.0.0"]  # newest first
        text = screen_text(app)
        assert "● current" in text and "on host" in text and "registry" in text
        assert "1d 00h ago" in text  # created age, from the frozen clock

        await confirm_tag(pilot, app, downs=1)  # 3.0.0 is highlighted; one down is 2.0.0
        text = screen_text(app)
        for shown in ("host      local", f"current   {APP}:1.0.0", f"target    {APP}:2.0.0",
                      "stop-first", "lock → pull → create → stop old → start → health gate",
                      "Deploy shop-web-1 to 2.0.0 on local?"):
            assert shown in text, shown
        assert engine.calls == []  # planning changes nothing

        await pilot.press("y")
        await until(pilot, lambda: screen.outcome is not None, "the outcome")
        assert screen.outcome == "ok"
        for step in ("lock", "pull", "create", "stop old", "start", "health gate", "switch",
                     "record"):
            assert screen.steps.state_of(step) == "ok", step
        text = screen_text(app)
        assert "✓ pull" in text and "✓ health gate" in text and "✓ ok" in text
        assert f"{APP}:2.0.0" in text
        new = named(engine, "shop-web-1")
        assert new.id != old.id and new.image == f"{APP}:2.0.0"
        assert new.state is ContainerState.RUNNING
        assert named(engine, f"shop-web-1.before-{new.labels['opsui.release']}").id == old.id
        await until(pilot, lambda: any("Deploy of shop-web-1 on local: ok" in n
                                       for n in notes(app)), "the done notification")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "back")


async def test_a_failed_health_gate_shows_failed_with_the_reason() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        old = named(engine, "shop-web-1")
        screen = await deploy(pilot, app, downs=0)  # 3.0.0: never healthy
        assert screen.outcome == "failed"
        assert screen.steps.state_of("health gate") == "failed"
        assert screen.steps.state_of("switch") == "skipped"
        text = screen_text(app)
        assert "✗ failed" in text
        assert "Docker's health check says unhealthy" in text
        serving = named(engine, "shop-web-1")
        assert serving.id == old.id and serving.state is ContainerState.RUNNING  # back up
        assert any("Deploy of shop-web-1 on local: failed" in n for n in notes(app))


async def test_cancel_is_its_own_key_and_asks_first() -> None:
    """c (and ctrl+c) ask what cancelling does; "keep running" changes nothing; yes
    cancels after the current step."""
    engine = release_engine()
    engine.pull_gate = threading.Event()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await deploy_held_at_pull(pilot, app)
        assert "Cancel run" in screen_text(app)  # the footer offers it while running
        await pilot.press("ctrl+c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the question")
        text = screen_text(app)
        assert "Cancel the deploy of shop-web-1 on local?" in text
        assert "at the step 'pull'" in text and "keeps serving" in text
        await pilot.press("n")  # keep running
        await until(pilot, lambda: app.screen is screen, "back on the run")
        assert not screen.cancelled.is_set()
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "asked again")
        await pilot.press("y")
        await until(pilot, lambda: screen.cancelled.is_set(), "the cancellation")
        await until(pilot, lambda: "Cancelling" in screen_text(app), "cancelling shown")
        engine.pull_gate.set()
        await until(pilot, lambda: screen.outcome is not None, "the outcome")
        assert screen.outcome == "cancelled"
        assert screen.steps.state_of("create") == "skipped"
        assert not any(call[0] == "create" for call in engine.calls)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DashboardScreen), "back")


async def test_rollback_previews_the_target_version_and_env_changes() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        old = named(engine, "shop-web-1")
        await deploy(pilot, app, downs=1)  # 2.0.0; 1.0.0 was adopted as the first release
        await pilot.press("escape")
        await until(pilot, lambda: named(engine, "shop-web-1").image == f"{APP}:2.0.0", "2.0.0")
        await until(pilot, lambda: any(
            c.name == "shop-web-1" and c.image.endswith(":2.0.0")
            for c in app.state.host("local").containers.values()), "the table sees 2.0.0")
        await select(pilot, app, "shop-web-1")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the preview")
        text = screen_text(app)
        assert "target    1.0.0" in text
        assert "APP_VERSION" in text and "2.0.0 → 1.0.0" in text
        assert "kept container shop-web-1.before-" in text and "nothing is pulled" in text
        assert "Rollback shop-web-1 to 1.0.0 on local?" in text
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen), "the run screen")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen)
        await until(pilot, lambda: run.outcome is not None, "the outcome")
        assert run.outcome == "ok", screen_text(app)
        serving = named(engine, "shop-web-1")
        assert serving.id == old.id and serving.state is ContainerState.RUNNING
        pulls = [call for call in engine.calls if call[0] == "pull"]
        assert pulls == [("pull", f"{APP}:2.0.0")]  # the rollback pulled nothing


async def test_history_lists_releases_newest_first_and_opens_one() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        await deploy(pilot, app, downs=1)
        await pilot.press("escape")
        await select(pilot, app, "shop-web-1")
        await pilot.press("H")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                    and app.screen.status is not None, "the history")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        assert history.status is not None
        assert [r.action for r in history.status.newest_first] == ["deploy", "adopt"]
        text = screen_text(app)
        lines = text.splitlines()
        deploy_line = next(i for i, line in enumerate(lines) if "2.0.0" in line
                           and "deploy" in line)
        adopt_line = next(i for i, line in enumerate(lines) if "adopt" in line)
        assert deploy_line < adopt_line
        assert "▶" in lines[deploy_line]  # serving now
        assert "Audit" in text and "deploy shop-web-1 to 2.0.0" in text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReleaseDetailScreen), "the detail")
        text = screen_text(app)
        for shown in ("Release r", "pull", "create", "health gate", "switch", "Reason",
                      "serves", "old container kept as shop-web-1.before-"):
            assert shown in text, shown
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is history, "back to the history")


async def test_read_only_refuses_deploy_and_rollback_without_running_anything() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine), gate=ActionGate(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "shop-web-1")
        await pilot.press("D")
        await until(pilot, lambda: any("Refused to deploy" in n for n in notes(app)),
                    "the refusal")
        assert not isinstance(app.screen, DeployScreen)
        assert any(n.title == "Read-only" for n in app._notifications)
        await pilot.press("R")
        await until(pilot, lambda: any("Refused to rollback" in n for n in notes(app)),
                    "the rollback refusal")
        await pilot.pause(0.2)
        assert isinstance(app.screen, DashboardScreen)
        assert engine.calls == []
        await pilot.press("H")  # reading the history is fine
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")


def _frozen_files(app_name: str) -> FakeHostFiles:
    files = FakeHostFiles()
    holder = {"user": "bob", "machine": "desk", "taken_at": "2026-11-23T11:40:00+00:00",
              "message": "incident", "manual": True, "release": "", "pid": 0}
    lock = f"{DEFAULT_STATE_DIR}/{app_name}/lock"
    files.create_dir_with(lock, "holder.json", json.dumps(holder).encode())
    return files


async def test_lock_banner_shows_a_frozen_app_and_a_deploy_is_refused() -> None:
    engine = release_engine()
    shop = AppConfig("shop", service="shop/web")
    app = make_app(FakeConnection("local", engine, files=_frozen_files("shop")), apps=(shop,))
    async with app.run_test(size=SIZE) as pilot:
        banner = app.screen.query_one(LockBanner)
        await until(pilot, lambda: banner.display and bool(banner.items), "the banner")
        assert ("🔒 shop frozen by bob@desk since 2026-11-23T11:40:00+00:00: incident"
                in screen_text(app))
        screen = await open_deploy(pilot, app)
        await confirm_tag(pilot, app, downs=1)
        await pilot.press("y")
        await until(pilot, lambda: screen.outcome is not None, "the outcome")
        assert screen.outcome == "refused"
        assert "frozen by bob@desk" in screen_text(app)
        assert not any(call[0] == "pull" for call in engine.calls)


async def test_interrupted_release_shows_a_banner_and_b_rolls_it_back() -> None:
    engine = release_engine()
    old = named(engine, "shop-web-1")
    rid = "r20261123110000-abcd"
    half = container("n9", f"shop-web-1.{rid}", image=f"{APP}:2.0.0",
                     state=ContainerState.CREATED)
    engine.put(half)
    files = FakeHostFiles()
    journal = f"{DEFAULT_STATE_DIR}/shop-web-1/journal.jsonl"
    for record in (
        {"type": "release", "id": rid, "action": "deploy", "app": "shop-web-1",
         "who": "bob@desk", "at": "2026-11-23T11:00:00+00:00", "image": f"{APP}:2.0.0",
         "version": "2.0.0", "replaces_container": old.id},
        {"type": "step", "release": rid, "name": "pull", "outcome": "ok", "seconds": 1.2},
        {"type": "container", "release": rid, "id": half.id, "image_id": ""},
        {"type": "step", "release": rid, "name": "create", "outcome": "ok", "seconds": 0.3},
    ):
        files.append_record(journal, encode_record(record))
    app = make_app(FakeConnection("local", engine, files=files))
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "shop-web-1")
        banner = app.screen.query_one(LockBanner)
        await until(pilot, lambda: banner.display and bool(banner.items)
                    and f"release {rid}" in screen_text(app), "the banner, drawn")
        text = screen_text(app)
        assert f"release {rid}" in text and "interrupted after 'create'" in text
        assert "finish (F) / roll back (B)" in text
        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the preview")
        assert "roll back: stop the new container" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.outcome is not None, "the outcome")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen) and run.outcome == "interrupted"
        assert named(engine, "shop-web-1").id == old.id
        await pilot.press("escape")
        await until(pilot, lambda: not banner.display, "the banner gone")


async def test_at_80x24_a_long_plan_scrolls_under_a_question_that_names_the_version() -> None:
    """A replica rollout's plan is taller than 24 rows: the dialog lost its top (host,
    current, target) and could not scroll; the question said only "Deploy shop on local?"
    (found driving it in tmux)."""
    engine = release_engine()
    app = make_app(FakeConnection("local", engine), apps=(SHOP_APP,))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_deploy(pilot, app)
        await confirm_tag(pilot, app, downs=1)
        modal = app.screen
        assert isinstance(modal, PlanConfirmModal)
        await until(pilot, lambda: "Deploy shop to 2.0.0 on local?" in screen_text(app),
                    "the question with the version")
        text = screen_text(app)
        assert "host      local" in text and "Cancel" in text  # the top and the buttons
        plan = modal.query_one("#plan-scroll")
        assert plan.max_scroll_y > 0  # taller than what is left: it scrolls
        await pilot.press("pagedown")
        await until(pilot, lambda: plan.scroll_y > 0, "the plan scrolled")
        assert "Deploy shop to 2.0.0 on local?" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back, nothing run")
        assert engine.calls == []


async def test_on_a_short_terminal_the_running_step_stays_on_screen() -> None:
    """A replica rollout's later steps were below the fold at 80x24: the screen looked
    frozen for the whole second half of the rollout (found driving it in tmux). Here a
    terminal too short for one replica's steps shows the same."""
    engine = release_engine()
    engine.start_gate = threading.Event()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(80, 14)) as pilot:
        await open_deploy(pilot, app)
        await confirm_tag(pilot, app, downs=1)
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen), "the run")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen)
        try:
            await until(pilot, lambda: run.steps.state_of("start") == "running", "start")
            await until(pilot, lambda: any(" start " in line and "✓" not in line
                                           for line in screen_text(app).splitlines()),
                        "the running step scrolled into view")
        finally:
            engine.start_gate.set()
        await until(pilot, lambda: run.outcome is not None, "the outcome")
        await until(pilot, lambda: "✓ ok" in screen_text(app), "the outcome scrolled to")


async def test_a_cancel_question_left_open_closes_when_the_run_ends_first() -> None:
    """The question stayed open over the outcome, still asking about the step it was at
    (operator drive); now it closes unanswered and says the run ended."""
    engine = release_engine()
    engine.pull_gate = threading.Event()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        screen = await deploy_held_at_pull(pilot, app)
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the question")
        engine.pull_gate.set()  # the run goes on and ends while the question is open
        await until(pilot, lambda: screen.outcome is not None, "the outcome")
        await until(pilot, lambda: app.screen is screen, "the question closed")
        assert screen.outcome == "ok" and not screen.cancelled.is_set()
        await until(pilot, lambda: any("before the cancel was answered" in n.message
                                       for n in app._notifications), "why it closed")
