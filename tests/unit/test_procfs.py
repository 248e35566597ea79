"""The /proc and df parsers behind remote host metrics, on captured real output."""

from __future__ import annotations

import pytest

from opsui.backends.procfs import (
    METRICS_ARGV,
    SEPARATOR,
    CpuTimes,
    ProcParseError,
    RemoteMetrics,
    cpu_percent,
    parse_df,
    parse_loadavg,
    parse_meminfo,
    parse_proc_stat,
    parse_sample,
)
from opsui.domain.errors import HostError
from opsui.domain.ports import CommandResult

STAT = """\
cpu  7338 0 4269 95786 477 0 93 71 0 0
cpu0 2483 0 1721 49732 41 0 13 27 0 0
cpu1 4855 0 2547 46053 435 0 79 43 0 0
intr 1 2 3
ctxt 12345
"""

MEMINFO = """\
MemTotal:       24684092 kB
MemFree:        23723984 kB
MemAvailable:   24248868 kB
Buffers:           15148 kB
Cached:           676624 kB
HugePages_Total:       0
"""

DF_BYTES = """\
Filesystem         1-blocks        Used   Available Capacity Mounted on
/dev/vda       270553174016 23941922816 85002371072      22% /
"""

DF_BUSYBOX = """\
Filesystem           1024-blocks    Used Available Capacity Mounted on
/dev/vda             264212084  23380784  83010128  22% /
"""


def test_proc_stat_uses_the_aggregate_line_and_counts_iowait_as_idle() -> None:
    times = parse_proc_stat(STAT)
    assert times.total == 7338 + 4269 + 95786 + 477 + 93 + 71
    assert times.busy == times.total - 95786 - 477


def test_proc_stat_without_cpu_line_is_an_error() -> None:
    with pytest.raises(ProcParseError):
        parse_proc_stat("intr 1 2 3\n")


def test_cpu_percent_between_two_samples() -> None:
    assert cpu_percent(CpuTimes(100, 1000), CpuTimes(150, 1100)) == pytest.approx(50.0)
    assert cpu_percent(CpuTimes(100, 1000), CpuTimes(100, 1000)) == 0.0


def test_first_cpu_sample_reports_the_average_since_boot() -> None:
    assert cpu_percent(None, CpuTimes(25, 100)) == pytest.approx(25.0)


def test_counter_reset_falls_back_to_since_boot() -> None:
    # A host that rebooted between two samples has smaller counters than before.
    assert cpu_percent(CpuTimes(5000, 10000), CpuTimes(10, 100)) == pytest.approx(10.0)


def test_meminfo_used_is_total_minus_available() -> None:
    mem = parse_meminfo(MEMINFO)
    assert mem.total_bytes == 24684092 * 1024
    assert mem.used_bytes == (24684092 - 24248868) * 1024


def test_meminfo_without_memavailable_uses_free_buffers_cached() -> None:
    old = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"
    assert parse_meminfo(old).used_bytes == 600 * 1024


def test_meminfo_without_total_is_an_error() -> None:
    with pytest.raises(ProcParseError):
        parse_meminfo("MemFree: 1 kB\n")


def test_loadavg() -> None:
    assert parse_loadavg("0.44 0.19 0.08 1/173 12835\n") == (0.44, 0.19, 0.08)
    with pytest.raises(ProcParseError):
        parse_loadavg("garbage")


@pytest.mark.parametrize(("text", "unit"), [(DF_BYTES, 1), (DF_BUSYBOX, 1024)])
def test_df_scales_by_the_header_unit(text: str, unit: int) -> None:
    disk = parse_df(text)
    row = text.splitlines()[1].split()
    assert disk.total_bytes == int(row[1]) * unit
    assert disk.used_bytes == int(row[2]) * unit


def test_df_filesystem_name_with_spaces() -> None:
    text = "Filesystem 1-blocks Used Available Capacity Mounted on\nmy disk 100 40 60 40% /\n"
    assert parse_df(text).used_bytes == 40


def test_df_garbage_is_an_error() -> None:
    with pytest.raises(ProcParseError):
        parse_df("df: /: No such file\n")


def _output(stat: str = STAT) -> bytes:
    sep = SEPARATOR + "\n"
    return (stat + sep + MEMINFO + sep + "1.5 1.0 0.5 2/100 42\n" + sep + DF_BYTES).encode()


def test_parse_sample_splits_the_four_sections() -> None:
    sample = parse_sample(_output().decode())
    assert sample.load == (1.5, 1.0, 0.5)
    assert sample.disk.total_bytes == 270553174016


class FakeRunner:
    """Answers the metrics command with canned output and records the calls."""

    def __init__(self, outputs: list[CommandResult]) -> None:
        self.outputs = outputs
        self.calls: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        self.calls.append(argv)
        return self.outputs.pop(0)


def test_remote_metrics_runs_one_command_per_sample_and_diffs_cpu() -> None:
    second = STAT.replace("cpu  7338 0 4269 95786", "cpu  7438 0 4269 95886")
    runner = FakeRunner([CommandResult(0, _output(), b""), CommandResult(0, _output(second), b"")])
    metrics = RemoteMetrics(runner)
    first = metrics.sample()
    assert first.memory_total_bytes == 24684092 * 1024
    assert first.load1 == 1.5
    assert 0.0 < first.cpu_percent < 100.0
    assert metrics.sample().cpu_percent == pytest.approx(50.0)
    assert runner.calls == [METRICS_ARGV, METRICS_ARGV]


def test_remote_metrics_failure_names_the_sanitised_stderr() -> None:
    runner = FakeRunner([CommandResult(1, b"", b"cat: /proc/stat: denied\x1b]0;pwned\x07")])
    with pytest.raises(HostError) as info:
        RemoteMetrics(runner).sample()
    assert "denied" in str(info.value)
    assert "\x1b" not in str(info.value)


def test_remote_metrics_unparseable_output_is_a_host_error() -> None:
    runner = FakeRunner([CommandResult(0, b"not linux", b"")])
    with pytest.raises(HostError):
        RemoteMetrics(runner).sample()
