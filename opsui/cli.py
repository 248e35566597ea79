"""``opsui`` opens the dashboard; subcommands do the same things headless.

Exit codes: 0 success, 1 the action failed or was refused, 2 bad usage or bad config,
3 the host could not be reached, 130 interrupted (Ctrl-C), 141 the output was closed
(``| head``). Errors print what happened and what to do, never a traceback (set
OPSUI_DEBUG=1 for one).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from opsui import __version__
from opsui.cli_backups import BACKUP_COMMANDS, BackupCommands, add_backup_commands
from opsui.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    TerminalAsk,
    UsageError,
    multiline,
)
from opsui.cli_releases import RecordingTags, ReleaseCommands, add_release_commands
from opsui.config import Config, HostConfig, find_config, load_config
from opsui.domain.errors import ActionFailed, ActionRefused, ConfigError, HostError, OpsuiError
from opsui.domain.models import Container, find_container
from opsui.domain.monitor import BufferedListener, HostMonitor, MonitorListener
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.container_actions import CONTAINER_ACTIONS, container_operation
from opsui.domain.operations.gate import ActionGate, ActionRequest
from opsui.domain.operations.policy import Action, ConfirmPolicy
from opsui.domain.ports import HostConnection
from opsui.wiring import (
    build_backups,
    build_connection,
    build_gate,
    build_monitor_factory,
    check_app_hosts,
    select_hosts,
)


@dataclass(frozen=True)
class Context:
    config: Config
    hosts: list[HostConfig]
    gate: ActionGate
    args: argparse.Namespace
    ask: TerminalAsk


def _add_global_options(parser: argparse.ArgumentParser, *, sub: bool) -> None:
    """--config, --host, --read-only: before the command, or (``sub``) after it, where
    they land in ``sub_*`` and are merged by :func:`_merge_global_options`."""
    prefix, default = ("sub_", argparse.SUPPRESS) if sub else ("", None)
    parser.add_argument("--config", metavar="PATH", dest=f"{prefix}config",
                        default=default, help="opsui.toml to use")
    parser.add_argument("--host", action="append", metavar="HOST", dest=f"{prefix}host",
                        default=argparse.SUPPRESS if sub else [],
                        help="host name from opsui.toml, ssh://user@host:port, or an "
                             "~/.ssh/config alias; repeat for several (default: all "
                             "configured; an app's commands: the app's host)")
    parser.add_argument("--read-only", action="store_true", dest=f"{prefix}read_only",
                        default=argparse.SUPPRESS if sub else False,
                        help="refuse every action that changes a host")


def _merge_global_options(args: argparse.Namespace) -> argparse.Namespace:
    if getattr(args, "sub_config", None) is not None:
        if args.config is not None and args.config != args.sub_config:
            raise UsageError("--config given twice, with different files")
        args.config = args.sub_config
    args.host = [*args.host, *getattr(args, "sub_host", [])]
    args.read_only = args.read_only or getattr(args, "sub_read_only", False)
    return args


def _count(text: str) -> int:
    """A line count for --tail: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more lines")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsui", description="Terminal operations dashboard for Docker hosts.")
    parser.add_argument("--version", action="version", version=f"opsui {__version__}")
    _add_global_options(parser, sub=False)
    parser.add_argument("--open", metavar="TARGET",
                        help="start the dashboard with TARGET selected and its logs open, "
                             "following: a container name or id, app:NAME or PROJECT/SERVICE")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ps = sub.add_parser("ps", help="list containers with state and health")
    ps.add_argument("--json", action="store_true", help="machine-readable output")

    for action in CONTAINER_ACTIONS:
        cmd = sub.add_parser(action.value, help=f"{action.value} a container")
        cmd.add_argument("container", help="container name or id")
        cmd.add_argument("--yes", action="store_true", help="confirm without asking")
        cmd.add_argument("--confirm", metavar="NAME",
                         help="the container's name, where policy asks to type it")
        cmd.add_argument("--json", action="store_true", help="machine-readable output")

    inspect = sub.add_parser("inspect", help="details and health log of a container")
    inspect.add_argument("container")
    inspect.add_argument("--json", action="store_true")

    trust = sub.add_parser("trust-host", help="add a host's SSH key to known_hosts on purpose")
    trust.add_argument("target", help="ssh://user@host:port or an ~/.ssh/config alias")
    trust.add_argument("--fingerprint", required=True,
                       help="the SHA256:... fingerprint you verified out of band")
    trust.add_argument("--key-type", help="key type shown with the fingerprint "
                       "(default: the one the host offers first)")
    trust.add_argument("--known-hosts", default=str(Path.home() / ".ssh" / "known_hosts"))

    logs = sub.add_parser(
        "logs", help="print (and follow) logs of a container, service, project or app",
        description="TARGET: a container name or id (followed as its compose service or "
                    "app, across restarts and replacements), PROJECT/SERVICE, project:NAME, "
                    "app:NAME, or several container names.")
    logs.add_argument("target", nargs="+", metavar="TARGET")
    logs.add_argument("-f", "--follow", action="store_true", help="keep following")
    logs.add_argument("--since", metavar="WHEN", help="30s, 5m, 1h, 24h, or all")
    logs.add_argument("--tail", type=_count, metavar="N",
                      help="start with the last N lines (default: [logs] tail_lines)")
    logs.add_argument("--grep", metavar="REGEX", help="only lines matching (smart case)")
    logs.add_argument("-v", "--invert", action="store_true", help="only lines NOT matching")
    logs.add_argument("-t", "--timestamps", action="store_true", help="show the engine's time")

    add_release_commands(sub)
    add_backup_commands(sub)
    sub.add_parser("check-config", help="validate opsui.toml and print what it resolves to")
    for command in sub.choices.values():
        _add_global_options(command, sub=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    ask = TerminalAsk()
    try:
        context = _context(_merge_global_options(args), ask)
        handler = _COMMANDS.get(args.command or "", _run_tui)
        return handler(context)
    except (ConfigError, UsageError) as exc:
        return _fail(exc, EXIT_USAGE)
    except HostError as exc:
        return _fail(exc, EXIT_UNREACHABLE)
    except OpsuiError as exc:
        return _fail(ask.explain(exc), EXIT_FAILED)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return _pipe_closed()


def _pipe_closed() -> int:
    """stdout's reader went away (``opsui logs ... | head``): stop quietly. stdout now
    points at /dev/null, so the interpreter's last flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_PIPE_CLOSED


def _fail(error: OpsuiError, code: int) -> int:
    if os.environ.get("OPSUI_DEBUG"):
        logging.getLogger(__name__).exception("error")
    print(f"opsui: {multiline(str(error))}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {multiline(error.hint, '    ')}", file=sys.stderr)
    return code


def _context(args: argparse.Namespace, ask: TerminalAsk) -> Context:
    config = load_config(find_config(args.config))
    hosts = select_hosts(config, args.host)
    check_app_hosts(config, hosts)
    read_only = args.read_only or os.environ.get("OPSUI_READ_ONLY", "") not in ("", "0")
    return Context(config, hosts, build_gate(config, hosts, read_only), args, ask)


def _check_ui_config(config: Config, *, warn: bool) -> int:
    """[keys] and theme, as the dashboard will use them: 0, or 2 after saying why."""
    from opsui.ui.config_check import ui_config_problems  # loads Textual

    errors, skipped = ui_config_problems(config)
    if warn:
        for problem in skipped:
            print(f"opsui: warning: {problem} (the file is skipped)", file=sys.stderr)
    for error in errors:
        _fail(error, EXIT_USAGE)
    return EXIT_USAGE if errors else 0


def _setup_file_logging() -> None:
    """The TUI owns the terminal, so logs go to a file in the user's state folder."""
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    folder = state / "opsui"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(folder / "opsui.log", encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)


def _start_monitors_early(context: Context) -> Callable[[MonitorListener], list[HostMonitor]]:
    """Start connecting to every host now; hand the UI a factory that attaches to them.

    Connecting and listing then overlap with loading Textual and drawing the first
    frame, instead of starting when the app mounts. Updates wait in a
    :class:`BufferedListener` until the app attaches its own listener.
    """
    held = BufferedListener()
    factory = build_monitor_factory(context.config, context.gate, context.hosts, ui=True)
    try:
        monitors = factory(held)
    except OpsuiError as exc:  # shown by the app, as when the app builds them itself
        error = exc

        def failing(listener: MonitorListener) -> list[HostMonitor]:
            raise error

        return failing
    for monitor in monitors:
        monitor.start()

    def attach(listener: MonitorListener) -> list[HostMonitor]:
        held.attach(listener)
        return monitors

    return attach


def _run_tui(context: Context) -> int:
    _setup_file_logging()
    factory = _start_monitors_early(context)
    from opsui.ui.app import OpsuiApp  # Textual loads while the monitors connect

    if _check_ui_config(context.config, warn=False):  # as check-config judges it
        _stop_early_monitors(factory)
        return EXIT_USAGE
    app = OpsuiApp(context.config, context.gate, factory, open_target=context.args.open)
    app.run()
    return app.return_code or 0


def _stop_early_monitors(factory: Callable[[MonitorListener], list[HostMonitor]]) -> None:
    try:
        monitors = factory(BufferedListener())
    except OpsuiError:
        return
    for monitor in monitors:
        monitor.stop(timeout=0)


# -- headless commands ------------------------------------------------------------------


def _single_host(context: Context, app: str | None = None) -> HostConfig:
    """The one host a command runs on: the only one selected, else the configured
    app's own host (``apps.NAME.host``) among them."""
    hosts = context.hosts
    configured = context.config.app(app) if app is not None else None
    if len(hosts) > 1 and configured is not None:
        hosts = [h for h in hosts if h.name == configured.host]
        if not hosts:
            names = ", ".join(h.name for h in context.hosts)
            raise UsageError(f"app '{app}' is on host '{configured.host}', which is not "
                             f"among --host {names}", hint=f"Pass --host {configured.host}.")
    if len(hosts) != 1:
        names = ", ".join(h.name for h in hosts)
        what = f"'{app}' is no app in {context.config.source}, and this" if app else "This"
        raise UsageError(f"{what} command works on one host; several are selected "
                         f"({names})", hint="Name one with --host NAME.")
    return hosts[0]


def _with_connection(context: Context, host: HostConfig,
                     use: Callable[[HostConnection], int]) -> int:
    connection = build_connection(context.config, host)
    connection.connect()
    try:
        return use(connection)
    finally:
        connection.close()


def _find(containers: list[Container], ref: str) -> Container:
    found = find_container(containers, ref)
    if found is not None:
        return found
    raise OpsuiError(f"no container named '{ref}'",
                     hint="Run `opsui ps` to see names; ids may be abbreviated.")


def _container_json(container: Container, host: str) -> dict[str, object]:
    return {
        "host": host,
        "id": container.id,
        "name": container.name,
        "image": container.image,
        "state": container.state.value,
        "health": container.health.value,
        "status": container.status_text,
        "project": container.compose_project,
        "service": container.compose_service,
        "restarts": container.restart_count,
        "ports": [str(p) for p in container.ports],
    }


def _cmd_ps(context: Context) -> int:
    rows: list[dict[str, object]] = []
    failures = 0
    for host in context.hosts:
        try:
            def listing(connection: HostConnection, host: HostConfig = host) -> int:
                rows.extend(_container_json(c, host.name)
                            for c in connection.engine.list_containers())
                return 0
            _with_connection(context, host, listing)
        except HostError as exc:
            failures += 1
            _fail(exc, EXIT_UNREACHABLE)
    if context.args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(rows)
    return EXIT_UNREACHABLE if failures and not rows else 0


def _print_table(rows: list[dict[str, object]]) -> None:
    columns = ("host", "name", "project", "image", "state", "health", "status")
    table = [[str(row.get(c) or "") for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in table)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def _cmd_action(context: Context) -> int:
    action = Action(context.args.command)
    host = _single_host(context)

    def act(connection: HostConnection) -> int:
        container = _find(connection.engine.list_containers(), context.args.container)
        request = ActionRequest(action, host.name, container.id, container.name)
        confirmation = context.gate.confirmation_for(request)
        answer: bool | str | None = context.args.confirm or (True if context.args.yes else None)
        if answer is None and confirmation.policy is not ConfirmPolicy.NONE:
            answer = context.ask(confirmation.question, confirmation.policy,
                                 confirmation.expected_text)
        operation = container_operation(connection.engine, action)
        try:
            context.gate.execute(request, answer, lambda: operation(container.id))
        except ActionRefused as exc:
            return _fail(context.ask.explain(exc), EXIT_FAILED)
        if context.args.json:
            print(json.dumps({"ok": True, "action": action.value, "container": container.name,
                              "host": host.name}))
        else:
            print(f"{action.value}: {container.name} on {host.name}: ok")
        return 0

    return _with_connection(context, host, act)


def _cmd_inspect(context: Context) -> int:
    host = _single_host(context)

    def show(connection: HostConnection) -> int:
        container = _find(connection.engine.list_containers(), context.args.container)
        detail = connection.engine.inspect(container.id)
        if context.args.json:
            print(json.dumps({
                **_container_json(detail.container, host.name),
                "command": detail.command,
                "env": dict(detail.env),
                "labels": dict(detail.labels),
                "health_log": [{"exit_code": e.exit_code, "output": e.output,
                                "ended": e.ended_at.isoformat() if e.ended_at else None}
                               for e in detail.health_log],
            }, indent=2))
            return 0
        c = detail.container
        print(f"{c.name}  {c.image}  {c.state.value}  health={c.health.value}")
        print(f"command: {detail.command}")
        for key, value in detail.env:
            print(f"env {key}={value}")
        for entry in detail.health_log:
            print(f"health exit={entry.exit_code}: {entry.output.strip()}")
        return 0

    return _with_connection(context, host, show)


_FINGERPRINT = re.compile(r"(SHA256:)?[A-Za-z0-9+/]{43}=?")
"""OpenSSH's form: base64 of a SHA-256, 43 characters without the padding."""


def _cmd_trust_host(context: Context) -> int:
    from opsui.backends.ssh import fingerprint, resolve_target, scan_host_key, trust_host_key

    wanted = context.args.fingerprint.strip()
    if not _FINGERPRINT.fullmatch(wanted):
        raise UsageError(f"--fingerprint {wanted[:80]!r} is not a SHA256 fingerprint",
                         hint="Give it as ssh-keygen -lf or ssh shows it: SHA256: and 43 "
                              "characters of base64.")
    wanted = "SHA256:" + wanted.removeprefix("SHA256:").rstrip("=")
    target = resolve_target(context.args.target, context.config.ssh_config)
    key = scan_host_key(target.hostname, target.port, context.args.key_type)
    presented = fingerprint(key)
    if presented != wanted or (context.args.key_type and key.get_name() != context.args.key_type):
        raise OpsuiError(
            f"{target.hostname}:{target.port} offers {key.get_name()} {presented}, not "
            f"{context.args.key_type or ''} {wanted}; nothing was trusted".replace("  ", " "),
            hint="Check the fingerprint with the host's owner (ssh-keygen -lf on the "
                 "host's /etc/ssh/ssh_host_*_key.pub); pick another key type with "
                 "--key-type.")
    key_type = key.get_name()
    trust_host_key(target.hostname, target.port, key_type, wanted, context.args.known_hosts)
    print(f"trusted {target.hostname}:{target.port} ({context.args.fingerprint}) "
          f"in {context.args.known_hosts}")
    return 0


def _cmd_logs(context: Context) -> int:
    from opsui.cli_logs import ReconnectingEngine, grep_pattern, parse_window, run_logs

    args, config = context.args, context.config
    host = _single_host(context)
    window = parse_window(args.since, args.tail, config.log_tail_lines)
    engine = ReconnectingEngine(lambda: build_connection(config, host))
    return run_logs(engine, args.target, window, follow=args.follow,
                    timestamps=args.timestamps, grep=grep_pattern(args.grep),
                    invert=args.invert, capacity=config.log_buffer_lines)


def _cmd_release(context: Context) -> int:
    """deploy, rollback, history, tags, lock, unlock, recover: one host's AppReleases."""
    host = _single_host(context, context.args.app)

    def run(connection: HostConnection) -> int:
        backups = build_backups(connection, context.gate, context.config, host.docker_host)
        tags = RecordingTags(connection.image_tags)
        releases = AppReleases(host.name, connection.engine, connection.prober,
                               connection.files, context.gate, context.config,
                               tags, backups=backups)
        try:
            return ReleaseCommands(releases, context.gate, context.args, context.ask,
                                   tags).run()
        except ActionRefused as exc:
            return _fail(context.ask.explain(exc), EXIT_FAILED)

    return _with_connection(context, host, run)


def _cmd_backups(context: Context) -> int:
    """backup, backups, restore, migrate: one host's AppBackups."""
    host = _single_host(context, context.args.app)

    def run(connection: HostConnection) -> int:
        backups = build_backups(connection, context.gate, context.config, host.docker_host)
        try:
            return BackupCommands(backups, context.gate, context.args, context.ask).run()
        except (ActionRefused, ActionFailed) as exc:
            error = context.ask.explain(exc)
            if context.args.json:
                print(json.dumps({"app": context.args.app, "host": host.name, "ok": False,
                                  "error": str(error), "hint": error.hint}))
            return _fail(error, EXIT_FAILED)

    return _with_connection(context, host, run)


def _cmd_check_config(context: Context) -> int:
    """The same checks as the dashboard's start, then what the file resolves to."""
    config = context.config
    if _check_ui_config(config, warn=True):
        return EXIT_USAGE
    print(f"config: {config.source}")
    print(f"theme: {config.theme}  read_only: {config.read_only}")
    for host in config.hosts:
        where = host.ssh or host.docker_host or "local engine (DOCKER_HOST or default socket)"
        print(f"host {host.name}: {where}{'  (read-only)' if host.read_only else ''}")
    for app in config.apps:
        print(f"app {app.name} on {app.host}: {app.container or app.service or app.name}"
              f" health={list(app.health_urls)}")
    return 0


_COMMANDS: dict[str, Callable[[Context], int]] = {
    "ps": _cmd_ps,
    "start": _cmd_action,
    "stop": _cmd_action,
    "restart": _cmd_action,
    "inspect": _cmd_inspect,
    "logs": _cmd_logs,
    "trust-host": _cmd_trust_host,
    "check-config": _cmd_check_config,
    **{name: _cmd_release for name in ("deploy", "rollback", "history", "tags", "lock",
                                       "unlock", "recover")},
    **{name: _cmd_backups for name in BACKUP_COMMANDS},
}


if __name__ == "__main__":
    sys.exit(main())
