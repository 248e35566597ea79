"""``opsui deploy|rollback|history|tags|lock|unlock|recover``: the release keys, headless.

The same :class:`~opsui.domain.operations.app_releases.AppReleases` as the TUI, so
scripts and CI share its plans, gate, lock and journal on the host. Steps stream to
stderr as they end (stdout stays the result: text, or one JSON object with --json).
Ctrl-C during a run cancels it cleanly (the run stops the new container, records
"cancelled" and frees the lock); a second Ctrl-C stops at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from opsui.cli.common import (
    AppCommand,
    AskAnswer,
    age_text,
    cancellable,
    multiline,
    print_step,
)
from opsui.cli.context import Context, single_host, with_connection
from opsui.cli.options import add_command, confirm_options, json_option, override_option
from opsui.domain.compose_drift import DRIFTS, ComposeCheck
from opsui.domain.errors import OpsuiError
from opsui.domain.operations.app_releases import AppReleases, AppStatus
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.cancel_words import deploy_cancel_effect, left_by_stop
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.policy import Action
from opsui.domain.operations.recovery import ABORT, FINISH
from opsui.domain.operations.release_run import StepEvent
from opsui.domain.operations.swarm_deploy import SwarmRollbackPlan
from opsui.domain.ports import HostConnection, ImageTags, LocalImage
from opsui.domain.releases import INTERRUPTED, OK, AuditLine, Release
from opsui.wiring import build_releases

RunPlan = Callable[["bool | str | None", threading.Event], str]


def add_release_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """The subcommands, on the parser's subparsers (``common``: the global options)."""
    as_json = [*common, json_option()]
    confirmable = [*as_json, confirm_options("app")]

    def command(name: str, parents: list[argparse.ArgumentParser],
                help: str) -> argparse.ArgumentParser:
        return add_command(sub, name, parents, help, run)

    deploy = command("deploy", [*confirmable, override_option()],
                     "deploy another tag of an app's image")
    deploy.add_argument("app", help="app name from opsui.toml, or a container name")
    deploy.add_argument("tag", help="image tag to deploy (see `opsui tags APP`)")
    rollback = command("rollback", confirmable,
                       "roll an app back (last known good release)")
    rollback.add_argument("app")
    rollback.add_argument("--to", metavar="RELEASE", help="release id or version to go to")
    history = command("history", as_json, "releases and actions of an app, newest first")
    history.add_argument("app")
    history.add_argument("--steps", action="store_true", help="with each release's steps")
    tags = command("tags", as_json, "tags an app can be deployed to, newest first")
    tags.add_argument("app")
    lock = command("lock", confirmable, "freeze deploys of an app (everyone sees why)")
    lock.add_argument("app")
    lock.add_argument("--message", "-m", required=True, help="why: shown to every operator")
    unlock = command("unlock", confirmable, "lift a freeze, or a stale deploy lock")
    unlock.add_argument("app")
    recover = command("recover", confirmable, "finish or roll back an interrupted release")
    recover.add_argument("app")
    how = recover.add_mutually_exclusive_group(required=True)
    how.add_argument("--finish", action="store_true", help="gate the new container, switch")
    how.add_argument("--rollback", action="store_true", help="stop it, the old one serves")
    recover.add_argument("--force", action="store_true",
                         help="even if the lock's holder may still be running elsewhere")


def run(context: Context) -> int:
    """One release command against the app's host, with the same facade as the TUI's;
    deploy, rollback and history of an app on several hosts run across them."""
    from opsui.cli.multi_host import hosts_of, run_on_hosts

    several = hosts_of(context, context.args.app)
    if several is not None:  # recover: on the host where the release was interrupted
        return run_on_hosts(context, several, lambda releases: ReleaseCommands(
            releases, context.gate, context.args, context.ask).run())
    host = single_host(context, context.args.app)

    def use(connection: HostConnection) -> int:
        tags = RecordingTags(connection.image_tags)
        releases = build_releases(connection, context.gate, context.config,
                                  host.docker_host, tags=tags)
        return ReleaseCommands(releases, context.gate, context.args, context.ask, tags).run()

    return with_connection(context, host, use)


