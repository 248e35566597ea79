"""A health prober built on its first probe.

Building an :class:`~opsui.backends.health.HttpHealthProber` loads a TLS context (the
CA bundle: 0.1 to 0.2 s of CPU, twice over SSH), and a host connects on the way to the
dashboard's first frame, which probes nothing. Hosts without health URLs never pay it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from opsui.backends.health import HttpHealthProber
from opsui.domain.models import HttpHealth


class LazyProber:
    """:class:`opsui.domain.ports.HealthProber` that builds the real one when first asked."""

    def __init__(self, build: Callable[[], HttpHealthProber]) -> None:
        self._build = build
        self._prober: HttpHealthProber | None = None
        self._lock = threading.Lock()

    def probe(self, url: str, timeout: float = 5.0) -> HttpHealth:
        with self._lock:
            if self._prober is None:
                self._prober = self._build()
            prober = self._prober
        return prober.probe(url, timeout)

    def close(self) -> None:
        with self._lock:
            prober, self._prober = self._prober, None
        if prober is not None:
            prober.close()
