"""``opsui`` opens the dashboard; subcommands do the same things headless.

One module per command group, each adding its subcommands and the function that runs
them (``handler``): :mod:`~opsui.cli.containers` (ps, inspect, start/stop/restart,
trust-host), :mod:`~opsui.cli.logs`, :mod:`~opsui.cli.releases`,
:mod:`~opsui.cli.backups` and :mod:`~opsui.cli.tui` (the dashboard, check-config).
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
import json
import sys
from collections.abc import Callable, Sequence
from typing import cast

from opsui import __version__
from opsui.cli.backups import add_backup_commands
from opsui.cli.common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_PIPE_CLOSED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    TerminalAsk,
    UsageError,
)
from opsui.cli.containers import add_container_commands
from opsui.cli.context import Context, build_context
from opsui.cli.failure import envelope, fail, pipe_closed
from opsui.cli.logfile import setup_logging
from opsui.cli.logs import add_logs_command
from opsui.cli.options import BadArguments, Parser, global_options, merge_global_options
from opsui.cli.releases import add_release_commands
from opsui.cli.tui import add_dashboard_options
from opsui.domain.errors import ConfigError, HostError, OpsuiError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options, then one subcommand (or none: the
    dashboard), each accepting the global options after it too."""
    parser = Parser(prog="opsui", description="Terminal operations dashboard for Docker hosts.",
                    parents=[global_options(sub=False)])
    parser.add_argument("--version", action="version", version=f"opsui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = [global_options(sub=True)]
    add_container_commands(sub, common)
    add_logs_command(sub, [global_options(sub=True, short_verbose=False)])
    add_release_commands(sub, common)
    add_backup_commands(sub, common)
    add_dashboard_options(parser, sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ask = TerminalAsk()
    about: dict[str, str] = {}
    as_json = "--json" in argv  # until parsed: a bad argument still answers in JSON
    try:
        args = merge_global_options(build_parser().parse_args(argv))
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
