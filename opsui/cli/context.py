"""What a command runs with: the config, the selected hosts, the gate, and its one host.

Built once in ``main`` from the merged global options, so every command group resolves
hosts and the read-only switch the same way as the dashboard does.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from opsui.cli.common import TerminalAsk, UsageError
from opsui.config import Config, HostConfig, find_config, load_config
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection
from opsui.wiring import build_connection, build_gate, check_app_hosts, select_hosts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    config: Config
    hosts: list[HostConfig]
    gate: ActionGate
    args: argparse.Namespace
    ask: TerminalAsk
    about: dict[str, str] = field(default_factory=dict)
    """What a failure's JSON envelope names (app, host), filled in as they are known."""


def build_context(args: argparse.Namespace, ask: TerminalAsk,
                  about: dict[str, str]) -> Context:
    config = load_config(find_config(args.config))
    log.debug("config %s", config.source)
    hosts = select_hosts(config, args.host)
    check_app_hosts(config, hosts)
    read_only = args.read_only or os.environ.get("OPSUI_READ_ONLY", "") not in ("", "0")
    return Context(config, hosts, build_gate(config, hosts, read_only), args, ask, about)


def single_host(context: Context, app: str | None = None) -> HostConfig:
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
    context.about["host"] = hosts[0].name
    return hosts[0]


def with_connection(context: Context, host: HostConfig,
                    use: Callable[[HostConnection], int]) -> int:
    """``use`` over a connection to ``host``, closed afterwards whatever happens."""
    connection = build_connection(context.config, host)
    started = time.monotonic()
    log.debug("connecting to %s (%s)", host.name,
              host.ssh or host.docker_host or "local engine")
    connection.connect()
    log.debug("connected to %s in %.0f ms", host.name, (time.monotonic() - started) * 1000)
    try:
        return use(connection)
    finally:
        connection.close()
