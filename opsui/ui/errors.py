"""The single place where a failed worker becomes something an operator can read.

Workers (inspect, start/stop/restart) run with ``exit_on_error=False``, so a
failure never tears the dashboard down. Each node that runs workers forwards its
``Worker.StateChanged`` here: an :class:`OpsuiError` shows its message and hint,
anything else a one-line summary. Never a traceback; never markup (the message
may quote a container name).
"""

from __future__ import annotations

import logging
from typing import Any

from textual.app import App
from textual.notifications import SeverityLevel
from textual.worker import Worker, WorkerState

from opsui.domain.errors import ActionRefused, OpsuiError
from opsui.domain.sanitize import clean_block

log = logging.getLogger(__name__)


def explain(error: BaseException) -> str:
    """Message plus hint, as the notification body."""
    if isinstance(error, OpsuiError):
        return f"{error}\n{error.hint}" if error.hint else str(error)
    # Not ours, so not sanitised where it was raised: it may quote a container's text.
    return clean_block(f"Unexpected {type(error).__name__}: {error}", 2000)


def notify_error(app: App[Any], error: BaseException, title: str = "") -> None:
    """Show ``error`` as a notification (a warning when the gate refused)."""
    severity: SeverityLevel = "warning" if isinstance(error, ActionRefused) else "error"
    if not isinstance(error, OpsuiError):
        log.error("unexpected error in a worker", exc_info=error)
    app.notify(explain(error), title=title, severity=severity, timeout=10, markup=False)


def report_worker_failure(app: App[Any], event: Worker.StateChanged) -> None:
    """Forward a failed worker's error; other state changes are ignored."""
    worker: Worker[object] = event.worker
    if event.state is WorkerState.ERROR and worker.error is not None:
        notify_error(app, worker.error, title=worker.description or worker.name)
