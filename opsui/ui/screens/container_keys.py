"""Start / stop / restart and deploy / rollback / history / backups keys, shared by the
dashboard and the detail view.

Both screens bind the same ids, so one ``[keys]`` remap in opsui.toml moves the key
everywhere. The screens do not decide anything: they hand the container to the
app's action flow, which asks the gate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

from textual.binding import Binding
from textual.message import Message

from opsui.domain.models import Container
from opsui.domain.operations.policy import Action
from opsui.ui.commands import PaletteCommand

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

RELEASE_BINDINGS = [
    Binding("D", "release('deploy')", "Deploy", id="release.deploy",
            tooltip="Deploy another tag of the selected container's app: pick a tag, read "
            "the plan, confirm, watch the steps."),
    Binding("R", "release('rollback')", "Rollback", id="release.rollback",
            tooltip="Roll the selected container's app back to its last good release "
            "(a preview first; boots what is still on the host)."),
    Binding("H", "release('history')", "History", id="release.history",
            tooltip="Releases and audit lines of the selected container's app, newest first."),
    Binding("K", "release('backups')", "Backups", id="release.backups", show=False,
            tooltip="Backups of the selected container's app: age, size, verified; back up "
            "now, verify, restore, download, migrate."),
]
"""Deploy / rollback / history / backups keys, shared by the dashboard and the detail
view. D, R and H are shown in the footer: rolling back is the key an operator must find
at once. K is not: next to them and the interrupted-release keys (F / B) it would push
those off a 160-column footer; the palette offers it ("Backups: NAME")."""


class ReleaseRequested(Message):
    """A screen asks the app to deploy, roll back or show the history of a container's app.

    Bubbles to the app's release flow, which asks the gate before anything is shown."""

    def __init__(self, host: str, container: Container, kind: str) -> None:
        super().__init__()
        self.host = host
        """The host the container runs on."""
        self.container = container
        """The selected container: its app is the one meant."""
        self.kind = kind
        """``deploy``, ``rollback``, ``history`` or ``backups``."""


def release_palette_commands(name: str, release: Callable[[str], None]
                             ) -> Iterator[PaletteCommand]:
    """Deploy, rollback, history and backups of container ``name``'s app, for the
    palette of any screen that shows one container (``release(kind)`` runs them)."""
    yield PaletteCommand(f"Deploy another tag of {name}…",
                         "Pick a tag, read the plan, confirm (D).", partial(release, "deploy"))
    yield PaletteCommand(f"Roll back {name}", "To its last good release, after a preview (R).",
                         partial(release, "rollback"))
    yield PaletteCommand(f"Release history: {name}",
                         "Releases and audit lines, newest first (H).",
                         partial(release, "history"))
    yield PaletteCommand(f"Backups: {name}",
                         "Age, size, verified; back up, verify, restore, download, "
                         "migrate (K).", partial(release, "backups"))
