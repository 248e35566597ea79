"""The options commands share, declared once as argparse parent parsers.

A flag that means the same on several commands (``--json``, ``--yes``/``--confirm``,
``--override``) is declared here once, so its spelling and help cannot drift between
command groups. The global options (``--config``, ``--host``, ``--read-only``,
``--verbose``) are accepted before the subcommand and after it: after it they land in
``sub_*`` attributes (a subparser's defaults would otherwise overwrite what was given
before it) and :func:`merge_global_options` folds them in.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from opsui.cli.common import UsageError


class BadArguments(UsageError):
    """What argparse refused, with the usage of the (sub)command it refused it for."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.usage = parser.format_usage()
        self.prog = parser.prog


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument raises :class:`BadArguments` instead of exiting, so
    ``main`` answers it as every other failure: exit 2, and the JSON envelope under
    ``--json``. Subparsers are built with the same class."""

    def error(self, message: str) -> NoReturn:
        raise BadArguments(self, message)


def add_command(sub: Any, name: str, parents: list[argparse.ArgumentParser], help: str,
                handler: Callable[..., int]) -> argparse.ArgumentParser:
    """A subcommand with its shared options (``parents``) and the function that runs it."""
    cmd: argparse.ArgumentParser = sub.add_parser(name, parents=parents, help=help)
    cmd.set_defaults(handler=handler)
    return cmd


def global_options(*, sub: bool, short_verbose: bool = True) -> argparse.ArgumentParser:
    """--config, --host, --read-only, --verbose: before the command, or (``sub``) after
    it. ``short_verbose=False`` for a command whose own ``-v`` means something else
    (``logs -v`` inverts its filter, as grep's does)."""
    prefix, default = ("sub_", argparse.SUPPRESS) if sub else ("", None)
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--config", metavar="PATH", dest=f"{prefix}config",
                        default=default, help="opsui.toml to use")
    parent.add_argument("--host", action="append", metavar="HOST", dest=f"{prefix}host",
                        default=argparse.SUPPRESS if sub else [],
                        help="host name from opsui.toml, ssh://user@host:port, or an "
                             "~/.ssh/config alias; repeat for several (default: all "
                             "configured; an app's commands: the app's host)")
    parent.add_argument("--read-only", action="store_true", dest=f"{prefix}read_only",
                        default=argparse.SUPPRESS if sub else False,
                        help="refuse every action that changes a host")
    flags = ("-v", "--verbose") if short_verbose else ("--verbose",)
    parent.add_argument(*flags, action="count", dest=f"{prefix}verbose",
                        default=argparse.SUPPRESS if sub else 0,
                        help="debug logging: opsui's own (-v), or every library's too "
                             "(-vv); to stderr, and to the log file for the dashboard")
    return parent


def merge_global_options(args: argparse.Namespace) -> argparse.Namespace:
    """The global options given after the subcommand, added to those given before."""
    if getattr(args, "sub_config", None) is not None:
        if args.config is not None and args.config != args.sub_config:
            raise UsageError("--config given twice, with different files")
        args.config = args.sub_config
    args.host = [*args.host, *getattr(args, "sub_host", [])]
    args.read_only = args.read_only or getattr(args, "sub_read_only", False)
    args.verbose = args.verbose + getattr(args, "sub_verbose", 0)
    return args


def json_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true",
                        help="machine-readable output; a failure is one JSON object too "
                             '({"ok": false, "error": ..., "hint": ..., "code": N})')
    return parent


def confirm_options(whose: str) -> argparse.ArgumentParser:
    """--yes and --confirm for a command that changes a host (``whose`` name is typed)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--yes", action="store_true", help="confirm without asking")
    parent.add_argument("--confirm", metavar="NAME",
                        help=f"the {whose}'s name, where policy asks to type it")
    return parent


def override_option() -> argparse.ArgumentParser:
    """The typed override that lets a migration or restore go on when its backup failed."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--override", metavar="TEXT",
                        help="'APP without backup': go on if the backup fails")
    return parent
