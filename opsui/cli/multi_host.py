"""``opsui deploy|rollback|history|lock|unlock NAME`` of an app on several hosts.

Such an app's release runs on every host it lists, host by host, through
:class:`~opsui.domain.operations.multi_host.MultiHostApp` (the same facades, gate,
locks and journals as a one-host release); its history merges the hosts' journals.
``--host`` naming one of its hosts is that host's own release or history, as for any
app (repairing one host). ``lock`` freezes the app on every host or on none
(:class:`~opsui.domain.operations.multi_host_lock.MultiHostLock`), ``unlock`` lifts
it on every host; ``recover`` is the one host's where a release was interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from typing import Any

from opsui.cli.common import AppCommand, AskAnswer, cancellable, print_step
from opsui.cli.context import Context
from opsui.config import HostConfig
from opsui.domain.errors import ActionRefused
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.deploy import DeployPlan
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.multi_host import MultiHostApp, MultiOutcome, MultiPlan
from opsui.domain.operations.multi_host_history import MultiHistory, multi_history
from opsui.domain.operations.multi_host_lock import MultiHostLock
from opsui.domain.operations.policy import Action
from opsui.domain.ports import HostConnection
from opsui.domain.releases import OK
from opsui.wiring import build_connection, build_releases

COMMANDS = ("deploy", "rollback", "history", "lock", "unlock", "recover")


def hosts_of(context: Context, name: str) -> list[HostConfig] | None:
    """The hosts an app's command runs on when it is for all of them, else None: a
    deploy, rollback, history, lock or unlock of an app with several hosts, unless one
    host was named with --host."""
    app = context.config.app(name)
    if context.args.command not in COMMANDS or app is None or len(app.every_host) < 2 \
            or len(context.hosts) == 1:
        return None
    return [context.config.host(h) or HostConfig(h) for h in app.every_host]


def run_on_hosts(context: Context, hosts: list[HostConfig],
                 one_host: Callable[[AppReleases], int]) -> int:
    """Connect to every host of the app, all at once (an SSH handshake is mostly
    waiting: three in a row cost a rolling release a second or more that three deploys
    by hand, each connecting once, do not pay in one process), then run the command
    across them (``one_host``: a one-host command on one of them, for ``recover``). A
    host that cannot be reached fails the command; the others' links are closed."""
    context.about["host"] = ", ".join(h.name for h in hosts)
    with contextlib.ExitStack() as stack:

        def connect(host: HostConfig) -> HostConnection:
            connection = build_connection(context.config, host)
            connection.connect()
            return connection

        with ThreadPoolExecutor(len(hosts), thread_name_prefix="opsui-connect") as pool:
            pending = [pool.submit(connect, host) for host in hosts]
        connections = []
        failure: BaseException | None = None
        for future in pending:
            try:
                connection = future.result()
            except BaseException as exc:  # the first host's error is the one said
                failure = failure or exc
                continue
            stack.callback(connection.close)
            connections.append(connection)
        if failure is not None:
            raise failure
        releases = [build_releases(connection, context.gate, context.config, host.docker_host)
                    for connection, host in zip(connections, hosts, strict=True)]
        return MultiHostCommands(releases, context.gate, context.args, context.ask,
                                 one_host).run()


