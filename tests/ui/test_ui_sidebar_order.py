"""With many hosts, the ones in trouble are at the top of the sidebar (issue 15)."""

from __future__ import annotations

from textual.widgets import OptionList
from textual.widgets.option_list import Option

from opsui.domain.errors import HostUnreachable
from opsui.domain.models import Health
from opsui.ui.widgets.host_sidebar import HostSidebar

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, container


def _fine(name: str) -> FakeConnection:
    return FakeConnection(name, FakeEngine([container(f"{name}1", f"{name}-web")]))


async def test_broken_hosts_then_hosts_with_unhealthy_containers_come_first() -> None:
    sick = FakeEngine([container("s1", "shop-web", health=Health.UNHEALTHY)])
    app = make_app(_fine("local"), _fine("web1"),
                   FakeConnection("web2", failure=HostUnreachable("web2: connection refused")),
                   FakeConnection("web3", sick), _fine("web4"))
    async with app.run_test(size=(160, 45)) as pilot:
        sidebar = app.screen.query_one(HostSidebar)
        want = ["web2", "web3", "local", "web1", "web4"]  # config order within a group
        await until(pilot, lambda: sidebar.order == want, "trouble first")
        text = screen_text(app)
        assert text.index("web2") < text.index("web3") < text.index("web1")
        # the table still shows the host the operator was on, and [ ] walk the list
        # as it is shown, so the next host after local is web1, the previous web3
        assert "local │" in text
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "web1 │" in screen_text(app), "web1 after local")
        await pilot.press("left_square_bracket", "left_square_bracket")
        await until(pilot, lambda: "web3 │" in screen_text(app), "web3 before local")


async def test_a_host_that_recovers_moves_back_and_keeps_the_highlight() -> None:
    sick = FakeEngine([container("s1", "shop-web", health=Health.UNHEALTHY)])
    app = make_app(_fine("local"), FakeConnection("web1", sick))
    async with app.run_test(size=(160, 45)) as pilot:
        sidebar = app.screen.query_one(HostSidebar)
        await until(pilot, lambda: sidebar.order == ["web1", "local"], "web1 first")
        assert sidebar.highlighted_host == "local"
        sick.put(container("s1", "shop-web", health=Health.HEALTHY))  # an event: healthy
        await until(pilot, lambda: sidebar.order == ["local", "web1"], "config order again")
        assert sidebar.highlighted_host == "local"


def _rendered(options: OptionList, which: list[Option]) -> dict[tuple[object, ...], int]:
    """The rendered lines the option list keeps for ``which``: cache key -> identity of
    the lines (an LRUCache: no __iter__, hence keys())."""
    cache = options._option_render_cache
    return {key: id(cache.get(key)) for key in cache.keys()  # noqa: SIM118
            if key[0] in which}


async def test_a_changed_host_entry_is_drawn_again_alone() -> None:
    """Twenty hosts: a ping time or a health change of one host must not re-render every
    entry (OptionList's own prompt replacement does; it was the idle dashboard's largest
    cost after the table)."""
    sick = FakeEngine([container("s1", "shop-web", health=Health.UNHEALTHY),
                       container("s2", "shop-api", health=Health.HEALTHY)])
    app = make_app(_fine("local"), FakeConnection("web1", sick), _fine("web2"))
    async with app.run_test(size=(160, 45)) as pilot:
        options = app.screen.query_one(HostSidebar).option_list
        await until(pilot, lambda: "web1  ✗1" in screen_text(app), "web1 with one unhealthy")
        others = [options.get_option(name) for name in ("local", "web2")]
        drawn = _rendered(options, others)
        assert {key[0] for key in drawn} == set(others)
        sick.put(container("s2", "shop-api", health=Health.UNHEALTHY))
        await until(pilot, lambda: "web1  ✗2" in screen_text(app), "web1 with two")
        kept = _rendered(options, others)
        assert drawn.items() <= kept.items()  # the very same lines: not rendered again
        assert "local" in screen_text(app) and "web2" in screen_text(app)
