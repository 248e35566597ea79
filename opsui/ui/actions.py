"""Start / stop / restart: ask the gate, ask the operator, run it in a worker.

The flow never decides policy. It asks ``gate.confirmation_for`` what to ask (which
refuses outright in read-only mode), shows :class:`ConfirmModal` when the policy
wants an answer, and hands that answer to ``monitor.perform``, where the gate
checks it again and audits. The blocking call runs in a thread worker; the one
worker error handler turns a failure into a notification.
"""

from __future__ import annotations

from textual import work
from textual.app import App
from textual.message import Message
from textual.worker import Worker

from opsui.domain.errors import ActionRefused
from opsui.domain.models import Container
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.gate import ActionRequest
from opsui.domain.operations.policy import Action, ConfirmPolicy
from opsui.ui.errors import notify_error, report_worker_failure
from opsui.ui.screens.confirm import Answer, ConfirmModal

_DONE = {Action.START: "Started", Action.STOP: "Stopped", Action.RESTART: "Restarted"}


class ContainerActionsApp(App[None]):
    """The app layer that runs container actions; :class:`OpsuiApp` builds on it."""

    class ActionDone(Message):
        """A container action finished without error."""

        def __init__(self, request: ActionRequest) -> None:
            super().__init__()
            self.request = request
            """What was done."""

    def __init__(self) -> None:
        super().__init__()
        self.monitors: dict[str, HostMonitor] = {}
        """Monitor per host name; filled when the app mounts."""

    def request_container_action(self, host: str, container: Container, action: Action) -> None:
        """Entry point for keys and palette commands: gate, confirm, perform."""
        monitor = self.monitors.get(host)
        if monitor is None:
            self.notify(f"Unknown host {host}", severity="error", markup=False)
            return
        request = monitor.request_for(action, container)
        try:
            confirmation = monitor.gate.confirmation_for(request)
        except ActionRefused as refused:
            notify_error(self, refused, title="Read-only")
            return
        if confirmation.policy is ConfirmPolicy.NONE:
            self._start(monitor, request, None)
            return

        def answered(answer: Answer) -> None:
            if answer is None or answer is False:
                self.notify(f"Cancelled: {request.describe()}", timeout=3, markup=False)
                return
            self._start(monitor, request, answer)

        self.push_screen(ConfirmModal(confirmation), answered)

    def _start(self, monitor: HostMonitor, request: ActionRequest,
               answer: bool | str | None) -> None:
        self.notify(f"Working: {request.describe()}…", timeout=3, markup=False)
        self.perform_action(monitor, request, answer)

    @work(thread=True, exit_on_error=False, group="actions", description="Container action")
    def perform_action(self, monitor: HostMonitor, request: ActionRequest,
                       answer: bool | str | None) -> None:
        monitor.perform(request, answer)
        self.post_message(self.ActionDone(request))

    def on_container_actions_app_action_done(self, message: ActionDone) -> None:
        request = message.request
        verb = _DONE.get(request.action, request.action.value.capitalize())
        self.notify(f"{verb} {request.target_name} on {request.host}", timeout=4, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_worker_failure(self, event)
