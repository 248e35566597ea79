"""The backups screen (K): the list, backup now, verify, restore, download, migrate, the
override, read-only; and a deploy of an app with a migration showing its output.

A real AppBackups runs over the fake host: its journal in FakeHostFiles, dump files in
FakeBackupStore (pg_restore --list answers for files starting with PGDMP), the
migration in FakeJobs (scripted output lines, optionally held after the first).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from opsui.domain.errors import ActionFailed
from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.backups import BackupsScreen, DownloadModal
from opsui.ui.screens.confirm import ConfirmModal
from opsui.ui.screens.deploy import DeployScreen, PlanConfirmModal, ReleaseRunScreen

from .helpers import make_app, screen_text, until
from .test_ui_releases import SIZE, confirm_tag, notes, open_deploy, release_engine, select
from fakes import (
    BAD,
    FAILED_DUMP,
    FOLDER,
    GOOD,
    OLD,
    PRE,
    UNCHECKED,
    FakeConnection,
    seed_backups,
)
from fakes import (
    SHOP_BACKED_UP as SHOP,
)


def seeded() -> FakeConnection:
    conn = FakeConnection("local", release_engine())
    seed_backups(conn)
    return conn


def backups_app(conn: FakeConnection | None = None, gate: ActionGate | None = None
                ) -> tuple[OpsuiApp, FakeConnection]:
    conn = conn or seeded()
    return make_app(conn, gate=gate, apps=(SHOP,)), conn


async def open_backups(pilot: Pilot[Any], app: OpsuiApp) -> BackupsScreen:
    await select(pilot, app, "shop-web-1")
    await pilot.press("K")
    await until(pilot, lambda: isinstance(app.screen, BackupsScreen)
                and app.screen.status is not None, "the backups")
    screen = app.screen
    assert isinstance(screen, BackupsScreen)
    return screen


async def pick(pilot: Pilot[Any], screen: BackupsScreen, backup_id: str) -> None:
    table = screen.query_one(DataTable)
    row = next(i for i, b in enumerate(screen.shown()) if b.id == backup_id)
    table.move_cursor(row=row)
    await until(pilot, lambda: (found := screen.selected()) is not None
                and found.id == backup_id, f"the cursor on {backup_id}")


def rows(screen: BackupsScreen) -> list[tuple[str, str]]:
    """(id, verified mark) of every row, top to bottom."""
    table = screen.query_one(DataTable)
    return [(table.get_row_at(i)[0].plain, table.get_row_at(i)[3].plain.strip())
            for i in range(table.row_count)]


async def test_the_list_shows_backups_newest_first_with_their_verified_state() -> None:
    app, _ = backups_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backups(pilot, app)
        assert rows(screen) == [(BAD, "✗"), (FAILED_DUMP, "✗"), (UNCHECKED, "?"),
                                (PRE, "✓"), (OLD, "✓")]
        text = screen_text(app)
        for shown in ("Backups shop on local", "4 backups, 2 verified", "postgres (database "
                      "shop in shop-db-1)", f"destination {FOLDER}", "keep 7 newest",
                      "before migration r20261123100000-1234", "2026-11-23 09:00Z (3h 00m "
                      "ago)", "3.9 KiB", "dump failed: pg_dump: error: conn…",
                      "pg_restore --list found no entries", "manual"):
            assert shown in text, shown
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, BackupsScreen), "back")


async def backup_held_after_its_first_chunk(pilot: Pilot[Any], app: OpsuiApp
                                            ) -> BackupsScreen:
    """b, the question (checked), y: the dump runs and waits on the store's dump gate."""
    screen = await open_backups(pilot, app)
    await pilot.press("b")
    await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the question")
    assert "Backup shop on local?" in screen_text(app)
    await pilot.press("y")
    await until(pilot, lambda: app.screen is screen and "at 2.5 MiB/s" in screen.last,
                "the progress")
    return screen


async def test_backup_now_shows_its_progress_and_ends_verified() -> None:
    app, conn = backups_app()
    store = conn.fake_store
    store.dump_gate = threading.Event()
    async with app.run_test(size=SIZE) as pilot:
        screen = await backup_held_after_its_first_chunk(pilot, app)
        assert screen.busy == "backing up"
        await pilot.pause()
        assert "Backing up: 2.5 KiB at 2.5 MiB/s" in screen_text(app)  # 1st of 4 chunks
        store.dump_gate.set()
        await until(pilot, lambda: "verified:" in screen.last, "the verdict")
        assert screen.last.startswith("✓ b")
        assert "pg_restore --list: 2 entries" in screen.last
        await until(pilot, lambda: len(rows(screen)) == 6, "the new row")
        newest = rows(screen)[0]
        assert newest[1] == "✓" and newest[0] not in (BAD, OLD)
        assert [c[0] for c in store.calls].count("dump") == 1


async def test_verify_of_a_corrupted_backup_shows_it_failed() -> None:
    app, conn = backups_app()
    conn.fake_store.corrupt(f"{FOLDER}/shop-{OLD}.dump")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backups(pilot, app)
        await pick(pilot, screen, PRE)
        await pilot.press("v")
        await until(pilot, lambda: "verified:" in screen.last, "the good verdict")
        assert screen.last.startswith(f"✓ {PRE} verified: sha256 matches")
        await pick(pilot, screen, OLD)
        await pilot.press("v")
        await until(pilot, lambda: "FAILED" in screen.last, "the bad verdict")
        assert "sha256 differs from the journal's" in screen.last
        assert any(f"{OLD}: FAILED" in n for n in notes(app))
        await until(pilot, lambda: (OLD, "✗") in rows(screen), "the row turned ✗")


