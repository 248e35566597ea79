"""Host metrics of a remote Linux host, read from /proc and ``df`` over one exec.

psutil only sees the machine opsui runs on; a remote host is measured by reading its
own /proc. The parsers are pure functions (tested on captured text) and
:class:`RemoteMetrics` gathers everything with ONE command per sample, because every
exec costs an SSH channel round trip and a metrics poll runs every few seconds.
"""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from opsui.domain.errors import HostError
from opsui.domain.models import HostMetrics
from opsui.domain.ports import CommandRunner
from opsui.domain.sanitize import clean_block

SEPARATOR = "@@opsui-metrics@@"
"""Printed between the sections of the one metrics command so they can be split."""

# /proc/stat, /proc/meminfo and /proc/loadavg, then the root filesystem. GNU df knows
# -B1 (bytes); busybox and BSD-ish df fall back to -P (blocks named in the header).
_SCRIPT = (
    f"cat /proc/stat; echo {SEPARATOR}; cat /proc/meminfo; echo {SEPARATOR}; "
    f"cat /proc/loadavg; echo {SEPARATOR}; df -P -B1 / 2>/dev/null || df -P /"
)
METRICS_ARGV = ["/bin/sh", "-c", _SCRIPT]


class ProcParseError(ValueError):
    """The text did not look like the /proc file or df output it should be."""


@dataclass(frozen=True)
class CpuTimes:
    """Aggregate jiffies from the ``cpu`` line of /proc/stat."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> CpuTimes:
    """The first ``cpu`` line: busy = total - idle - iowait.

    guest and guest_nice are already counted in user and nice, so only the first eight
    columns (user nice system idle iowait irq softirq steal) make up the total.
    """
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            try:
                values = [int(v) for v in fields[1:9]]
            except ValueError:
                raise ProcParseError(f"/proc/stat: bad cpu line {line!r}") from None
            if len(values) < 4:
                raise ProcParseError(f"/proc/stat: short cpu line {line!r}")
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            total = sum(values)
            return CpuTimes(busy=total - idle, total=total)
    raise ProcParseError("/proc/stat: no aggregate 'cpu' line")


def cpu_percent(previous: CpuTimes | None, current: CpuTimes) -> float:
    """Busy share between two samples, 0-100.

    Without a previous sample the average since boot is returned: a real figure on the
    first refresh is better than a 0 % that jumps on the next one.
    """
    reset = previous is None or current.total < previous.total  # first sample, or a reboot
    base = CpuTimes(0, 0) if reset or previous is None else previous
    total = current.total - base.total
    busy = current.busy - base.busy
    if total <= 0:
        return 0.0
    return max(0.0, min(100.0, 100.0 * busy / total))


@dataclass(frozen=True)
class MemInfo:
    total_bytes: int
    used_bytes: int


def parse_meminfo(text: str) -> MemInfo:
    """Used = MemTotal - MemAvailable (kernels before 3.14: MemFree + Buffers + Cached)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if len(parts) > 1 and parts[1].lower() == "kb" else 1
            values[name.strip()] = int(parts[0]) * scale
    if "MemTotal" not in values:
        raise ProcParseError("/proc/meminfo: no MemTotal")
    total = values["MemTotal"]
    if "MemAvailable" in values:
        available = values["MemAvailable"]
    else:
        available = sum(values.get(k, 0) for k in ("MemFree", "Buffers", "Cached"))
    return MemInfo(total_bytes=total, used_bytes=max(0, total - available))


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """The first three fields of /proc/loadavg."""
    fields = text.split()
    try:
        return float(fields[0]), float(fields[1]), float(fields[2])
    except (IndexError, ValueError):
        raise ProcParseError(f"/proc/loadavg: unexpected {text.strip()!r}") from None


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    used_bytes: int


def _block_size(header: str) -> int:
    """Bytes per unit from a df -P header column such as ``1-blocks`` or ``1024-blocks``."""
    for column in header.split():
        if column.lower().endswith("-blocks"):
            size = column[: -len("-blocks")].upper()
            multiplier = 1
            if size.endswith("K"):
                size, multiplier = size[:-1] or "1", 1024
            elif size.endswith("M"):
                size, multiplier = size[:-1] or "1", 1024 * 1024
            if size.isdigit():
                return int(size) * multiplier
    raise ProcParseError(f"df: no N-blocks column in header {header.strip()!r}")


def parse_df(text: str) -> DiskUsage:
    """``df -P`` output for one filesystem: total and used, scaled by the header's unit.

    The numbers are read from the right, since a filesystem name may contain spaces.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise ProcParseError(f"df: expected a header and a row, got {text.strip()!r}")
    unit = _block_size(lines[0])
    fields = lines[-1].split()
    # ... total used available capacity% mountpoint
    if len(fields) < 6:
        raise ProcParseError(f"df: short row {lines[-1]!r}")
    try:
        total, used = int(fields[-5]), int(fields[-4])
    except ValueError:
        raise ProcParseError(f"df: non-numeric row {lines[-1]!r}") from None
    return DiskUsage(total_bytes=total * unit, used_bytes=used * unit)


@dataclass(frozen=True)
class RawSample:
    cpu: CpuTimes
    memory: MemInfo
    load: tuple[float, float, float]
    disk: DiskUsage


def parse_sample(text: str) -> RawSample:
    """Split the combined output of :data:`METRICS_ARGV` and parse each section."""
    sections = text.split(SEPARATOR + "\n")
    if len(sections) != 4:
        raise ProcParseError(f"metrics output: expected 4 sections, got {len(sections)}")
    stat, meminfo, loadavg, df = sections
    return RawSample(parse_proc_stat(stat), parse_meminfo(meminfo), parse_loadavg(loadavg),
                     parse_df(df))


class RemoteMetrics:
    """MetricsSource for a host reached through a CommandRunner (an SSH exec channel).

    Keeps the previous CPU sample so each call reports CPU use since the last one.
    """

    def __init__(self, runner: CommandRunner, timeout: float = 10.0) -> None:
        self._runner = runner
        self._timeout = timeout
        self._previous: CpuTimes | None = None
        self._lock = threading.Lock()

    def sample(self) -> HostMetrics:
        result = self._runner.run(METRICS_ARGV, timeout=self._timeout)
        if result.exit_code != 0:
            detail = clean_block(result.stderr, max_chars=500).strip()
            raise HostError(
                f"reading host metrics failed ({shlex.join(METRICS_ARGV[:2])} ... exited "
                f"{result.exit_code}): {detail or 'no error output'}",
                hint="The host must be Linux with /proc and df available to the SSH user.",
            )
        try:
            raw = parse_sample(result.stdout.decode("utf-8", errors="replace"))
        except ProcParseError as exc:
            raise HostError(f"reading host metrics failed: {clean_block(str(exc), 500)}",
                            hint="The host must be Linux with /proc and df.") from None
        with self._lock:
            percent = cpu_percent(self._previous, raw.cpu)
            self._previous = raw.cpu
        return HostMetrics(
            cpu_percent=percent,
            memory_used_bytes=raw.memory.used_bytes,
            memory_total_bytes=raw.memory.total_bytes,
            disk_used_bytes=raw.disk.used_bytes,
            disk_total_bytes=raw.disk.total_bytes,
            load1=raw.load[0],
            load5=raw.load[1],
            load15=raw.load[2],
            sampled_at=datetime.now(UTC),
        )
