"""The history screen says when what opsui released no longer serves (issue 13).

Compose's ``up -d`` (or anyone) may replace the container a deploy made; the journal
still names the release. Driven by keys against fakes: a real deploy through the fake
engine, then the container is swapped for another behind opsui's back.
"""

from __future__ import annotations

import dataclasses

from opsui.ui.screens.deploy import DeployScreen, PlanConfirmModal
from opsui.ui.screens.history import HistoryScreen

from .helpers import make_app, screen_text, until
from .test_ui_releases import SIZE, release_engine, select
from fakes import FakeConnection


async def test_history_says_a_replaced_release_does_not_serve() -> None:
    engine = release_engine()
    app = make_app(FakeConnection("local", engine))
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, "shop-web-1")
        await pilot.press("D")
        await until(pilot, lambda: isinstance(app.screen, DeployScreen)
                    and bool(app.screen.choices), "the tag list")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, PlanConfirmModal), "the plan")
        await pilot.press("y")
        await until(pilot, lambda: screen.outcome is not None, "the outcome")
        released = next(c for c in engine.list_containers() if c.name == "shop-web-1")
        assert released.image.endswith(":2.0.0")
        # compose up -d recreates the service from its file: another container, 1.0.0
        engine.remove(released.id)
        engine.put(dataclasses.replace(released, id="c" * 64, image="opsui-test/app:1.0.0",
                                       labels={}))
        await pilot.press("escape")
        await select(pilot, app, "shop-web-1")
        await pilot.press("H")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                    and app.screen.status is not None, "the history")
        text = screen_text(app)
        assert "(2.0.0) does not serve" in text and "shop-web-1 (opsui-test/app:1.0.0)" \
            in text, text
        deploy_line = next(line for line in text.splitlines() if "2.0.0" in line
                           and "deploy" in line)
        assert "✗" in deploy_line and "▶" not in deploy_line
