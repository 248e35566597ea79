"""``opsui backup|backups|restore|migrate``: the backups screen's actions, headless.

The same :class:`~opsui.domain.operations.app_backups.AppBackups` as the TUI, so the
gate, lock and journal on the host are shared. Progress (bytes and rate), steps and a
migration's output go to stderr; stdout is the result (text, or one JSON object with
--json). ``--override "APP without backup"`` is the typed override that lets a
migration or restore go on when its backup failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from functools import partial
from typing import Any

from opsui.cli.common import AppCommand, AskAnswer, age_text, cancellable, print_step
from opsui.cli.context import Context, single_host, with_connection
from opsui.cli.options import add_command, confirm_options, json_option, override_option
from opsui.domain.backups import Backup
from opsui.domain.operations.app_backups import AppBackups
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection
from opsui.domain.releases import OK
from opsui.wiring import build_backups

report_steps = partial(print_step, with_outcome=True)
"""Backups, restores and migrations print their own "outcome" step as well."""


def add_backup_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """The subcommands, on the parser's subparsers (``common``: the global options)."""
    as_json = [*common, json_option()]
    confirmable = [*as_json, confirm_options("app")]

    def command(name: str, parents: list[argparse.ArgumentParser],
                help: str) -> argparse.ArgumentParser:
        return add_command(sub, name, parents, help, run)

    backup = command("backup", confirmable, "back an app's database up now (verified)")
    backup.add_argument("app")
    backups = command("backups", as_json, "an app's backups: age, size, verified")
    backups.add_argument("app")
    backups.add_argument("--verify", metavar="BACKUP",
                         help="recompute sha256 and rerun the engine's check")
    backups.add_argument("--download", metavar="BACKUP", help="copy one to this machine")
    backups.add_argument("--to", metavar="PATH", help="where --download writes it")
    restore = command("restore", [*confirmable, override_option()],
                      "restore a backup (a safety backup first)")
    restore.add_argument("app")
    restore.add_argument("backup", help="backup id (see `opsui backups APP`)")
    migrate = command("migrate", [*confirmable, override_option()],
                      "run an app's migration (a backup first)")
    migrate.add_argument("app")
    migrate.add_argument("tag", nargs="?", help="image tag to migrate with (default: "
                                                "the serving one)")


def run(context: Context) -> int:
    """One backups command against the app's host, with the same facade as the TUI's."""
    host = single_host(context, context.args.app)

    def use(connection: HostConnection) -> int:
        backups = build_backups(connection, context.gate, context.config, host.docker_host)
        return BackupCommands(backups, context.gate, context.args, context.ask).run()

    return with_connection(context, host, use)


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"




def backup_json(backup: Backup) -> dict[str, Any]:
    return {**asdict(backup), "usable": backup.usable, "age_seconds": backup.age_seconds()}