async def test_restore_needs_the_typed_name_then_shows_its_steps() -> None:
    app, conn = backups_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backups(pilot, app)
        await pick(pilot, screen, PRE)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the question")
        modal = app.screen
        text = screen_text(app)
        for shown in ("Restore shop on local? Type 'shop' to confirm.", f"backup    {PRE}",
                      "a safety backup", "lock → check backup → safety backup → restore"):
            assert shown in text, shown
        await pilot.press("enter")  # an empty name does not confirm
        assert app.screen is modal
        await pilot.press(*"sho", "enter")
        assert app.screen is modal
        await pilot.press("p", "enter")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.outcome is not None, "the restore's outcome")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen)
        assert run.outcome == "ok", screen_text(app)
        for step in ("lock", "check backup", "safety backup", "restore"):
            assert run.steps.state_of(step) == "ok", step
        text = screen_text(app)
        assert "Restore shop on local" in text and f"restored {PRE}" in text
        assert ("restore", f"{FOLDER}/shop-{PRE}.dump") in conn.fake_store.calls
        assert [c[0] for c in conn.fake_store.calls].count("dump") == 1  # the safety backup
        await until(pilot, lambda: any("Restore of shop on local: ok" in n
                                       for n in notes(app)), "the notification")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen and len(rows(screen)) == 6,
                    "back, with the safety backup listed")
        assert "restore from" in screen_text(app)  # the header's "last" line


async def test_download_writes_the_file_and_says_where(tmp_path: Path) -> None:
    app, _ = backups_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backups(pilot, app)
        await pick(pilot, screen, OLD)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DownloadModal), "the path")
        field = app.screen.query_one(Input)
        assert field.value == f"~/opsui-backups/shop-{OLD}.dump"
        target = tmp_path / "here" / "shop.dump"
        field.value = str(target)
        await pilot.press("enter")
        await until(pilot, lambda: "downloaded" in screen.last, "the download")
        assert target.read_bytes() == GOOD
        assert any(f"Downloaded {OLD} to {target}" in n for n in notes(app))


async def test_migrate_streams_its_output_while_it_runs() -> None:
    app, conn = backups_app()
    jobs = conn.fake_jobs
    jobs.gate = threading.Event()
    jobs.lines = ["Running upgrade 1 -> 2", "\x1b]0;owned\x07[bold]ALTER TABLE[/bold] done"]
    async with app.run_test(size=SIZE) as pilot:
        await open_backups(pilot, app)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the question")
        text = screen_text(app)
        for shown in ("Migrate shop on local?", "alembic upgrade head",
                      "lock → backup → migrate", "a one-off container like shop-web-1"):
            assert shown in text, shown
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.output_lines == 1, "the first output line")
        run = app.screen
        assert isinstance(run, ReleaseRunScreen)
        assert run.steps.state_of("backup") == "ok"
        assert run.steps.state_of("migrate") == "running"
        assert "Running upgrade 1 -> 2" in screen_text(app)
        assert "Output (1 lines)" in screen_text(app)
        jobs.gate.set()
        await until(pilot, lambda: run.outcome is not None, "the outcome")
        assert run.outcome == "ok", screen_text(app)
        text = screen_text(app)
        assert "[bold]ALTER TABLE[/bold] done" in text  # literally, the OSC gone
        assert "owned" not in text.replace("[bold]", "")
        assert jobs.runs == [("opsui-test/app:1.0.0", ("alembic", "upgrade", "head"))]


async def test_a_failed_backup_before_a_migration_asks_for_the_typed_override() -> None:
    app, conn = backups_app()
    conn.fake_store.failure = ActionFailed("pg_dump: error: connection refused")
    async with app.run_test(size=SIZE) as pilot:
        await open_backups(pilot, app)
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the question")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal)
                    and not isinstance(app.screen, PlanConfirmModal), "the override")
        text = screen_text(app)
        assert "without backup' to confirm" in text
        assert "connection refused" in text
        assert conn.fake_jobs.runs == []  # nothing migrated yet
        await pilot.press(*"shop without backup", "enter")
        await until(pilot, lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.outcome == "ok", "the migration with the override")
        assert len(conn.fake_jobs.runs) == 1


async def test_read_only_refuses_the_changing_keys_before_anything_runs() -> None:
    app, conn = backups_app(gate=ActionGate(read_only=True))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backups(pilot, app)  # reading is fine
        await pick(pilot, screen, OLD)
        for key, said in (("b", "Refused to backup"), ("r", "Refused to restore"),
                          ("m", "Refused to migrate"), ("v", "Refused to verify")):
            await pilot.press(key)

            def noted(said: str = said) -> bool:
                return any(said in n for n in notes(app))

            await until(pilot, noted, said)
        await pilot.pause(0.2)
        assert app.screen is screen
        assert all(n.title == "Read-only" for n in app._notifications
                   if "Refused" in n.message)
        assert conn.fake_store.calls == [] and conn.fake_jobs.runs == []


async def test_a_deploy_of_an_app_with_a_migration_shows_its_backup_migrate_and_output(
        ) -> None:
    app, conn = backups_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_deploy(pilot, app)
        await confirm_tag(pilot, app, downs=1)
        assert "lock → pull → backup → migrate → create" in screen_text(app)
        await pilot.press("y")
        await until(pilot, lambda: screen.outcome is not None, "the outcome")
        assert isinstance(screen, DeployScreen)
        assert screen.outcome == "ok", screen_text(app)
        assert screen.steps.state_of("backup") == "ok"
        assert screen.steps.state_of("migrate") == "ok"
        assert screen.output_lines == 2
        assert "Running upgrade  -> 3f2a1b" in screen_text(app)
        assert conn.fake_jobs.runs[0][0] == "opsui-test/app:2.0.0"