class MultiHostCommands(AppCommand):
    """One command across the hosts of one app."""

    def __init__(self, releases: list[AppReleases], gate: ActionGate,
                 args: argparse.Namespace, ask: AskAnswer,
                 one_host: Callable[[AppReleases], int] | None = None) -> None:
        super().__init__(releases[0], gate, args, ask)
        self.one_host = one_host
        """The one-host command on a host's releases (``recover`` runs there)."""
        self.releases = releases
        self.app = MultiHostApp(args.app, releases, gate)

    def run(self) -> int:
        if self.args.command == "history":
            return self._history()
        if self.args.command in ("lock", "unlock"):
            return self._freeze(MultiHostLock(self.args.app, self.releases, self.gate))
        if self.args.command == "recover":
            return self._recover_where_interrupted()
        plan = (self.app.plan_deploy(self.args.tag) if self.args.command == "deploy"
                else self.app.plan_rollback(self.args.to))
        self._say(preview(plan))
        answer = self._answer(plan.request)
        with cancellable(f"the {plan.action}: the host being released stops what it "
                         "started; hosts already switched go back") as cancelled:
            outcome = self.app.run(plan, answer, print_step, cancelled)
        return self._finish(plan, outcome)

    def _finish(self, plan: MultiPlan, outcome: MultiOutcome) -> int:
        ok = outcome.outcome == OK
        if self.args.json:
            print(json.dumps({"app": plan.app, "hosts": list(plan.hosts),
                              "action": plan.action, "version": plan.version,
                              "outcome": outcome.outcome, "ok": ok,
                              "release": outcome.release_id,
                              "results": [asdict(r) for r in outcome.hosts]}, indent=2))
        else:
            print(f"{plan.action} {plan.app} on {', '.join(plan.hosts)}: {outcome.outcome}"
                  f" (release {outcome.release_id})")
            for result in outcome.hosts:  # the whole reason: `opsui history --host H`
                first = result.detail.splitlines()[0] if result.detail else ""
                print(f"  {result.host:<16} {result.state}{': ' + first if first else ''}")
        return 0 if ok else 1

    def _recover_where_interrupted(self) -> int:
        """``recover`` is one host's (each host's release is its own): the host where
        the app's release was interrupted, found among its hosts, as if named with
        --host; several such hosts are recovered one at a time, by name."""
        name = self.args.app
        interrupted = []
        for releases in self.releases:
            status = releases.status(releases.resolve(name), mark_good=False)
            if status.interrupted is not None or (self.args.force and status.running):
                interrupted.append(releases)
        hosts = ", ".join(r.host for r in self.releases)
        if not interrupted:
            raise ActionRefused(f"{name}: no interrupted release to recover on {hosts}")
        if len(interrupted) > 1:
            where = ", ".join(r.host for r in interrupted)
            raise ActionRefused(f"{name}: interrupted releases on {where}",
                                hint=f"Recover one host at a time: `opsui recover {name} "
                                     f"--host {interrupted[0].host} ...`.")
        self._say(f"{name}: the release was interrupted on {interrupted[0].host}")
        assert self.one_host is not None, "recover needs the one-host command"
        return self.one_host(interrupted[0])

    def _freeze(self, freeze: MultiHostLock) -> int:
        """``lock``: on every host or none (an error says where it was held, by whom);
        ``unlock``: every host, each saying whose lock it lifted; exit 1 if one could
        not be."""
        if self.args.command == "lock":
            request = freeze.request(Action.LOCK, self.args.message)
            taken = freeze.lock(self.args.message, self._answer(request))
            if self.args.json:
                print(json.dumps({"app": freeze.name, "ok": True, "locked": True,
                                  "hosts": {h: asdict(holder) for h, holder in taken}}))
            else:
                print(f"{freeze.name}: locked on {', '.join(freeze.hosts)}: "
                      f"{taken[0][1].describe()}")
            return 0
        lifted = freeze.unlock(self._answer(freeze.request(Action.UNLOCK)))
        ok = not any(r.error for r in lifted)
        if self.args.json:
            print(json.dumps({"app": freeze.name, "ok": ok, "locked": not ok,
                              "hosts": {r.host: {"was": asdict(r.was) if r.was else None,
                                                 "error": r.error or None}
                                        for r in lifted}}))
        else:
            print(f"{freeze.name}: " + ("unlocked on every host" if ok
                                        else "NOT unlocked on every host"))
            for r in lifted:
                said = (f"still locked: {r.error.splitlines()[0]}" if r.error
                        else f"unlocked (was {r.was.describe()})" if r.was
                        else "unlocked (it was not locked)")
                print(f"  {r.host:<16} {said}")
        return 0 if ok else 1

    def _history(self) -> int:
        history = multi_history(self.args.app, self.releases)
        if self.args.json:
            print(json.dumps(history_json(history), indent=2))
        else:
            print("\n".join(history_lines(history)))
        return 0


def preview(plan: MultiPlan) -> str:
    pace = ("one after the other" if plan.at_once < 2
            else f"{plan.at_once} at a time, batch after batch")
    lines = [f"{plan.action} {plan.app} to {plan.version} on {len(plan.parts)} hosts, "
             f"{pace}, each through its health gate; the first that fails stops "
             "it" + (" and the hosts already switched go back" if plan.action == "deploy"
                     else " (nothing is rolled back again)")]
    for part in plan.parts:
        step = part.plan
        was = step.current_image if isinstance(step, DeployPlan) else step.current.image
        lines.append(f"  {part.host}: {was} -> {plan.version} ({step.strategy})")
    return "\n".join(lines)


def history_lines(history: MultiHistory) -> list[str]:
    lines = []
    for status in history.statuses:
        current, running = status.current, status.serving
        serving = (f"{current.version} (release {current.id})" if current
                   else f"{running.image} (no release of it recorded)" if running
                   else "no container of it")
        lock = f"; LOCKED: {status.lock.describe()}" if status.lock else ""
        lines.append(f"{status.app.host}: {serving}{lock}")
    lines.append("")
    for release in history.newest_first:
        hosts = ", ".join(f"{host} {state}" for host, state in release.hosts)
        lines.append(f"{release.id}  {release.action:<8} {release.version:<12} "
                     f"{release.outcome:<12} {release.started_at}  {release.who}  [{hosts}]")
    if not history.releases:
        lines.append(f"{history.app}: no releases recorded on its hosts yet")
    return lines


def history_json(history: MultiHistory) -> dict[str, Any]:
    return {"app": history.app,
            "hosts": [{"host": s.app.host, "current": s.current.id if s.current else None,
                       "version": s.current.version if s.current else None,
                       "serving": s.serving.image if s.serving else None,
                       "lock": asdict(s.lock) if s.lock else None}
                      for s in history.statuses],
            "releases": [{**asdict(r), "hosts": dict(r.hosts)}
                         for r in history.newest_first]}
