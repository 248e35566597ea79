"""With many hosts, the ones in trouble are at the top of the sidebar (issue 15)."""

from __future__ import annotations

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