class RecordingTags:
    """The registry's tags, remembering why they could not be read: the releases facade
    falls back to the host's tags (right for the picker), but ``opsui tags`` must say
    that the list is incomplete."""

    def __init__(self, tags: ImageTags) -> None:
        self._tags = tags
        self.error: OpsuiError | None = None

    def tags(self, image: str) -> list[LocalImage]:
        try:
            return self._tags.tags(image)
        except OpsuiError as exc:
            self.error = exc
            raise


class ReleaseCommands(AppCommand):
    """One command against one host's :class:`AppReleases`."""

    def __init__(self, releases: AppReleases, gate: ActionGate, args: argparse.Namespace,
                 ask: AskAnswer, tags: RecordingTags | None = None) -> None:
        super().__init__(releases, gate, args, ask)
        self.releases = releases
        self.registry = tags
        self._seen: list[str] = []
        """The steps begun by the run under way, in order."""

    def _finish(self, app: AppSpec, what: str, outcome: str, *, success: str = OK,
                shown: str | None = None, **extra: Any) -> int:
        """Print the outcome; exit 0 when it is ``success`` (shown as ``shown``)."""
        status = self.releases.status(app, mark_good=False)
        newest = status.newest_first[0] if status.releases else None
        ok = outcome == success
        if self.args.json:
            print(json.dumps({"app": app.name, "host": self.releases.host, "action": what,
                              "outcome": outcome, "ok": ok,
                              "release": _release_json(newest) if newest else None, **extra},
                             indent=2))
        else:
            reason = newest.reason if newest is not None else ""
            print(f"{what} {app.name} on {self.releases.host}: "
                  f"{shown if ok and shown else outcome}")
            if (not ok or shown) and reason:
                print(f"  {multiline(reason)}")
        return 0 if ok else 1

    # -- commands -----------------------------------------------------------------------

    def _confirm_and_run(self, app: AppSpec, what: str, preview: str,
                         request: ActionRequest, run: RunPlan, *, success: str = OK,
                         shown: str | None = None, planned: tuple[str, ...] = (),
                         **extra: Any) -> int:
        """Show the plan, ask (per policy), run it cancellably, print the outcome. The
        first Ctrl-C says what cancelling does at the step the run is at; a second one
        stops at once and says what that left and the one command that mends it."""
        self._say(preview)
        answer = self._answer(request)
        self._seen.clear()

        def cancelling() -> str:
            step = self._seen[-1] if self._seen else None
            if what != "deploy":
                return f"the {what}: stopping what it started, freeing the lock"
            return "the deploy: " + deploy_cancel_effect(step, planned, self._seen)

        try:
            with cancellable(cancelling) as cancelled:
                outcome = run(answer, cancelled)
        except KeyboardInterrupt:
            step = self._seen[-1] if self._seen else None
            print(f"\n  {left_by_stop(what, app.name, step)}", file=sys.stderr, flush=True)
            raise
        return self._finish(app, what, outcome, success=success, shown=shown, **extra)

    def _report(self, event: StepEvent) -> None:
        """Print a run's step, and remember the steps begun (what a Ctrl-C is at)."""
        if event.outcome is None and event.step != "outcome":
            self._seen.append(event.step)
        print_step(event)

    def _deploy(self, app: AppSpec) -> int:
        plan = self.releases.plan_deploy(app, self.args.tag)
        digest = getattr(plan, "current_digest", "")
        preview = (f"deploy {app.name} on {plan.host}: {plan.current_image} {digest} -> "
                   f"{plan.image} ({plan.strategy})\n  steps: {', '.join(plan.steps)}"
                   + "".join(f"\n  {note}" for note in getattr(plan, "notes", ())))
        return self._confirm_and_run(
            app, "deploy", preview, plan.request,
            lambda answer, cancelled: self.releases.deploy(
                app, plan, answer, self._report, cancelled, override=self.args.override,
                output=lambda line: print(f"  | {line}", file=sys.stderr, flush=True),
                progress=lambda done, rate: print(f"  {done:,} bytes at {rate / 1e6:.1f} MB/s",
                                                  file=sys.stderr, flush=True)),
            planned=tuple(getattr(plan, "steps", ())))

    def _rollback(self, app: AppSpec) -> int:
        plan = self.releases.plan_rollback(app, self.args.to)
        if isinstance(plan, SwarmRollbackPlan):
            preview = (f"rollback {app.name} on {plan.host}: service {plan.service_name} "
                       f"{plan.current_image} -> {plan.target_image} (its previous spec)\n"
                       f"  steps: {', '.join(plan.steps)}")
            target = plan.target_release
        else:
            age = plan.age_seconds()
            preview = "\n".join([
                f"rollback {app.name} on {plan.host}: {plan.current.image} -> "
                f"{plan.target.version} (release {plan.target.id}, "
                f"{plan.target.digest or plan.target.image_id}"
                f"{f', {age_text(age)} old' if age is not None else ''}"
                f"{', known good' if plan.target.known_good else ''})",
                f"  boots: {plan.boots}; strategy: {plan.strategy}",
                f"  steps: {', '.join(plan.steps)}",
                *(f"  {note}" for note in plan.notes),
                *(f"  env {c.key}: {c.current!r} -> {c.target!r}" for c in plan.env_changes)])
            target = plan.target.id
        return self._confirm_and_run(
            app, "rollback", preview, plan.request,
            lambda answer, cancelled: self.releases.rollback(app, plan, answer, self._report,
                                                             cancelled), target=target)

    def _recover(self, app: AppSpec) -> int:
        choice = FINISH if self.args.finish else ABORT
        plan = self.releases.plan_recovery(app, choice, force=self.args.force)
        preview = (f"{choice} interrupted release {plan.release.id} of {app.name} "
                   f"({plan.release.action} to {plan.release.version}, stopped after "
                   f"'{plan.last_step}')")
        # A release rolled back after an interruption stays recorded as "interrupted"
        # (it never finished); for --rollback that outcome is the success.
        return self._confirm_and_run(
            app, "recover", preview, plan.request,
            lambda answer, cancelled: self.releases.recover(app, plan, answer, self._report,
                                                            cancelled),
            success=OK if choice == FINISH else INTERRUPTED,
            shown=None if choice == FINISH else "rolled back, the old version serves")

    def _lock(self, app: AppSpec) -> int:
        request = self.releases.lock_request(app, Action.LOCK)
        holder = self.releases.lock(app, self.args.message, self._answer(request))
        if self.args.json:
            print(json.dumps({"app": app.name, "ok": True, "locked": True,
                              "holder": asdict(holder)}))
        else:
            print(f"{app.name}: {holder.describe()}")
        return 0

    def _unlock(self, app: AppSpec) -> int:
        request = self.releases.lock_request(app, Action.UNLOCK)
        holder = self.releases.unlock(app, self._answer(request))
        if self.args.json:
            print(json.dumps({"app": app.name, "ok": True, "locked": False,
                              "was": asdict(holder) if holder else None}))
        else:
            print(f"{app.name}: unlocked" + (f" (was {holder.describe()})" if holder else
                                             " (it was not locked)"))
        return 0

    def _history(self, app: AppSpec) -> int:
        status = self.releases.status(app)
        compose = (self.releases.agreement(app).check(status.serving)
                   if status.serving is not None and not app.swarm_service else None)
        if self.args.json:
            print(json.dumps({**_status_json(status), "replaced": status.replaced or None,
                              "compose": asdict(compose) if compose else None}, indent=2))
            return 0
        print("\n".join(history_lines(status, steps=self.args.steps, compose=compose)))
        return 0

    def _tags(self, app: AppSpec) -> int:
        """Tags newest first; a registry that cannot be read is said, and exit 1: the
        list then only has the host's own tags."""
        choices = self.releases.tag_choices(app)
        error = self.registry.error if self.registry is not None else None
        if self.args.json:
            print(json.dumps([{**asdict(c), "created": c.created.isoformat()
                               if c.created else None} for c in choices], indent=2))
        else:
            for c in choices:
                where = "+".join(w for w, on in (("host", c.on_host),
                                                 ("registry", c.in_registry)) if on)
                when = c.created.strftime("%Y-%m-%d %H:%M") if c.created else "?"
                print(f"{'*' if c.current else ' '} {c.tag:<24} {when:<17} {where}")
        if error is not None:
            print(f"opsui: the registry could not be read, only the host's tags are listed: "
                  f"{multiline(str(error))}", file=sys.stderr)
            if error.hint:
                print(f"  hint: {error.hint}", file=sys.stderr)
            return 1
        return 0


