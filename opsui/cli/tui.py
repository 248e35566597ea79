"""``opsui`` with no command: the dashboard; ``opsui check-config``: its config judged.

The monitors start connecting (on a thread of their own) before Textual loads, so
connecting and listing overlap with loading Textual and drawing the first frame.
``check-config`` runs the same checks the dashboard runs at its start, so a file it
accepts never makes the dashboard refuse to start.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from typing import Any

from opsui.cli.common import EXIT_USAGE
from opsui.cli.context import Context
from opsui.cli.failure import fail
from opsui.cli.logfile import setup_logging
from opsui.config import Config
from opsui.domain.errors import OpsuiError
from opsui.domain.monitor import BufferedListener, HostMonitor, MonitorListener
from opsui.wiring import build_monitor_factory

MonitorFactory = Callable[[MonitorListener], list[HostMonitor]]


def add_dashboard_options(parser: argparse.ArgumentParser,
                          sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """--open on the top parser (no command runs the dashboard) and check-config."""
    parser.add_argument("--open", metavar="TARGET",
                        help="start the dashboard with TARGET selected and its logs open, "
                             "following: a container name or id, app:NAME or PROJECT/SERVICE")
    parser.set_defaults(handler=run_dashboard)
    check = sub.add_parser("check-config", parents=common,
                           help="validate opsui.toml and print what it resolves to")
    check.set_defaults(handler=run_check_config)


def run_dashboard(context: Context) -> int:
    from opsui.ui.malloc_tuning import limit_arenas

    limit_arenas()  # before the monitors' threads allocate (issue 16)
    setup_logging(context.args.verbose, dashboard=True)
    factory = _start_monitors_early(context)
    from opsui.ui.app import OpsuiApp  # Textual loads while the monitors connect

    if _check_ui_config(context.config, warn=False):  # as check-config judges it
        _stop_early_monitors(factory)
        return EXIT_USAGE
    app = OpsuiApp(context.config, context.gate, factory, open_target=context.args.open)
    app.run()
    return app.return_code or 0


def run_check_config(context: Context) -> int:
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


def _check_ui_config(config: Config, *, warn: bool) -> int:
    """[keys] and theme, as the dashboard will use them: 0, or 2 after saying why."""
    from opsui.ui.config_check import ui_config_problems  # loads Textual

    errors, skipped = ui_config_problems(config)
    if warn:
        for problem in skipped:
            print(f"opsui: warning: {problem} (the file is skipped)", file=sys.stderr)
    for error in errors:
        fail(error, EXIT_USAGE)
    return EXIT_USAGE if errors else 0


def _start_monitors_early(context: Context) -> MonitorFactory:
    """Start connecting to every host now; hand the UI a factory that attaches to them.

    The connections are built and started on a thread of their own: building a local
    one imports the docker SDK (a third of a second on a loaded machine), which then
    overlaps with loading Textual instead of coming before it, and the first list is
    asked as early as it can be. Updates wait in a :class:`BufferedListener` until the
    app attaches its own listener; attaching waits for that thread.
    """
    held = BufferedListener()
    factory = build_monitor_factory(context.config, context.gate, context.hosts, ui=True)
    built: list[HostMonitor] = []
    failed: list[Exception] = []

    def build_and_start() -> None:
        try:
            monitors = factory(held)
        except Exception as exc:  # raised where the app asks: an OpsuiError is shown there
            failed.append(exc)
            return
        built.extend(monitors)
        for monitor in monitors:
            if context.args.open is not None:  # its log feed needs the engine at once
                monitor.connect_now()
            monitor.start()

    starter = threading.Thread(target=build_and_start, name="monitors-start", daemon=True)
    starter.start()

    def attach(listener: MonitorListener) -> list[HostMonitor]:
        starter.join()
        if failed:
            raise failed[0]
        held.attach(listener)
        return built

    return attach


def _stop_early_monitors(factory: MonitorFactory) -> None:
    try:
        monitors = factory(BufferedListener())
    except OpsuiError:
        return
    for monitor in monitors:
        monitor.stop(timeout=0)
