"""Container stats over SSH from one ``docker stats`` command, and the engine's fallback."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from opsui.backends.docker_cli_stats import (
    STATS_ARGV,
    CliStats,
    CliStatsFailed,
    parse_percent,
    parse_size,
    parse_stats_line,
)
from opsui.backends.docker_engine import BULK_STATS_ATTEMPTS, DockerEngine
from opsui.domain.errors import HostUnreachable
from opsui.domain.models import ContainerStats
from opsui.domain.ports import CommandResult

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
RUNNING_ID = "9fe6e2ffb98a38d16f3b17e428464fe8f6b2176a4847fd46ea585cb9dbd11d54"
STOPPED_ID = "5e1c8d9669054c5bd0f2b0ad3f7e5a9a1b8e7c6d5f4a3b2c1d0e9f8a7b6c5d4e"

# Captured from `docker stats --no-stream --no-trunc --format '{{json .}}'` (CLI 28.2):
# a running container, then one that is created but not running.
RUNNING = (
    '{"BlockIO":"0B / 0B","CPUPerc":"12.34%","Container":"' + RUNNING_ID + '","ID":"'
    + RUNNING_ID + '","MemPerc":"0.00%","MemUsage":"316KiB / 23.54GiB",'
    '"Name":"opsui-bench-099","NetIO":"1.01kB / 0B","PIDs":"1"}'
)
STOPPED = (
    '{"BlockIO":"0B / 0B","CPUPerc":"0.00%","Container":"' + STOPPED_ID + '","ID":"'
    + STOPPED_ID + '","MemPerc":"0.00%","MemUsage":"0B / 0B","Name":"opsui-stopped",'
    '"NetIO":"0B / 0B","PIDs":"0"}'
)


@pytest.mark.parametrize(("text", "size"), [
    ("0B", 0), ("316KiB", 316 * 1024), ("23.54GiB", round(23.54 * 1024**3)),
    ("1.5MiB", 1572864), ("2kB", 2000), (" 7.7GiB ", round(7.7 * 1024**3)),
    ("", None), ("--", None), ("12parsecs", None),
])
def test_sizes_in_the_cli_units(text: str, size: int | None) -> None:
    assert parse_size(text) == size


def test_percent_and_its_placeholder() -> None:
    assert parse_percent("12.34%") == 12.34
    assert parse_percent("--") is None


def test_a_running_container_gives_cpu_memory_and_limit() -> None:
    asked, sample = parse_stats_line(RUNNING, NOW)
    assert asked == RUNNING_ID
    assert sample == ContainerStats(RUNNING_ID, 12.34, 316 * 1024, round(23.54 * 1024**3), NOW)


def test_a_container_that_is_not_running_has_no_sample() -> None:
    assert parse_stats_line(STOPPED, NOW) == (STOPPED_ID, None)


def test_a_line_that_is_not_the_clis_json_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_stats_line("Error response from daemon", NOW)


class FakeRunner:
    def __init__(self, result: CommandResult) -> None:
        self.result = result
        self.argv: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        self.argv.append(argv)
        return self.result


def test_one_command_samples_every_container_asked_about() -> None:
    runner = FakeRunner(CommandResult(0, f"{RUNNING}\n{STOPPED}\n".encode(), b""))
    found = CliStats(runner).sample([RUNNING_ID, STOPPED_ID, RUNNING_ID])
    assert runner.argv == [[*STATS_ARGV, RUNNING_ID, STOPPED_ID]]
    assert set(found) == {RUNNING_ID, STOPPED_ID}
    assert found[STOPPED_ID] is None
    assert (running := found[RUNNING_ID]) is not None and running.cpu_percent == 12.34


def test_a_failed_command_or_a_missing_answer_is_reported() -> None:
    gone = FakeRunner(CommandResult(1, b"", b"Error response from daemon: No such container: x"))
    with pytest.raises(CliStatsFailed, match="No such container"):
        CliStats(gone).sample([RUNNING_ID])
    partial = FakeRunner(CommandResult(0, RUNNING.encode(), b""))
    with pytest.raises(CliStatsFailed, match="left out 1"):
        CliStats(partial).sample([RUNNING_ID, STOPPED_ID])
    garbled = FakeRunner(CommandResult(0, b"not json\n", b""))
    with pytest.raises(CliStatsFailed):
        CliStats(garbled).sample([RUNNING_ID])


def _sample(cid: str) -> ContainerStats:
    return ContainerStats(cid, 1.0, 100, 1000, NOW)


def _engine(bulk: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[DockerEngine, list[str]]:
    """An engine whose one-by-one path is recorded instead of asking a real engine."""
    client: Any = SimpleNamespace(api=SimpleNamespace(api_version="1.41", base_url="ssh"))
    engine = DockerEngine(client, max_stats_feeds=0, bulk_stats=bulk)
    asked: list[str] = []

    def one(cid: str) -> ContainerStats | None:
        asked.append(cid)
        return _sample(cid)

    monkeypatch.setattr(engine, "stats", one)
    return engine, asked


def test_engine_uses_the_bulk_answer_and_leaves_out_stopped_containers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine, asked = _engine(lambda ids: {"a": _sample("a"), "b": None}, monkeypatch)
    assert engine.stats_many(["a", "b"]) == {"a": _sample("a")}
    assert asked == []


def test_engine_falls_back_one_by_one_and_gives_up_on_a_bulk_that_keeps_failing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []

    def failing(ids: list[str]) -> dict[str, ContainerStats | None]:
        calls.append(ids)
        raise CliStatsFailed("docker stats exited 1: No such container: b")

    engine, asked = _engine(failing, monkeypatch)
    for _ in range(BULK_STATS_ATTEMPTS + 2):
        assert set(engine.stats_many(["a", "b"])) == {"a", "b"}  # the tick still has samples
    assert len(calls) == BULK_STATS_ATTEMPTS
    assert sorted(asked) == sorted(["a", "b"] * (BULK_STATS_ATTEMPTS + 2))
    engine.close()


def test_engine_lets_a_lost_link_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def lost(ids: list[str]) -> dict[str, ContainerStats | None]:
        raise HostUnreachable("bench: SSH connection lost")

    engine, asked = _engine(lost, monkeypatch)
    with pytest.raises(HostUnreachable):
        engine.stats_many(["a"])
    assert asked == []

