"""``opsui`` opens the dashboard; subcommands do the same things headless.

One module per command group, each adding its subcommands and the function that runs
them (``handler``): :mod:`~opsui.cli.containers` (ps, inspect, start/stop/restart,
trust-host), :mod:`~opsui.cli.logs`, :mod:`~opsui.cli.releases`,
:mod:`~opsui.cli.backups`, :mod:`~opsui.cli.front` (the front proxy),
:mod:`~opsui.cli.swarm` (a Swarm manager's tasks on every node) and
:mod:`~opsui.cli.tui` (the dashboard, check-config).
Options shared by several commands are declared once in :mod:`~opsui.cli.options`;
every failure is told by :mod:`~opsui.cli.failure`. How the packages fit together:
docs/ARCHITECTURE.md.

Exit codes: 0 success, 1 the action failed or was refused, 2 bad usage or bad config,
3 the host could not be reached, 130 interrupted (Ctrl-C), 141 the output was closed
(``| head``). Errors print what happened and what to do, never a traceback (set
OPSUI_DEBUG=1 or pass -v for one); under ``--json`` a failure is also one JSON object
on stdout.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, cast

from opsui import __version__
from opsui.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    TerminalAsk,
    UsageError,
)
from opsui.cli.context import Context, build_context
from opsui.cli.failure import envelope, fail, pipe_closed
from opsui.cli.logfile import setup_logging
from opsui.cli.options import BadArguments, Parser, global_options, merge_global_options
from opsui.cli.tui import add_dashboard_options
from opsui.domain.errors import ConfigError, HostError, OpsuiError

__all__ = ["COMMAND_GROUPS", "build_parser", "main"]

COMMAND_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "containers": ("add_container_commands",
                   ("ps", "start", "stop", "restart", "inspect", "trust-host")),
    "logs": ("add_logs_command", ("logs",)),
    "releases": ("add_release_commands",
                 ("deploy", "rollback", "history", "tags", "lock", "unlock", "recover")),
    "backups": ("add_backup_commands", ("backup", "backups", "restore", "migrate")),
    "front": ("add_front_command", ("front",)),
    "swarm": ("add_swarm_commands", ("tasks",)),
}
"""Module of :mod:`opsui.cli` → (the function adding its subcommands, their names).

A command line imports only the group it names: the dashboard (no command) none of
them, so its launch does not pay for the headless commands' imports (issue 14). A
unit test checks the names against the parsers the modules add."""

AddCommands = Callable[[Any, list[argparse.ArgumentParser]], None]


def _groups_named(argv: Sequence[str] | None) -> set[str]:
    """The groups whose parsers ``argv`` may need: all of them for help or when not
    known, else those with a command among its words (a word that is only an option's
    value, ``--host logs``, loads a group for nothing, harmlessly)."""
    if argv is None or "-h" in argv or "--help" in argv:
        return set(COMMAND_GROUPS)
    words = set(argv)
    return {group for group, (_, names) in COMMAND_GROUPS.items() if words & set(names)}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line: global options, then one subcommand (or none: the
    dashboard), each accepting the global options after it too.

    Given ``argv``, only the command groups it names are imported; every other
    command gets a bare placeholder parser, so a misspelt command is still told every
    name it could have been."""
    parser = Parser(prog="opsui", description="Terminal operations dashboard for Docker hosts.",
                    parents=[global_options(sub=False)])
    parser.add_argument("--version", action="version", version=f"opsui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = [global_options(sub=True)]
    wanted = _groups_named(argv)
    for group, (adder, names) in COMMAND_GROUPS.items():
        if group not in wanted:
            for name in names:
                sub.add_parser(name)
            continue
        add: AddCommands = getattr(importlib.import_module(f"opsui.cli.{group}"), adder)
        # logs keeps -v for itself (it inverts the filter, as grep's does)
        add(sub, [global_options(sub=True, short_verbose=False)] if group == "logs"
            else common)
    add_dashboard_options(parser, sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ask = TerminalAsk()
    about: dict[str, str] = {}
    as_json = "--json" in argv  # until parsed: a bad argument still answers in JSON
    try:
        args = merge_global_options(build_parser(argv).parse_args(argv))
        as_json = bool(getattr(args, "json", False))
        if args.command:
            setup_logging(args.verbose, dashboard=False)
        if getattr(args, "app", None):
            about["app"] = args.app
        handler = cast(Callable[[Context], int], args.handler)
        return handler(build_context(args, ask, about))
    except BadArguments as exc:
        print(f"{exc.usage}{exc.prog}: error: {exc}", file=sys.stderr)
        if as_json:
            print(json.dumps(envelope(exc, EXIT_USAGE)))
        return EXIT_USAGE
    except (ConfigError, UsageError) as exc:
        return fail(exc, EXIT_USAGE, as_json=as_json, about=about)
    except HostError as exc:
        return fail(exc, EXIT_UNREACHABLE, as_json=as_json, about=about)
    except OpsuiError as exc:
        return fail(ask.explain(exc), EXIT_FAILED, as_json=as_json, about=about)
    except KeyboardInterrupt:
        if as_json:
            print(json.dumps(envelope(OpsuiError("interrupted"), EXIT_INTERRUPTED, about)))
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return pipe_closed(EXIT_PIPE_CLOSED)


if __name__ == "__main__":
    sys.exit(main())
