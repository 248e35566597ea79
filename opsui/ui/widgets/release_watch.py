"""The dashboard's compose watch: whether each app opsui released still is what runs.

For the host on screen, a thread worker asks the journal and compose about every app
opsui released there (:func:`~opsui.domain.operations.release_marks.release_marks`)
and the table marks the app's serving container: drift (the next ``up -d`` undoes the
release), replaced (it did), or "compose unknown". Asking takes a second or more
(compose runs on the host), so it never runs on the event loop, one check at a time:
soon after the host's opsui or compose containers change, but not more often than
every :data:`MIN_SECONDS`, and every :data:`PERIOD_SECONDS` anyway (a compose file is
edited without any event). The widget draws nothing; it only keeps the marks in the
UI state and tells the dashboard which rows to redraw.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from textual import work
from textual.message import Message
from textual.timer import Timer
from textual.widget import Widget

from opsui.domain.compose_project import CONFIG_HASH_LABEL
from opsui.domain.errors import OpsuiError
from opsui.domain.logfeed import APP_LABEL
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.release_marks import (
    ReleaseMark,
    release_marks,
    released_refs,
    unknown,
)
from opsui.ui.state import HostView, UiState

log = logging.getLogger(__name__)

MIN_SECONDS = 15.0
"""At most one check this often: a deploy's burst of events makes one or two, not ten."""
PERIOD_SECONDS = 60.0
HURRY_SECONDS = 5.0
"""After a release ended here, its containers' changes are checked at once this long."""
"""A check this long after the last one, changes or not (compose files change quietly)."""
WAIT_SECONDS = 1.0
"""How soon to look again while the host on screen has not listed its containers."""
SOON_SECONDS = 0.1
"""The shortest wait (Textual's timers take no zero delay)."""
DOWN_SECONDS = 5.0
"""How soon to look again while the host on screen is not connected."""

Signature = frozenset[tuple[str, str, str, str, str]]


def signature(view: HostView) -> Signature:
    """What a check depends on, of the host's opsui and compose containers: a change
    of anything else (health, stats, other containers) asks nothing of compose."""
    return frozenset((c.id, c.name, c.state.value, c.image, c.labels.get(CONFIG_HASH_LABEL, ""))
                     for c in view.containers.values()
                     if c.compose_project or APP_LABEL in c.labels)


class ReleaseWatch(Widget):
    """Keeps :attr:`HostView.release_marks` of the dashboard's host current."""

    DEFAULT_CSS = """
    ReleaseWatch {
        display: none;
    }
    """

    min_seconds = MIN_SECONDS
    period_seconds = PERIOD_SECONDS

    class Checked(Message):
        """A check ended (posted from its thread)."""

        def __init__(self, host: str, marks: dict[str, ReleaseMark]) -> None:
            super().__init__()
            self.host = host
            self.marks = marks

    def __init__(self, state: UiState, monitors: Mapping[str, HostMonitor],
                 shown_host: Callable[[], str | None],
                 redraw: Callable[[str, set[str]], None], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.monitors = monitors
        self._shown_host = shown_host
        """The host the dashboard shows now: the only one checked."""
        self._redraw = redraw
        """Called with (host, container ids) whose marks changed."""
        self._timer: Timer | None = None
        self._checking = False
        self._again = False
        """Something changed while a check ran: another one once it ends."""
        self._hurry_until = float("-inf")
        """Until then (just after a release ended) changes are checked at once: the
        release's container events reach the UI after the run has said it ended."""
        self._started = float("-inf")
        """When the last check started (monotonic)."""
        self._seen: dict[str, Signature] = {}
        """Per host: its containers' signature when its last check started."""
        self._released: dict[str, set[str]] = {}
        """Per host: apps marked once (asked again even when none of their containers
        carries opsui's label any more: compose replaced them all)."""

    def on_mount(self) -> None:
        self._arm(0.0)

    # -- what the dashboard calls ----------------------------------------------------------

    def containers_changed(self, host: str) -> None:
        """The host's containers changed: check again if that can change a mark."""
        view = self.state.hosts.get(host)
        if host == self._shown_host() and view is not None \
                and signature(view) != self._seen.get(host):
            self.soon()

    def soon(self) -> None:
        """Check as soon as the pace allows (the host on screen changed, or its apps)."""
        if self._checking:
            self._again = True
            return
        if time.monotonic() < self._hurry_until:
            self._arm(0.0)
            return
        self._arm(max(0.0, self._started + self.min_seconds - time.monotonic()))

    def release_ended(self) -> None:
        """A release run from this UI ended: check at once, not at the pace. A check that
        ran mid-release saw the journal and the containers half switched (``replaced``)
        and would show that for the pace's 15 s after the run said ok."""
        self._hurry_until = time.monotonic() + HURRY_SECONDS  # its containers' events too
        if self._checking:
            self._again = True  # then soon(), at once while hurrying
            return
        self._arm(0.0)

    # -- the checks ------------------------------------------------------------------------

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(max(delay, SOON_SECONDS), self._start)

    def _start(self) -> None:
        self._timer = None
        if self._checking:
            self._again = True
            return
        host = self._shown_host()
        monitor = self.monitors.get(host) if host else None
        view = self.state.hosts.get(host) if host else None
        if host is None or monitor is None or view is None:
            self._arm(WAIT_SECONDS)
            return
        if not monitor.connected:  # a dead engine or link: the marks can no longer be vouched for
            self._apply(host, unknown(view.release_marks,
                                      f"{host} is {view.status.state.value}: compose and the "
                                      f"journal cannot be read"))
            self._arm(DOWN_SECONDS)
            return
        if not view.listed:
            self._arm(WAIT_SECONDS)
            return
        self._seen[host] = signature(view)
        refs = released_refs(host, monitor.apps, view.containers.values(),
                             sorted(self._released.get(host, ())))
        if not refs:
            self._apply(host, {})
            self._arm(self.period_seconds)
            return
        self._checking = True
        self._started = time.monotonic()
        self.check(host, monitor, refs, dict(view.release_marks))

    @work(thread=True, exit_on_error=False, group="release-watch",
          description="Compose watch")
    def check(self, host: str, monitor: HostMonitor, refs: list[str],
              previous: dict[str, ReleaseMark]) -> None:
        try:
            marks = release_marks(monitor.releases(), refs, previous)
        except OpsuiError as exc:  # the sidebar says why the host is down; the rows say unknown
            log.info("%s: compose watch: %s", host, exc)
            marks = unknown(previous, f"{host}: {exc}")
        except Exception:
            log.exception("%s: compose watch failed", host)
            marks = unknown(previous, "the check failed (see opsui's log)")
        self.post_message(self.Checked(host, marks))

    def on_release_watch_checked(self, message: Checked) -> None:
        self._checking = False
        self._apply(message.host, message.marks)
        again, self._again = self._again, False
        if again or message.host != self._shown_host():
            self.soon()
        else:
            self._arm(self.period_seconds)

    def _apply(self, host: str, marks: dict[str, ReleaseMark]) -> None:
        """Keep the marks of containers still listed; redraw the rows whose mark moved."""
        view = self.state.hosts.get(host)
        if view is None:
            return
        marks = {cid: mark for cid, mark in marks.items() if cid in view.containers}
        before = view.release_marks
        changed = {cid for cid in before.keys() | marks.keys()
                   if before.get(cid) != marks.get(cid)}
        view.release_marks = marks
        self._released.setdefault(host, set()).update(mark.app for mark in marks.values())
        if changed:
            self._redraw(host, changed)
