"""The command line as parsed: global options anywhere, the same flags on every command
that changes a host or prints JSON, and bad arguments answered without argparse exiting."""

from __future__ import annotations

import argparse

import pytest

from opsui.cli import build_parser
from opsui.cli.common import UsageError
from opsui.cli.options import BadArguments, merge_global_options

ARGS = {
    "ps": [], "inspect": ["web"], "start": ["web"], "stop": ["web"], "restart": ["web"],
    "trust-host": ["ssh://h", "--fingerprint", "SHA256:x"], "logs": ["web"],
    "deploy": ["web", "2.0"], "rollback": ["web"], "history": ["web"], "tags": ["web"],
    "lock": ["web", "-m", "why"], "unlock": ["web"], "recover": ["web", "--finish"],
    "backup": ["web"], "backups": ["web"], "restore": ["web", "b1"], "migrate": ["web"],
    "check-config": [], "front": ["web"], "tasks": [],
}
"""Each subcommand with the arguments it requires."""

CHANGES_A_HOST = {"start", "stop", "restart", "deploy", "rollback", "lock", "unlock",
                  "recover", "backup", "restore", "migrate", "front"}
PRINTS_JSON = CHANGES_A_HOST | {"ps", "inspect", "history", "tags", "backups", "tasks"}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(actions[0].choices)


def parse(*argv: str) -> argparse.Namespace:
    return merge_global_options(build_parser().parse_args(argv))


def options(command: str) -> set[str]:
    return {s for a in subcommands()[command]._actions for s in a.option_strings}


def test_every_subcommand_has_its_case_here() -> None:
    assert set(subcommands()) == set(ARGS)


@pytest.mark.parametrize("command", sorted(ARGS))
def test_global_options_mean_the_same_before_and_after_the_command(command: str) -> None:
    verbose = "--verbose" if command == "logs" else "-v"  # logs -v is --invert
    globals_ = ["--config", "x.toml", "--host", "a", "--read-only", verbose]
    before = parse(*globals_, command, *ARGS[command])
    after = parse(command, *ARGS[command], *globals_)
    for args in (before, after):
        assert (args.command, args.config, args.host, args.read_only, args.verbose) == \
            (command, "x.toml", ["a"], True, 1)


def test_hosts_and_verbosity_add_up_on_both_sides() -> None:
    args = parse("--host", "a", "-v", "ps", "--host", "b", "-v")
    assert (args.host, args.verbose) == (["a", "b"], 2)
    assert parse("-vv").verbose == 2 and parse().verbose == 0


def test_logs_keeps_its_own_short_v_for_invert() -> None:
    args = parse("logs", "web", "-v", "--grep", "GET")
    assert args.invert is True and args.verbose == 0
    assert parse("-v", "logs", "web").verbose == 1


@pytest.mark.parametrize("command", sorted(ARGS))
def test_shared_flags_are_on_every_command_that_should_have_them(command: str) -> None:
    flags = options(command)
    assert ("--json" in flags) == (command in PRINTS_JSON)
    assert ({"--yes", "--confirm"} <= flags) == (command in CHANGES_A_HOST)
    assert ("--override" in flags) == (command in {"deploy", "restore", "migrate"})
    assert {"--config", "--host", "--read-only", "--verbose"} <= flags


def test_two_different_config_files_are_refused() -> None:
    with pytest.raises(UsageError, match="--config given twice"):
        parse("--config", "a.toml", "ps", "--config", "b.toml")


@pytest.mark.parametrize("argv", [["logs", "web", "--tail", "-3"], ["deploy", "web"],
                                  ["ps", "--bogus"], ["nosuchcommand"]])
def test_bad_arguments_raise_with_the_usage_instead_of_exiting(argv: list[str]) -> None:
    with pytest.raises(BadArguments) as raised:
        build_parser().parse_args(argv)
    assert raised.value.usage.startswith("usage: opsui")
