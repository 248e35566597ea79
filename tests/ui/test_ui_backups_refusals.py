"""A restore the dashboard refuses is audited like any refused action: a name not typed
(or mistyped) is a refused ``action`` line in the app's journal on the host, as a wrong
``--confirm`` is; a read-only refusal is audited too, but only locally, since read-only
changes nothing on the host, its journal included."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opsui.domain.history import parse_journal
from opsui.domain.operations.gate import ActionGate, MemoryAudit
from opsui.domain.operations.policy import Action
from opsui.ui.screens.deploy import PlanConfirmModal

from .helpers import until
from .test_ui_backups import backups_app, open_backups, pick
from .test_ui_releases import SIZE, notes
from fakes import OLD, PRE, FakeConnection


def journal_actions(conn: FakeConnection) -> list[Mapping[str, Any]]:
    return [record for path, data in conn.fake_files.files.items()
            if path.endswith("journal.jsonl")
            for record in parse_journal(data).records if record.get("type") == "action"]


async def test_a_mistyped_then_cancelled_restore_is_a_refused_line_in_the_journal() -> None:
    app, conn = backups_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backups(pilot, app)
        await pick(pilot, screen, PRE)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the question")
        await pilot.press(*"shoP", "enter")  # wrong: the question stays
        assert isinstance(app.screen, PlanConfirmModal)
        modal = app.screen
        await pilot.press("escape")
        await until(pilot, lambda: journal_actions(conn) != [], "the refusal journaled")
        assert app.screen is not modal
    assert [(r["action"], r["target"], r["detail"], r["outcome"], r["error"])
            for r in journal_actions(conn)] == [
        ("restore", "shop", f"from {PRE}", "refused", "not confirmed")]
    assert conn.fake_store.calls == []  # nothing was restored


async def test_a_read_only_restore_is_audited_here_and_the_host_is_untouched() -> None:
    audit = MemoryAudit()
    app, conn = backups_app(gate=ActionGate(read_only=True, audit=audit))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_backups(pilot, app)
        journal = dict(conn.fake_files.files)
        await pick(pilot, screen, OLD)
        await pilot.press("r")
        await until(pilot, lambda: any("Refused to restore" in n for n in notes(app)),
                    "the refusal")
    assert [(e.request.action, e.outcome) for e in audit.entries] == [
        (Action.RESTORE, "refused")]
    assert "read-only" in audit.entries[0].error
    assert conn.fake_files.files == journal
