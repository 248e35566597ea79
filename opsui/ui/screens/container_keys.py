"""Start / stop / restart keys, shared by the dashboard and the detail view.

Both screens bind the same ids, so one ``[keys]`` remap in opsui.toml moves the key
everywhere. The screens do not decide anything: they hand the container to the
app's action flow, which asks the gate.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding

from opsui.domain.models import Container
from opsui.domain.operations.policy import Action

ActionRequester = Callable[[str, Container, Action], None]
"""``(host, container, action)``: start the gate + confirm + perform flow."""

CONTAINER_BINDINGS = [
    Binding("r", "container('restart')", "Restart", id="container.restart",
            tooltip="Restart the selected container (asks first, per opsui.toml [confirm])."),
    Binding("x", "container('stop')", "Stop", id="container.stop",
            tooltip="Stop the selected container (asks first)."),
    Binding("u", "container('start')", "Start", id="container.start",
            tooltip="Start the selected container (asks first)."),
]
