"""The small host ports: metrics (:class:`~opsui.domain.ports.MetricsSource`), HTTP
health (:class:`~opsui.domain.ports.HealthProber`) and commands
(:class:`~opsui.domain.ports.CommandRunner`), each answering at once."""

from __future__ import annotations

from opsui.domain.models import HostMetrics, HttpHealth
from opsui.domain.ports import CommandResult

from .common import metrics_sample


class FakeMetrics:
    def sample(self) -> HostMetrics:
        return metrics_sample(23.0)


class FakeProber:
    def __init__(self, results: dict[str, HttpHealth] | None = None) -> None:
        self.results = results or {}

    def probe(self, url: str, timeout: float = 5.0) -> HttpHealth:
        return self.results.get(url, HttpHealth(url, True, 200, 3.0))


class FakeRunner:
    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        return CommandResult(0, b"", b"")
