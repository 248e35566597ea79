"""One app on several hosts (``[apps.NAME] hosts = [...]``) as the release screens see it.

D, R and H on a row of such an app are the app's, not that row's host's: the deploy
and rollback run across every host it lists through the same orchestrator as ``opsui
deploy APP`` (:class:`~opsui.domain.operations.multi_host.MultiHostApp`: every lock
first, host by host, the first failure stops it and returns the hosts already
switched), and the history merges the hosts' journals. The session is the one-host
session of the row's host (its tags, its app resolution) that plans and runs across
all the app's hosts; the gate, the audit and the locks stay the domain's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

from opsui.domain.errors import ActionRefused
from opsui.domain.monitor import HostMonitor
from opsui.domain.operations.multi_host import MultiHostApp, MultiOutcome, MultiPlan
from opsui.domain.operations.multi_host_history import MultiHistory, multi_history
from opsui.domain.operations.release_run import Report, StepEvent
from opsui.domain.ports import LineSink, Progress
from opsui.domain.settings import AppConfig
from opsui.ui.sessions import ReleasePlan, ReleaseSession
from opsui.ui.widgets.step_log import OUTCOME_STEP


class MultiHostSession(ReleaseSession):
    """An app's release across its hosts, started from the row of one of them.

    Like :class:`ReleaseSession`, every method except :meth:`confirmation` blocks."""

    def __init__(self, monitors: Sequence[HostMonitor], row: HostMonitor, ref: str,
                 label: str) -> None:
        super().__init__(row, ref, label)
        self.monitors = tuple(monitors)
        """The app's hosts, in the order its release goes through them."""
        self.hosts = tuple(monitor.name for monitor in self.monitors)
        self.host = ", ".join(self.hosts)
        """Every host: what titles, the banner and the question name."""
        self.row_host = row.name
        """The host whose row the key was pressed on."""

    @property
    def name(self) -> str:
        """The configured app's (the row's container is one host's part of it)."""
        return self.ref

    def orchestrator(self) -> MultiHostApp:
        return MultiHostApp(self.ref, [m.releases() for m in self.monitors],
                            self.monitor.gate)

    def plan_deploy(self, tag: str) -> MultiPlan:
        self.app()
        return self.orchestrator().plan_deploy(tag)

    def plan_rollback(self) -> MultiPlan:
        self.app()
        return self.orchestrator().plan_rollback()

    def history(self) -> MultiHistory:
        """Every host's journal, merged (reading marks nothing known good)."""
        return multi_history(self.ref, [m.releases() for m in self.monitors])

    def run(self, plan: ReleasePlan, answer: bool | str | None, report: Report,
            cancelled: threading.Event, *, output: LineSink | None = None,
            progress: Progress | None = None, override: str | None = None) -> str:
        """The release across the hosts (steps arrive as ``web2: health gate``), then
        one final event saying how it ended on each host."""
        if not isinstance(plan, MultiPlan):
            raise ActionRefused(f"{self.name}: runs on {self.host}, so its releases do too")
        outcome = self.orchestrator().run(plan, answer, report, cancelled)
        report(StepEvent(OUTCOME_STEP, outcome.outcome, detail=outcome_text(outcome)))
        return outcome.outcome


def outcome_text(outcome: MultiOutcome) -> str:
    """The reason, then one line per host: its state and why (first line)."""
    width = max((len(r.host) for r in outcome.hosts), default=0)
    lines = [outcome.reason] if outcome.reason else []
    for result in outcome.hosts:
        detail = result.detail.replace("\u2424", "\n").strip()  # journal text: ␤
        first = detail.splitlines()[0] if detail else ""
        lines.append(f"{result.host:<{width}}  {result.state}" + (f": {first}" if first
                                                                  else ""))
    return "\n".join(lines)


def app_hosts(apps: Iterable[AppConfig], ref: str) -> tuple[str, ...]:
    """The hosts of the configured app ``ref`` when it has several, else ()."""
    app = next((a for a in apps if a.name == ref), None)
    return app.every_host if app is not None and len(app.every_host) > 1 else ()


def multi_host_session(monitors: Mapping[str, HostMonitor], row: HostMonitor, ref: str,
                       label: str) -> MultiHostSession | None:
    """The session of ``ref`` across its hosts when it has several, else None (a
    one-host app or an ad hoc container); refuses when one of its hosts is not one of
    this opsui's (a release must not skip a host silently)."""
    hosts = app_hosts(row.apps, ref)
    if not hosts:
        return None
    missing = [h for h in hosts if h not in monitors]
    if missing:
        raise ActionRefused(f"{ref} runs on {', '.join(hosts)}, but opsui was started "
                            f"without {', '.join(missing)}",
                            hint="Start opsui with every host of the app (no --host), or "
                                 f"release from the command line: `opsui deploy {ref}`.")
    return MultiHostSession([monitors[h] for h in hosts], row, ref, label)


ACROSS_HOSTS_CANCEL = {
    "deploy": "The host being deployed stops and keeps the version it serves; the hosts "
              "already switched go back to what they ran; the rest are not touched; every "
              "lock is freed.",
    "rollback": "The host being rolled back stops (the release it was leaving serves there "
                "again); the hosts already rolled back stay so; the rest are not touched.",
}
"""What cancelling a release across hosts does (a one-host run's effect is not it)."""


def cancel_effect_of(session: ReleaseSession | None, kind: str) -> str | None:
    """The effect to say before cancelling a run of ``session``; None: the kind's own."""
    return ACROSS_HOSTS_CANCEL.get(kind) if isinstance(session, MultiHostSession) else None
