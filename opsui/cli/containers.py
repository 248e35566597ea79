"""``opsui ps|inspect|start|stop|restart|trust-host``: containers and hosts, headless.

The same gate (confirmation policy, read-only, audit) as the dashboard's keys, over a
connection built by the wiring for the one command.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from opsui.cli.common import UsageError
from opsui.cli.context import Context, single_host, with_connection
from opsui.cli.failure import say
from opsui.cli.options import confirm_options, json_option
from opsui.config import HostConfig
from opsui.domain.errors import HostError, OpsuiError
from opsui.domain.host_clock import measured_skew
from opsui.domain.models import Container, find_container
from opsui.domain.operations.container_actions import CONTAINER_ACTIONS, container_operation
from opsui.domain.operations.gate import ActionRequest
from opsui.domain.operations.policy import Action, ConfirmPolicy
from opsui.domain.ports import HostConnection


def add_container_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """The subcommands, on the parser's subparsers (``common``: the global options)."""
    as_json = [*common, json_option()]
    ps = sub.add_parser("ps", parents=as_json, help="list containers with state and health")
    ps.set_defaults(handler=run_ps)
    for action in CONTAINER_ACTIONS:
        cmd = sub.add_parser(action.value, parents=[*as_json, confirm_options("container")],
                             help=f"{action.value} a container")
        cmd.add_argument("container", help="container name or id")
        cmd.set_defaults(handler=run_action)
    inspect = sub.add_parser("inspect", parents=as_json,
                             help="details and health log of a container")
    inspect.add_argument("container")
    inspect.set_defaults(handler=run_inspect)
    trust = sub.add_parser("trust-host", parents=common,
                           help="add a host's SSH key to known_hosts on purpose")
    trust.add_argument("target", help="ssh://user@host:port or an ~/.ssh/config alias")
    trust.add_argument("--fingerprint", required=True,
                       help="the SHA256:... fingerprint you verified out of band")
    trust.add_argument("--key-type", help="key type shown with the fingerprint "
                       "(default: the one the host offers first)")
    trust.add_argument("--known-hosts", default=str(Path.home() / ".ssh" / "known_hosts"))
    trust.set_defaults(handler=run_trust_host)


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


def run_ps(context: Context) -> int:
    """Every selected host's containers; a host that cannot be reached is said and
    skipped. Exit 3 (and, with --json, the failure's envelope) when none could be."""
    rows: list[dict[str, object]] = []
    failures: list[HostError] = []
    for host in context.hosts:
        try:
            def listing(connection: HostConnection, host: HostConfig = host) -> int:
                skew = measured_skew(connection.engine.clock)  # the host's minus ours
                rows.extend({**_container_json(c, host.name), "clock_skew_seconds": skew}
                            for c in connection.engine.list_containers())
                return 0
            with_connection(context, host, listing)
        except HostError as exc:
            failures.append(exc)
    if failures and not rows:
        for failure in failures[:-1]:
            say(failure)
        raise failures[-1]
    for failure in failures:
        say(failure)
    if context.args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_table(rows)
    return 0


def _print_table(rows: list[dict[str, object]]) -> None:
    columns = ("host", "name", "project", "image", "state", "health", "status")
    table = [[str(row.get(c) or "") for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in table)]) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in table:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def run_action(context: Context) -> int:
    """start, stop or restart one container, through the gate."""
    action = Action(context.args.command)
    host = single_host(context)

    def act(connection: HostConnection) -> int:
        container = _find(connection.engine.list_containers(), context.args.container)
        request = ActionRequest(action, host.name, container.id, container.name)
        confirmation = context.gate.confirmation_for(request)
        answer: bool | str | None = context.args.confirm or (True if context.args.yes else None)
        if answer is None and confirmation.policy is not ConfirmPolicy.NONE:
            answer = context.ask(confirmation.question, confirmation.policy,
                                 confirmation.expected_text)
        operation = container_operation(connection.engine, action)
        context.gate.execute(request, answer, lambda: operation(container.id))
        if context.args.json:
            print(json.dumps({"ok": True, "action": action.value, "container": container.name,
                              "host": host.name}))
        else:
            print(f"{action.value}: {container.name} on {host.name}: ok")
        return 0

    return with_connection(context, host, act)


def run_inspect(context: Context) -> int:
    host = single_host(context)

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

    return with_connection(context, host, show)


_FINGERPRINT = re.compile(r"(SHA256:)?[A-Za-z0-9+/]{43}=?")
"""OpenSSH's form: base64 of a SHA-256, 43 characters without the padding."""


def run_trust_host(context: Context) -> int:
    from opsui.backends.ssh import fingerprint, resolve_target, scan_target_key, trust_host_key

    wanted = context.args.fingerprint.strip()
    if not _FINGERPRINT.fullmatch(wanted):
        raise UsageError(f"--fingerprint {wanted[:80]!r} is not a SHA256 fingerprint",
                         hint="Give it as ssh-keygen -lf or ssh shows it: SHA256: and 43 "
                              "characters of base64.")
    wanted = "SHA256:" + wanted.removeprefix("SHA256:").rstrip("=")
    target = resolve_target(context.args.target, context.config.ssh_config)
    # Through the ProxyJump/ProxyCommand ssh_config gives (jump hosts must be known).
    key = scan_target_key(target, context.args.key_type, known_hosts=context.args.known_hosts)
    presented = fingerprint(key)
    if presented != wanted or (context.args.key_type and key.get_name() != context.args.key_type):
        raise OpsuiError(
            f"{target.hostname}:{target.port} offers {key.get_name()} {presented}, not "
            f"{context.args.key_type or ''} {wanted}; nothing was trusted".replace("  ", " "),
            hint="Check the fingerprint with the host's owner (ssh-keygen -lf on the "
                 "host's /etc/ssh/ssh_host_*_key.pub); pick another key type with "
                 "--key-type.")
    key_type = key.get_name()
    trust_host_key(target.hostname, target.port, key_type, wanted, context.args.known_hosts,
                   target=target)
    print(f"trusted {target.hostname}:{target.port} ({context.args.fingerprint}) "
          f"in {context.args.known_hosts}")
    return 0
