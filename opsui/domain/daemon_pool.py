"""A thread pool that never holds the process open: quitting never waits on I/O.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the interpreter
exits, and asyncio's default executor (where Textual runs ``@work(thread=True)``
workers) is shut down with ``wait=True`` when ``App.run()`` returns. A worker blocked
on a frozen engine or a dead link then holds the quit until its request times out, or
forever for a request without one. Here the threads are daemons, ``shutdown`` never
waits, and nothing is registered to join them at exit: work still running when opsui
quits is abandoned, as the operator asked. Work must therefore never be half-written
state that outlives the process; host I/O is not (the host finishes or rolls back).

It is a ``ThreadPoolExecutor`` only so asyncio accepts it as the default executor;
none of that class's machinery is used.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

IDLE_SECONDS = 60.0
"""A thread with no work for this long ends (a replaced pool nobody shut down, a burst
of work long past), so idle threads never pile up."""

_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class DaemonThreadPool(ThreadPoolExecutor):
    """Up to ``max_workers`` daemon threads, started as work arrives, reused, and ended
    after ``idle_seconds`` without work."""

    def __init__(self, max_workers: int, thread_name_prefix: str,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._limit = max_workers
        self._idle_seconds = idle_seconds
        self._prefix = thread_name_prefix
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._state_lock = threading.Lock()
        self._started = 0
        """Threads alive (or about to be)."""
        self._waiting = 0
        """Threads not busy with a job: taking one from the queue, or about to."""
        self._queued = 0
        """Jobs in the queue that no thread has taken yet."""
        self._closed = False

    def submit(self, fn: Callable[P, T], /, *args: P.args,
               **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        with self._state_lock:
            if self._closed:
                raise RuntimeError("cannot schedule new work after shutdown")
            self._jobs.put((future, fn, args, kwargs))
            self._queued += 1
            if self._queued > self._waiting and self._started < self._limit:
                self._started += 1
                self._waiting += 1
                threading.Thread(target=self._work, daemon=True,
                                 name=f"{self._prefix}-{self._started}").start()
        return future

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=self._idle_seconds)
            except queue.Empty:
                if self._retire():
                    return
                continue
            if job is None:
                return
            with self._state_lock:
                self._queued -= 1
                self._waiting -= 1
            future, fn, args, kwargs = job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # handed to whoever waits on the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del job, future, fn, args, kwargs
            with self._state_lock:
                self._waiting += 1

    def _retire(self) -> bool:
        """End this idle thread, unless every waiting thread is needed for the jobs
        queued meanwhile."""
        with self._state_lock:
            if self._waiting <= self._queued:
                return False
            self._waiting -= 1
            self._started -= 1
            return True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work and let idle threads end; never waits, whatever ``wait`` says.

        Threads busy with a blocked call end when it returns or with the process.
        """
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            started = self._started
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in range(started):
            self._jobs.put(None)
