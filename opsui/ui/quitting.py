"""Quitting never waits on a host: thread workers run on threads nobody joins.

Textual runs ``@work(thread=True)`` workers in asyncio's default executor, which
``asyncio.run`` shuts down with ``wait=True`` after the app ends, and whose threads
the interpreter joins at exit. A worker reading from a frozen engine or a dead SSH
link then held ``q`` until its request timed out (or for ever, for one without a
timeout). Workers run on a :class:`DaemonThreadPool` instead, whose shutdown never
waits: what they were doing is abandoned with the process, as the operator asked.
"""

from __future__ import annotations

import asyncio

from opsui.domain.daemon_pool import DaemonThreadPool

WORKER_THREADS = 32
"""asyncio's own default limit: a few workers stuck on a dead host do not starve the rest."""


def run_workers_on_daemon_threads() -> None:
    """Make the running loop's default executor (Textual's thread workers) one that
    quitting does not wait for. Call from inside the app's event loop, before any
    worker starts."""
    asyncio.get_running_loop().set_default_executor(
        DaemonThreadPool(WORKER_THREADS, thread_name_prefix="opsui-worker"))
