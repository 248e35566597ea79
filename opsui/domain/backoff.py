"""Exponential backoff with jitter, for reconnecting to hosts and streams."""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial * factor**n`` capped at ``maximum``, each jittered by ±20 %.

    Jitter keeps several opsui instances (or several hosts) from reconnecting in step
    after a shared outage.
    """

    def __init__(self, initial: float = 1.0, maximum: float = 30.0, factor: float = 2.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self._attempt = 0

    def next_delay(self) -> float:
        base = min(self.maximum, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return base * random.uniform(0.8, 1.2)

    def reset(self) -> None:
        self._attempt = 0
