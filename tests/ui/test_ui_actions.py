"""Start / stop / restart through the gate: what is asked, and what reaches the engine."""

from __future__ import annotations

from types import MappingProxyType

from textual.pilot import Pilot
from textual.widgets import Button, Input

from opsui.domain.operations.gate import ActionGate, MemoryAudit
from opsui.domain.operations.policy import DEFAULT_CONFIRMATIONS, ConfirmPolicy
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.confirm import ConfirmModal
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, shop_containers


def _gate(**policies: ConfirmPolicy) -> ActionGate:
    return ActionGate(confirm=MappingProxyType({**DEFAULT_CONFIRMATIONS,
                                                **{k: v for k, v in policies.items()}}))


async def _select(pilot: Pilot[None], app: OpsuiApp, name: str) -> str:
    """Move the cursor to ``name``; return its id."""
    table = app.screen.query_one(ContainerTable)
    await until(pilot, lambda: table.row_count == 6, "six rows")
    await pilot.press("ctrl+home")  # the dashboard starts on the first container in trouble
    for _ in range(table.row_count):
        if table.selected is not None and table.selected.name == name:
            return table.selected.id
        await pilot.press("down")
    raise AssertionError(f"{name} not in table")


async def test_restart_asks_and_n_cancels_without_touching_the_engine() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        await _select(pilot, app, "shop-web-1")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirm dialog")
        assert "Restart shop-web-1 on local?" in screen_text(app)
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmModal), "dialog closed")
        await pilot.pause()
        assert engine.calls == []
        assert any("Cancelled" in n.message for n in app._notifications)


async def test_restart_y_restarts_the_selected_container() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        cid = await _select(pilot, app, "shop-worker-1")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirm dialog")
        await pilot.press("y")
        await until(pilot, lambda: engine.calls == [("restart", cid)], "engine.restart")
        await until(pilot, lambda: any("Restarted shop-worker-1 on local" in n.message
                                       for n in app._notifications), "done notification")
        audit = app.gate.audit
        assert isinstance(audit, MemoryAudit) and audit.entries[-1].outcome == "ok"


async def test_enter_on_the_dialog_defaults_to_cancel() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=(160, 40)) as pilot:
        await _select(pilot, app, "shop-db-1")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirm dialog")
        await pilot.press("enter")  # focus starts on Cancel: a reflexive Enter does nothing
        await until(pilot, lambda: not isinstance(app.screen, ConfirmModal), "dialog closed")
        assert engine.calls == []


async def test_type_policy_needs_the_exact_name_before_confirm_enables() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine), gate=_gate(stop=ConfirmPolicy.TYPE))
    async with app.run_test(size=(160, 40)) as pilot:
        cid = await _select(pilot, app, "billing-api-1")
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirm dialog")
        modal = app.screen
        confirm = modal.query_one("#confirm-yes", Button)
        assert "Type 'billing-api-1' to confirm" in screen_text(app)
        assert confirm.disabled

        # The name contains "n": typed into the field, it must not cancel the dialog.
        await pilot.press(*"billing-api", "enter")  # incomplete: nothing happens
        await pilot.pause()
        assert isinstance(app.screen, ConfirmModal)
        assert confirm.disabled
        assert engine.calls == []

        await pilot.press(*"-1")
        assert modal.query_one("#confirm-input", Input).value == "billing-api-1"
        assert not confirm.disabled
        await pilot.press("enter")
        await until(pilot, lambda: engine.calls == [("stop", cid)], "engine.stop")


async def test_none_policy_runs_at_once() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine), gate=_gate(start=ConfirmPolicy.NONE))
    async with app.run_test(size=(160, 40)) as pilot:
        cid = await _select(pilot, app, "scratchpad")
        await pilot.press("u")
        await until(pilot, lambda: engine.calls == [("start", cid)], "engine.start")
        assert not isinstance(app.screen, ConfirmModal)


async def test_read_only_refuses_with_a_notification_and_calls_nothing() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine), gate=ActionGate(read_only=True))
    async with app.run_test(size=(160, 40)) as pilot:
        await _select(pilot, app, "shop-web-1")
        assert "READ-ONLY" in screen_text(app)
        await pilot.press("r")
        await until(pilot, lambda: any("Refused" in n.message for n in app._notifications),
                    "refusal notification")
        note = next(n for n in app._notifications if "Refused" in n.message)
        assert "read-only" in note.message
        assert "--read-only" in note.message  # the hint says how to get out of it
        assert not isinstance(app.screen, ConfirmModal)
        assert engine.calls == []


async def test_read_only_host_shows_badge_in_sidebar() -> None:
    gate = ActionGate(read_only_hosts=frozenset({"prod"}))
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())),
                   FakeConnection("prod", FakeEngine(shop_containers())), gate=gate)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: "prod  RO" in screen_text(app), "RO badge on prod")
        assert "local  RO" not in screen_text(app)
        assert "READ-ONLY" not in screen_text(app)  # local is selected and writable
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "READ-ONLY" in screen_text(app), "badge for prod")
