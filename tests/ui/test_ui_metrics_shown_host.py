"""With several hosts, only the shown host's metrics are sampled (issue 15).

Over SSH a metrics sample is a shell on the host every 2 s; with twenty hosts in the
sidebar that was ten shells a second for gauges nobody saw. Switching hosts moves the
sampling with the panel.
"""

from __future__ import annotations

from opsui.domain.models import HostMetrics

from .helpers import make_app, screen_text, until
from fakes import FakeConnection, FakeEngine, container
from fakes.common import metrics_sample


class CountingMetrics:
    """A host's metrics source that counts the samples taken on it."""

    def __init__(self, cpu: float) -> None:
        self.cpu = cpu
        self.samples = 0

    def sample(self) -> HostMetrics:
        self.samples += 1
        return metrics_sample(self.cpu)


class CountedHost(FakeConnection):
    def __init__(self, name: str, cpu: float) -> None:
        super().__init__(name, FakeEngine([container(f"{name}1", f"{name}-web")]))
        self.counting = CountingMetrics(cpu)

    @property
    def metrics(self) -> CountingMetrics:
        return self.counting



async def test_the_hidden_host_is_not_sampled_and_the_panel_follows_the_switch() -> None:
    local, web1 = CountedHost("local", 23.0), CountedHost("web1", 61.0)
    app = make_app(local, web1)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: "23.0%" in screen_text(app),
                    "local's CPU in the panel")
        hidden = web1.counting.samples  # (it may have sampled once before the screen)
        shown = local.counting.samples
        await until(pilot, lambda: local.counting.samples >= shown + 3, "local sampled on")
        assert web1.counting.samples == hidden
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "web1 │" in screen_text(app), "web1 shown")
        await until(pilot, lambda: "61.0%" in screen_text(app), "web1's CPU in the panel")
        assert web1.counting.samples > hidden
        after = local.counting.samples
        await until(pilot, lambda: web1.counting.samples >= hidden + 4, "web1 sampled on")
        assert local.counting.samples <= after + 1  # at most one already under way
