"""Container CPU and memory samples: the arithmetic and the streaming feeds.

``stats_from_dict`` applies ``docker stats``' own formulas to one engine frame, so the
numbers match what the operator sees in the CLI. :class:`StatsFeed` keeps one
container's stream open on a reader thread, because the engine answers any stats
request only on its next 1 s tick; :class:`opsui.backends.docker_engine.DockerEngine`
decides when to open feeds and when to ask once instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from docker.types.daemon import CancellableStream

from opsui.backends.docker_fields import int_or_none, mapping_or_empty, parse_time
from opsui.backends.docker_streams import cancel_stream
from opsui.domain.models import ContainerStats

FIRST_FRAME_WAIT = 2.0  # the engine's stats tick is 1 s
STALE_FEED_SECONDS = 5.0  # no frame for this long: the feed is replaced


def _cpu_counters(stats: Mapping[str, Any]) -> tuple[int, int, int] | None:
    """(container total, system total, online cpus) from a ``cpu_stats`` block."""
    usage = mapping_or_empty(stats.get("cpu_usage"))
    total = int_or_none(usage.get("total_usage"))
    system = int_or_none(stats.get("system_cpu_usage"))
    if not total or not system:
        return None
    cpus = int_or_none(stats.get("online_cpus")) or len(usage.get("percpu_usage") or ()) or 1
    return total, system, cpus


def cpu_percent(
    current: tuple[int, int, int], previous: tuple[int, int, int] | None
) -> float:
    """``docker stats``' formula: container delta over system delta, times online CPUs."""
    if previous is None:
        return 0.0
    cpu_delta = current[0] - previous[0]
    system_delta = current[1] - previous[1]
    if cpu_delta <= 0 or system_delta <= 0:
        return 0.0
    return round(cpu_delta / system_delta * current[2] * 100.0, 2)


def memory_used(memory: Mapping[str, Any]) -> int:
    """Usage minus reclaimable page cache, as ``docker stats`` shows it.

    cgroup v2 reports ``inactive_file``; cgroup v1 ``total_inactive_file`` (what the
    docker CLI subtracts today), with ``cache`` as the older fallback.
    """
    usage = int_or_none(memory.get("usage")) or 0
    detail = mapping_or_empty(memory.get("stats"))
    for key in ("inactive_file", "total_inactive_file", "cache"):
        reclaimable = int_or_none(detail.get(key))
        if reclaimable is not None and reclaimable < usage:
            return usage - reclaimable
    return usage


def stats_from_dict(
    container_id: str, raw: Mapping[str, Any], previous: tuple[int, int, int] | None
) -> tuple[ContainerStats, tuple[int, int, int]] | None:
    """A sample plus the CPU counters to cache for the next one; None when not running."""
    memory = mapping_or_empty(raw.get("memory_stats"))
    current = _cpu_counters(mapping_or_empty(raw.get("cpu_stats")))
    if not memory or current is None:
        return None
    if previous is None:
        previous = _cpu_counters(mapping_or_empty(raw.get("precpu_stats")))
    sample = ContainerStats(
        container_id=container_id,
        cpu_percent=cpu_percent(current, previous),
        memory_bytes=memory_used(memory),
        memory_limit_bytes=int_or_none(memory.get("limit")) or 0,
        sampled_at=parse_time(raw.get("read")) or datetime.now(UTC),
    )
    return sample, current


class StatsFeed:
    """One container's stats stream, read by its own thread, kept while it is asked for.

    The engine sends a frame per tick; each carries the previous frame's CPU counters
    (``precpu_stats``), so CPU% needs only the newest frame. The reader keeps that frame
    as bytes and :meth:`sample` decodes it: asked every few seconds, most frames are
    never decoded (decoding every one was most of an idle dashboard's CPU time). The
    reader ends when closed, when nobody asked for ``idle_seconds``, or when the stream
    breaks (the container was removed, the engine went away); the engine then opens a
    new feed.
    """

    def __init__(self, container_id: str, response: requests.Response, idle_seconds: float) -> None:
        self.container_id = container_id
        self._stream: CancellableStream[bytes] = CancellableStream(
            response.iter_lines(chunk_size=65536), response
        )
        self._idle = idle_seconds
        self._asked = time.monotonic()
        self._frame_at = time.monotonic()
        self._frame: bytes | None = None
        """The newest frame, not decoded yet."""
        self._decoded: tuple[bytes | None, ContainerStats | None] = (None, None)
        """(the frame last decoded, its sample)."""
        self._decode_lock = threading.Lock()
        self._first = threading.Event()
        self._ended = threading.Event()
        self._thread = threading.Thread(
            target=self._read, name=f"opsui-stats-{container_id[:12]}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def finished(self) -> bool:
        """Ended, or silent for several ticks (a hung stream is replaced, not trusted)."""
        return self._ended.is_set() or time.monotonic() - self._frame_at > STALE_FEED_SECONDS

    def _read(self) -> None:
        try:
            for line in self._stream:
                if line:
                    self._frame = line
                    self._frame_at = time.monotonic()
                    self._first.set()
                if self._ended.is_set() or time.monotonic() - self._asked > self._idle:
                    break
        except Exception:  # closed under us, or the engine went away: the feed ends
            pass
        finally:
            self._ended.set()
            self._first.set()
            cancel_stream(self._stream)

    def sample(self, first_wait: float) -> ContainerStats | None:
        """The newest sample; the first call waits up to ``first_wait`` for one frame."""
        self._asked = time.monotonic()
        self._first.wait(first_wait)
        with self._decode_lock:
            frame, (decoded, latest) = self._frame, self._decoded
            if frame is None or frame is decoded:
                return latest
            try:
                raw = json.loads(frame)
            except ValueError:  # a garbled frame: end the feed, the next call opens a new one
                self.close()
                return None
            result = stats_from_dict(self.container_id, mapping_or_empty(raw), None)
            latest = result[0] if result else None  # None: the container is not running
            self._decoded = (frame, latest)
            return latest

    def close(self) -> None:
        self._ended.set()
        cancel_stream(self._stream)
