"""``opsui front APP [--undo]``: move an app's published ports to a front proxy, and back.

The plan is printed first (which ports move, the proxy container and image, the
network and alias, the one short interruption, how to undo), then asked per the
``front`` confirmation policy; steps stream to stderr as they end, the result (with
how long the port was not answered) goes to stdout, or one JSON object with --json.
See :mod:`opsui.domain.operations.front_proxy`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from opsui.cli.common import AppCommand, cancellable, print_step
from opsui.cli.context import Context, single_host, with_connection
from opsui.cli.options import add_command, confirm_options, json_option
from opsui.domain.operations.app_spec import AppSpec
from opsui.domain.operations.front_proxy import FrontProxies
from opsui.domain.ports import HostConnection


def add_front_command(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """``front`` on the parser's subparsers (``common``: the global options)."""
    front = add_command(sub, "front", [*common, json_option(), confirm_options("app")],
                        "move an app's published ports behind a front proxy "
                        "(zero-downtime releases), or back with --undo", run)
    front.add_argument("app", help="app name from opsui.toml, or a container name")
    front.add_argument("--undo", action="store_true",
                       help="the app publishes its ports itself again; the proxy is removed")


def run(context: Context) -> int:
    host = single_host(context, context.args.app)

    def use(connection: HostConnection) -> int:
        fronts = FrontProxies(connection.name, connection.engine, connection.prober,
                              connection.files, context.gate, context.config)
        return FrontCommand(fronts, context).run()

    return with_connection(context, host, use)


class FrontCommand(AppCommand):
    def __init__(self, fronts: FrontProxies, context: Context) -> None:
        super().__init__(fronts, context.gate, context.args, context.ask)
        self.fronts = fronts

    def _front(self, app: AppSpec) -> int:
        plan = self.fronts.plan(app, undo=self.args.undo)
        self._say(plan.describe())
        answer = self._answer(plan.request)
        with cancellable("the move: removing what it created, freeing the lock") as cancelled:
            said = self.fronts.run(app, plan, answer, print_step, cancelled)
        if self.args.json:
            print(json.dumps({"app": app.name, "host": plan.host, "action": "front",
                              "undo": plan.action == "undo", "ok": True, "result": said,
                              "proxy": plan.proxy, "image": plan.image,
                              "network": plan.network,
                              "ports": [str(b) for b in plan.bindings]}, indent=2))
        else:
            print(said)
        return 0