class BackupCommands(AppCommand):
    """One command against one host's :class:`AppBackups`."""

    def __init__(self, backups: AppBackups, gate: ActionGate, args: argparse.Namespace,
                 ask: AskAnswer) -> None:
        super().__init__(backups, gate, args, ask)
        self.backups = backups

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def progress(done: int, rate: float) -> None:
        end = "\r" if sys.stderr.isatty() else "\n"
        print(f"  {human_bytes(done)} at {human_bytes(rate)}/s   ", end=end, file=sys.stderr,
              flush=True)

    @staticmethod
    def output(line: str) -> None:
        print(f"  | {line}", file=sys.stderr, flush=True)

    def _print(self, data: dict[str, Any], text: str) -> None:
        print(json.dumps(data, indent=2) if self.args.json else text)

    # -- commands -----------------------------------------------------------------------

    def _backup(self, app: AppSpec) -> int:
        request = self.backups.backup_request(app)
        self._say(f"backup {app.name} on {self.backups.host} to "
                  f"{self.backups.folder(app)}")
        answer = self._answer(request)
        with cancellable("it: nothing half-written is kept") as cancelled:
            backup = self.backups.backup(app, answer, self.progress, cancelled)
        self._print({"app": app.name, "host": self.backups.host, "ok": backup.verified,
                     "backup": backup_json(backup)},
                    f"backup {backup.id}: {human_bytes(backup.size)} in {backup.seconds:.1f} s,"
                    f" sha256 {backup.sha256[:16]}…, "
                    f"{'verified' if backup.verified else 'NOT VERIFIED'}: {backup.check}\n"
                    f"  {backup.path}")
        return 0 if backup.verified else 1

    def _backups(self, app: AppSpec) -> int:
        if self.args.verify:
            return self._verify(app, self.args.verify)
        if self.args.download:
            return self._download(app, self.args.download)
        status = self.backups.status(app)
        if self.args.json:
            print(json.dumps({"app": app.name, "host": self.backups.host,
                              "folder": status.folder, "keep": status.config.keep,
                              "backups": [backup_json(b) for b in status.backups],
                              "restores": [asdict(r) for r in status.restores],
                              "migrations": [asdict(m) for m in status.migrations]},
                             indent=2))
            return 0
        print(f"{app.name} on {self.backups.host}: {status.config.engine} backups in "
              f"{status.folder} (keep {status.config.keep})")
        for b in status.backups:
            state = ("removed" if b.removed else "FAILED" if not b.usable else
                     "verified" if b.verified else "NOT VERIFIED")
            print(f"  {b.id}  {age_text(b.age_seconds()):>5}  {human_bytes(b.size):>10}  "
                  f"{state:<12}  {b.why}{' ' + b.release if b.release else ''}")
        if not status.backups:
            print("  (no backups yet: `opsui backup APP`)")
        return 0

    def _verify(self, app: AppSpec, ref: str) -> int:
        result = self.backups.verify(app, ref)
        self._print({"app": app.name, "backup": result.backup.id, "ok": result.ok,
                     "detail": result.detail},
                    f"{result.backup.id}: {'ok' if result.ok else 'FAILED'}: {result.detail}")
        return 0 if result.ok else 1

    def _download(self, app: AppSpec, ref: str) -> int:
        backup = self.backups.find(app, ref)
        to = self.args.to or backup.path.rpartition("/")[2]
        found, size = self.backups.download(app, ref, to, self.progress)
        self._print({"app": app.name, "ok": True, "backup": found.id, "path": to, "size": size,
                     "sha256": found.sha256},
                    f"{found.id}: {human_bytes(size)} to {to} (sha256 matches the journal)")
        return 0

    def _restore(self, app: AppSpec) -> int:
        plan = self.backups.plan_restore(app, self.args.backup)
        b = plan.backup
        self._say(f"restore {app.name} on {plan.host} from {b.id} ({human_bytes(b.size)}, "
                  f"{age_text(b.age_seconds())} old, {b.why})\n"
                  f"  steps: {', '.join(plan.steps)}")
        answer = self._answer(plan.request)
        with cancellable("it: nothing half-written is kept") as cancelled:
            restored = self.backups.restore(app, plan, answer, report_steps, self.progress,
                                            self.args.override, cancelled)
        self._print({"app": app.name, "host": plan.host, "ok": restored.outcome == OK,
                     "restore": asdict(restored)},
                    f"restore {app.name} from {b.id}: {restored.outcome} "
                    f"(safety backup {restored.safety_backup or 'none'})")
        return 0 if restored.outcome == OK else 1

    def _migrate(self, app: AppSpec) -> int:
        plan = self.backups.plan_migration(app, self.args.tag)
        self._say(f"migrate {app.name} on {plan.host}: {plan.command_text} in "
                  f"{'the running container' if plan.run_in == 'running' else 'a new container'}"
                  f" of {plan.image}\n  steps: {', '.join(plan.steps)}")
        answer = self._answer(plan.request)
        with cancellable("it: nothing half-written is kept") as cancelled:
            done = self.backups.migrate(app, plan, answer, report_steps, self.output,
                                        self.progress, self.args.override, cancelled)
        self._print({"app": app.name, "host": plan.host, "ok": done.outcome == OK,
                     "outcome": done.outcome,
                     "exit_code": done.exit_code, "backup": done.backup},
                    f"migrate {app.name}: {done.outcome} (backup {done.backup or 'none'})")
        return 0 if done.outcome == OK else 1