def history_lines(status: AppStatus, *, steps: bool = False,
                  compose: ComposeCheck | None = None) -> list[str]:
    """``opsui history`` as text: lock, interruptions, a release that does not serve and
    compose's view first, then releases."""
    lines: list[str] = []
    if status.replaced:
        lines.append(f"NOT SERVING: {status.replaced}")
    if compose is not None:
        head = "COMPOSE DRIFT" if compose.state == DRIFTS else compose.marker
        lines.append(f"{head}: {compose.text}")
    if status.lock is not None:
        lines.append(f"LOCKED: {status.lock.describe()}")
    interrupted = status.interrupted
    if interrupted is not None:
        lines.append(f"INTERRUPTED: release {interrupted.id} ({interrupted.action} to "
                     f"{interrupted.version}) stopped after "
                     f"'{interrupted.steps[-1].name if interrupted.steps else 'start'}'; "
                     f"`opsui recover {status.app.name} --finish` or `--rollback`")
    if status.torn:
        lines.append(f"({status.torn} torn journal line(s) skipped)")
    for release in status.newest_first:
        marks = "".join(m for m, on in (("*", release is status.current),
                                        ("✓", release.known_good),
                                        ("←", release is status.target)) if on)
        lines.append(f"{marks:<3} {release.id}  {release.action:<8} {release.version:<12} "
                     f"{release.shown_outcome:<12} {release.seconds:6.1f} s  "
                     f"{release.started_at}  {release.who}")
        if steps:
            lines.extend(f"      {s.outcome:<6} {s.name:<14} {s.seconds:6.2f} s  "
                         f"{_first_line(s.detail)}"
                         for s in release.steps)
    if not status.releases:
        lines.append(f"{status.app.name}: no releases recorded on {status.app.host} yet")
    if status.audit:
        lines.extend(["", "actions, newest first:"])
        lines.extend(audit_line(a) for a in reversed(status.audit))
    return lines


def audit_line(line: AuditLine) -> str:
    """One action on the app: when, who, what, how it ended and why (as the TUI's)."""
    what = " ".join(part for part in (line.action, line.target, line.detail) if part)
    error = f"  {_first_line(line.error)}" if line.error else ""
    return f"  {line.at}  {line.who}  {what}  {line.outcome}{error}"


def _first_line(text: str) -> str:
    """The first line of a journal field (whose newlines are kept as ␤)."""
    return text.replace("\u2424", "\n").split("\n", 1)[0] if text else ""




def _release_json(release: Release) -> dict[str, Any]:
    data = asdict(release)
    data.pop("extra", None)
    data["shown_outcome"] = release.shown_outcome
    data["seconds"] = round(release.seconds, 3)
    return data


def _status_json(status: AppStatus) -> dict[str, Any]:
    return {
        "app": status.app.name, "host": status.app.host,
        "lock": asdict(status.lock) if status.lock else None,
        "current": status.current.id if status.current else None,
        "rollback_target": status.target.id if status.target else None,
        "interrupted": status.interrupted.id if status.interrupted else None,
        "releases": [_release_json(r) for r in status.newest_first],
        "actions": [asdict(a) for a in reversed(status.audit)],
        "torn_lines": status.torn,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
