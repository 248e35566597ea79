"""The part every threaded log feed shares: what the log pane asks of it.

A container tail (:mod:`.logtail`) and a Swarm service tail (:mod:`.service_tail`) each
read on a thread of their own into a :class:`~.logbuffer.LogBuffer`; the pane only sees
the buffer, the target, a status, and ``start``/``close``. Closing sets the events the
reading thread waits on, stops the streams it reads (each feed knows its own:
:meth:`ThreadedFeed._stop_reading`) and says so in the status.
"""

from __future__ import annotations

import threading
from typing import Self

from opsui.domain.logbuffer import LogBuffer
from opsui.domain.logfeed import FeedState, FeedStatus, LogTarget


class ThreadedFeed:
    """``LogFeed`` over a buffer that a thread fills; subclasses set the attributes."""

    _buffer: LogBuffer
    _target: LogTarget
    _status: FeedStatus
    _closed: threading.Event
    _wake: threading.Event
    _thread: threading.Thread

    @property
    def buffer(self) -> LogBuffer:
        return self._buffer

    @property
    def target(self) -> LogTarget:
        return self._target

    def status(self) -> FeedStatus:
        return self._status

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        self._stop_reading()
        self._status = FeedStatus(FeedState.ENDED, "closed")

    def _stop_reading(self) -> None:
        """Close the streams the thread reads, so a blocked read returns now."""
        raise NotImplementedError
