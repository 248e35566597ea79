"""Issue 13 on screen: a compose service's replicas in the deploy preview, the drain
counted down while it runs, every replica released."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from opsui.domain.models import ContainerState
from opsui.domain.settings import AppConfig, DeploySettings

from .helpers import make_app, screen_text, until
from .test_ui_releases import APP, SIZE, confirm_tag, open_deploy
from fakes import NOW, FakeConnection, FakeEngine, container
from fakes.traffic import FakeTraffic

COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "api"}


def api_engine() -> tuple[FakeEngine, FakeTraffic]:
    """Two replicas of shop/api reached by the alias ``api``; 2.0.0 in the registry."""
    replicas = [dataclasses.replace(container(f"p{i}", f"shop-api-{i}", image=f"{APP}:1.0.0",
                                              project="shop", service="api"),
                                    labels=dict(COMPOSE)) for i in (1, 2)]
    engine = FakeEngine(replicas)
    engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    traffic = FakeTraffic(engine)
    for replica in replicas:
        traffic.table[replica.id] = {"shop_default": ("api",)}
    engine.traffic = traffic  # type: ignore[attr-defined]  # the Docker engine has it
    return engine, traffic


async def test_the_preview_lists_the_replicas_and_the_drain_counts_down() -> None:
    engine, _ = api_engine()
    settings = DeploySettings(drain_seconds=1.5, settle_seconds=0.1)
    app = make_app(FakeConnection("local", engine),
                   apps=(AppConfig("api", service="shop/api", deploy=settings),))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_deploy(pilot, app, "shop-api-1")
        await confirm_tag(pilot, app, downs=0)  # 2.0.0, the newest
        text = screen_text(app)
        assert "replicas: 2 containers (shop-api-1, shop-api-2)" in text
        assert "by alias api on shop_default" in text
        await pilot.press("y")
        await until(pilot, lambda: "left of 1.5s" in screen_text(app), "the drain countdown")
        await until(pilot, lambda: screen.outcome is not None, "the outcome")
        assert screen.outcome == "ok"
        for step in ("drain (shop-api-1)", "drain (shop-api-2)"):
            assert screen.steps.state_of(step) == "ok", step
    serving = {c.name: c.image for c in engine.list_containers()
               if c.state is ContainerState.RUNNING}
    assert serving == {"shop-api-1": f"{APP}:2.0.0", "shop-api-2": f"{APP}:2.0.0"}
