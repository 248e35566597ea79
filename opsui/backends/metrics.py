"""The local host's CPU, memory, disk and load, sampled with psutil without blocking.

CPU is a delta of ``psutil.cpu_times()`` between two calls to :meth:`PsutilMetrics.sample`,
kept on the instance. ``psutil.cpu_percent(interval=None)`` would do the same, but it
keys its previous sample by thread id, and the UI samples from whichever worker thread
is free, so each call would compare against a stale or missing sample.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any

import psutil

from opsui.domain.errors import HostError
from opsui.domain.models import HostMetrics

_GUEST_FIELDS = ("guest", "guest_nice")  # already counted in user/nice on Linux
_IDLE_FIELDS = ("idle", "iowait")


def _busy_and_total(times: Any) -> tuple[float, float]:
    fields = times._asdict()
    total = sum(v for k, v in fields.items() if k not in _GUEST_FIELDS)
    idle = sum(fields.get(k, 0.0) for k in _IDLE_FIELDS)
    return total - idle, total


class PsutilMetrics:
    """:class:`opsui.domain.ports.MetricsSource` for the machine opsui runs on.

    The first CPU reference is taken at construction, so the first ``sample()`` already
    reports usage since then instead of a meaningless 0.
    """

    def __init__(self, disk_path: str = "/") -> None:
        self._disk_path = disk_path
        self._lock = threading.Lock()
        self._last = _busy_and_total(psutil.cpu_times())
        self._disk_usage()

    def _disk_usage(self) -> tuple[int, int]:
        try:
            usage = psutil.disk_usage(self._disk_path)
        except OSError as exc:
            raise HostError(
                f"cannot read disk usage of {self._disk_path}: {exc.strerror or exc}",
                hint="Point the metrics disk path at an existing mount point.",
            ) from None
        return int(usage.used), int(usage.total)

    def _cpu_percent(self) -> float:
        busy, total = _busy_and_total(psutil.cpu_times())
        with self._lock:
            last_busy, last_total = self._last
            self._last = (busy, total)
        elapsed = total - last_total
        if elapsed <= 0:
            return 0.0
        return round(min(100.0, max(0.0, (busy - last_busy) / elapsed * 100.0)), 1)

    def sample(self) -> HostMetrics:
        memory = psutil.virtual_memory()
        disk_used, disk_total = self._disk_usage()
        try:
            load1, load5, load15 = os.getloadavg()
        except OSError:
            load1 = load5 = load15 = 0.0
        return HostMetrics(
            cpu_percent=self._cpu_percent(),
            memory_used_bytes=int(memory.total - memory.available),
            memory_total_bytes=int(memory.total),
            disk_used_bytes=disk_used,
            disk_total_bytes=disk_total,
            load1=load1,
            load5=load5,
            load15=load15,
            sampled_at=datetime.now(UTC),
        )
