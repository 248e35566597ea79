"""opsui.toml's [keys] and theme, and theme files: remaps work, mistakes are reported."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from textual.command import CommandPalette

from opsui.domain.operations.gate import ActionGate
from opsui.ui.app import OpsuiApp
from opsui.ui.keys import binding_ids
from opsui.ui.screens.confirm import ConfirmModal
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.themes import load_themes, parse_theme, theme_sources
from opsui.ui.widgets.container_table import ContainerTable

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, config, shop_containers


def _messages(app: OpsuiApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_every_binding_has_an_id_and_a_tooltip() -> None:
    bindings = binding_ids(OpsuiApp.bound_classes())
    ours = {i: b for i, b in bindings.items() if i.split(".")[0] in
            {"app", "dashboard", "container", "detail", "confirm", "filter"}}
    assert {"app.quit", "dashboard.filter", "dashboard.detail", "dashboard.sort",
            "container.restart", "container.stop", "container.start", "detail.back",
            "confirm.yes", "confirm.no", "filter.clear", "app.toggle_theme"} <= set(ours)
    assert all(b.tooltip for b in ours.values())


async def test_keys_remap_from_config_changes_the_binding() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine),
                   keys=MappingProxyType({"container.restart": "ctrl+e",
                                          "dashboard.detail": "o"}))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("r")  # the old key no longer restarts
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmModal)
        assert "^e Restart" in screen_text(app)  # the footer shows the new key
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "dialog via ctrl+e")
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmModal), "dialog closed")
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail via o")
        assert engine.calls == []


async def test_unknown_binding_id_is_reported_not_fatal() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())),
                   keys=MappingProxyType({"container.restrat": "ctrl+e"}), source="opsui.toml")
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: any("container.restrat" in m for m in _messages(app)),
                    "unknown id notification")
        message = next(m for m in _messages(app) if "container.restrat" in m)
        assert "opsui.toml" in message
        assert app.is_running


async def test_unknown_theme_falls_back_to_opsui_dark_with_a_notification() -> None:
    app = make_app(FakeConnection("local", FakeEngine()), theme="solarized-nope")
    async with app.run_test(size=(120, 30)):
        assert app.theme == "opsui-dark"
        assert any("solarized-nope" in m and "opsui-dark" in m for m in _messages(app))


async def test_user_theme_is_used_and_broken_theme_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "night.toml").write_text('name = "night"\nprimary = "#ff8800"\n')
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    app = OpsuiApp(config(theme="night"), ActionGate(), lambda listener: [], theme_dir=tmp_path)
    async with app.run_test(size=(120, 30)):
        assert app.theme == "night"
        problems = [m for m in _messages(app) if "broken.toml" in m]
        assert problems and "'primary'" in problems[0]


async def test_broken_configured_theme_falls_back(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "mine"\ndark = "yes"\nprimary = "#123456"\n')
    app = OpsuiApp(config(theme="mine"), ActionGate(), lambda listener: [], theme_dir=tmp_path)
    async with app.run_test(size=(120, 30)):
        assert app.theme == "opsui-dark"
        messages = " ".join(_messages(app))
        assert "mine.toml" in messages and "'dark'" in messages
        assert "Unknown theme 'mine'" in messages


def test_bundled_themes_parse_and_name_themselves() -> None:
    loaded = load_themes(theme_sources(user_dir=Path("/nonexistent")))
    assert loaded.problems == []
    names = {t.name: t for t in loaded.themes}
    assert names["opsui-dark"].dark and not names["opsui-light"].dark


def test_theme_errors_name_the_key() -> None:
    for text, key in [('primary = "#fff"', "name"), ('name = "x"', "primary"),
                      ('name = "x"\nprimary = "#fff"\ncolour = "red"', "colour"),
                      ('name = "x"\nprimary = "#fff"\n[variables]\nfoo = 3', "variables.foo"),
                      ('name = "x"\nprimary = "#fff"\ntext_alpha = "a"', "text_alpha"),
                      ("name = ", "(file)")]:
        try:
            parse_theme("t.toml", text)
        except Exception as exc:
            assert f"'{key}'" in str(exc) and "t.toml" in str(exc), (text, exc)
        else:
            raise AssertionError(f"accepted {text!r}")


async def test_toggle_theme_switches_light_and_recolours_cells() -> None:
    app = make_app(FakeConnection("local", FakeEngine(shop_containers())))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        worker = next(c for c in app.state.hosts["local"].containers.values()
                      if c.name == "shop-worker-1")
        dark_style = table.get_cell(worker.id, "health").style
        await pilot.press("ctrl+t")
        await until(pilot, lambda: table.get_cell(worker.id, "health").style != dark_style,
                    "light-theme colours")
        assert app.theme == "opsui-light"


async def test_palette_offers_commands_for_the_selected_container_and_hosts() -> None:
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine), FakeConnection("prod", FakeEngine()))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count == 6, "six rows")
        await pilot.press("ctrl+home")  # the dashboard starts on the first container in trouble
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette")
        await pilot.press(*"restart billing")
        await until(pilot, lambda: "Restart billing-api-1" in screen_text(app), "restart entry")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal), "confirm dialog")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmModal), "closed")

        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette again")
        await pilot.press(*"switch to host prod", "enter")
        await until(pilot, lambda: app.dashboard is not None and app.dashboard.host == "prod",
                    "prod selected")
        assert engine.calls == []
