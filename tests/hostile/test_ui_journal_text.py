"""A journal on a host is host text: anyone with write access to the state folder can
put controls in a record. The history shows the fields opsui reads from it inert."""

from __future__ import annotations

from ui.helpers import make_app, screen_text, until

from opsui.config import DEFAULT_STATE_DIR, AppConfig
from opsui.domain.history import encode_record, journal_path
from opsui.ui.screens.history import HistoryScreen, ReleaseDetailScreen
from opsui.ui.widgets.container_table import ContainerTable

from .payloads import CONTROLS, INTRODUCERS, shown
from fakes import FakeConnection, FakeEngine, FakeHostFiles, shop_containers

FIELD = "HXS" + "".join(chr(code) for code in (0x202E, 0x2066, 0x200B, 0x7, 0x85, 0xFEFF))


def _journal() -> FakeHostFiles:
    files = FakeHostFiles()
    record = {"type": "release", "id": "r-hostile", "action": "deploy",
              "image": "opsui-test/app:9.9.9", "who": "eve@desk",
              "at": "2026-11-23T11:40:00+00:00", "strategy": FIELD}
    files.append_record(journal_path(DEFAULT_STATE_DIR, "shop"), encode_record(record))
    return files


async def test_a_hostile_journal_field_is_shown_inert_in_the_release_detail() -> None:
    shop = AppConfig("shop", service="shop/web")
    engine = FakeEngine(shop_containers())
    app = make_app(FakeConnection("local", engine, files=_journal()), apps=(shop,))
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.screen.query_one(ContainerTable)
        await until(pilot, lambda: table.row_count > 0, "the table")
        row = next(i for i in range(table.row_count)
                   if table.get_row_at(i)[0].plain == "shop-web-1")
        table.move_cursor(row=row)
        await until(pilot, lambda: table.selected is not None
                    and table.selected.name == "shop-web-1", "the cursor on shop-web-1")
        await pilot.press("H")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen)
                    and app.screen.status is not None, "the history")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ReleaseDetailScreen), "the detail")
        await until(pilot, lambda: "strategy" in screen_text(app), "the strategy row")
        text = screen_text(app)
        assert "HXS" + "".join(shown(ord(ch)) for ch in FIELD[3:]) in text
        raw = {chr(c) for c in CONTROLS if c not in INTRODUCERS} - {"\n"}
        assert not raw & set(text)
