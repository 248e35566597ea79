"""A steady HTTP load at a fixed rate, recording every request: for zero-downtime claims.

"No failed request during a release" needs requests sent at a known pace whatever the
server does: requests are *scheduled* at ``start + i / rate`` and handed to a pool of
workers, so a stalled server does not slow the sender down (the stall shows as latency
and, past ``timeout``, as a failure, instead of as fewer requests). Each record keeps
when it was scheduled, how long it took, whether it failed (no answer, or a 5xx from the
proxy) and which version of the test app answered (its ``/api/version`` body).

Used by the integration tests of issue 13 and by ``bench/zero_downtime.py``.
"""

from __future__ import annotations

import json
import queue
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Answer:
    """One request: scheduled at ``at`` (monotonic), answered after ``seconds``."""

    at: float
    seconds: float
    status: int | None
    """HTTP status, None when no answer came (refused, reset, timed out)."""
    version: str = ""
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status is None or self.status >= 500


@dataclass
class RequestLoad:
    """``rate`` requests a second to ``url`` from ``workers`` threads until stopped."""

    url: str
    rate: float = 50.0
    workers: int = 8
    timeout: float = 10.0
    keepalive: bool = True
    """False: a new connection per request (none is left idle for a proxy to close)."""
    answers: list[Answer] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _jobs: queue.Queue[float | None] = field(default_factory=queue.Queue)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._work, daemon=True,
                                          name=f"load-{n}") for n in range(self.workers)]
        self._threads.append(threading.Thread(target=self._pace, daemon=True,
                                              name="load-pace"))
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for _ in range(self.workers):
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=self.timeout + 5)

    def mark(self) -> float:
        """Now, on the clock answers are scheduled by (to cut windows out of them)."""
        return time.monotonic()

    def between(self, start: float, end: float | None = None) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.at >= start and (end is None or a.at < end)]

    def failures(self, start: float = 0.0, end: float | None = None) -> list[Answer]:
        return [a for a in self.between(start, end) if a.failed]

    def _pace(self) -> None:
        started = time.monotonic()
        sent = 0
        while not self._stop.is_set():
            due = started + sent / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            self._jobs.put(due)
            sent += 1

    def _work(self) -> None:
        limits = (httpx.Limits() if self.keepalive
                  else httpx.Limits(max_keepalive_connections=0))
        with httpx.Client(timeout=self.timeout, limits=limits) as client:
            while (due := self._jobs.get()) is not None:
                answer = _ask(client, self.url, due)
                with self._lock:
                    self.answers.append(answer)


def _ask(client: httpx.Client, url: str, due: float) -> Answer:
    began = time.monotonic()
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return Answer(due, time.monotonic() - began, None, error=type(exc).__name__)
    seconds = time.monotonic() - began
    version = ""
    if response.status_code == 200:
        try:
            version = str(json.loads(response.content).get("version", ""))
        except (ValueError, AttributeError):
            version = ""
    return Answer(due, seconds, response.status_code, version)


@contextmanager
def steady_load(url: str, rate: float = 50.0, workers: int = 8,
                keepalive: bool = True) -> Iterator[RequestLoad]:
    """A :class:`RequestLoad` running for the ``with`` block, stopped after it."""
    load = RequestLoad(url, rate, workers, keepalive=keepalive)
    load.start()
    try:
        yield load
    finally:
        load.stop()


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile (0.5, 0.99) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[min(len(cuts) - 1, max(0, round(fraction * 100) - 1))]


def failed_seconds(answers: list[Answer], rate: float) -> float:
    """How long requests failed, from the count of failures at the load's rate."""
    return sum(1 for a in answers if a.failed) / rate
