#!/usr/bin/env python3
"""Make screenshots/dashboard.svg, detail.svg, logs.svg, deploy-confirm.svg,
deploy-progress.svg, history.svg, help.svg, rollback-confirm.svg, release-banner.svg,
dashboard-80x24.svg, backups.svg and migration.svg from the real app.

Runs opsui's own app class with the real backends against the local Docker engine
(start it with ``scripts/testbed/up.sh``, which also builds the images). The script
creates a small compose-like project from ``opsui-test/app:1.0.0`` (healthy) and
``:3.0.0`` (its HEALTHCHECK and /api/health fail), all labelled ``opsui.test=1`` on
a network of their own, waits until the table shows them with live stats, health
and HTTP verdicts, saves the dashboard and detail SVGs, opens the log pane of the
api replica (it writes request logs of several levels) with an ERROR filter and saves
that too. Then it starts ``shop-cart-1`` from the test bed registry's app:1.0.0, deploys
2.0.0 over it (the confirmation, the steps while the health gate runs) and shows its
history, with the journal in a temporary state folder; then the incident path: the help
screen, the cart's logs, R (the rollback preview), y, Esc Esc (the dashboard's banner
with the rollback it leaves running) and the dashboard at 80x24. Last it starts the test bed's
PostgreSQL (``shop`` with ``orders``) as ``db`` on the same network and the app
``orders`` beside it (``[apps.orders.backup]`` dumps that database into the temporary
folder, ``[apps.orders.migrate]`` runs psql in a one-off container of the app image),
takes two backups from the backups screen, runs the migration (saved while its output
streams) and saves the backups screen with the three backups. Everything it created is
removed, even on failure.

    .venv/bin/python scripts/screenshots.py [--out screenshots] [--size 160x45]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container as DockerContainer
from textual.widgets import OptionList

from opsui.config import AppConfig, BackupConfig, Config, DeploySettings, MigrateConfig
from opsui.domain.models import Health
from opsui.ui.app import OpsuiApp
from opsui.ui.screens.backups import BackupsScreen
from opsui.ui.screens.deploy import DeployScreen, PlanConfirmModal, ReleaseRunScreen
from opsui.ui.screens.detail import DetailScreen
from opsui.ui.screens.history import HistoryScreen
from opsui.ui.screens.logs import LogsScreen
from opsui.ui.widgets.container_table import ContainerTable
from opsui.wiring import build_gate, build_monitor_factory, select_hosts

LABELS = {"opsui.test": "1", "opsui.screenshots": "1"}
PROJECT = "shop"
# name, compose service, image tag, published port on 127.0.0.1
SERVICES = [
    ("shop-api-1", "api", "1.0.0", 18311),
    ("shop-web-1", "web", "1.0.0", 18312),
    ("shop-web-2", "web", "1.0.0", 18313),
    ("shop-worker-1", "worker", "3.0.0", 18314),
]
DEPLOYED = "shop-cart-1"
DATABASE = "shop-db-1"
POSTGRES_IMAGE = "opsui-test/postgres:15"
BACKED_UP = "shop-orders-1"
"""The container of the app "orders", whose data is the shop database."""
PSQL = "psql -v ON_ERROR_STOP=1 -h db -U postgres -d shop"
# A migration that says what it does, changes the schema for real, and takes long enough
# for its output to be seen streaming.
MIGRATION_SCRIPT = (
    "echo 'INFO  migrate: shop schema 41 -> 43 (2 steps)'; sleep 0.4; "
    "echo 'INFO  [42] orders: add column note'; "
    f"{PSQL} -c 'ALTER TABLE orders ADD COLUMN IF NOT EXISTS note text'; sleep 0.4; "
    "echo 'INFO  [43] orders: index customer'; "
    f"{PSQL} -c 'CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer)'; "
    f"{PSQL} -tAc \"SELECT 'INFO  [43] orders: ' || count(*) || ' rows indexed' "
    "FROM orders\"; "
    "echo 'WARN  [43] building the index may lock orders briefly'; sleep 6; "
    "echo 'INFO  migrate: done'"
)
REGISTRY = os.environ.get("OPSUI_TEST_REGISTRY", "127.0.0.1:5000")
UNHEALTHY = "shop-worker-1"
CHATTY = "shop-api-1"
# The api replica writes request logs of several levels (stdout and stderr) beside
# its web server, so the log pane has something to filter.
CHATTY_SCRIPT = (
    "httpd -f -p 8080 -h /www & i=0; while :; do i=$((i+1)); "
    "echo \"INFO  GET /api/items/$i 200 12ms\"; "
    "echo '{\"level\":\"debug\",\"msg\":\"cache hit\",\"key\":\"item:'$i'\"}'; "
    "[ $((i % 4)) = 0 ] && echo \"WARN  slow query: SELECT * FROM orders ($i ms)\" >&2; "
    "[ $((i % 6)) = 0 ] && echo \"ERROR payment gateway timeout order=$i\" >&2; "
    "sleep 0.1; done"
)


def log(message: str) -> None:
    print(f"screenshots: {message}", file=sys.stderr, flush=True)


def wait_for(what: str, predicate: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        time.sleep(0.2)


@contextmanager
def test_project(client: docker.DockerClient) -> Iterator[list[DockerContainer]]:
    """The containers (and their network) for the screenshots; always removed after."""
    for stale in client.containers.list(all=True, filters={"label": "opsui.screenshots=1"}):
        stale.remove(force=True)
    network = client.networks.create(f"opsui-shots-{uuid.uuid4().hex[:6]}", labels=LABELS)
    containers: list[DockerContainer] = []
    try:
        for name, service, tag, port in SERVICES:
            chatty: dict[str, Any] = (
                {"entrypoint": ["/bin/sh"], "command": ["-c", CHATTY_SCRIPT]}
                if name == CHATTY else {})
            containers.append(client.containers.run(
                f"opsui-test/app:{tag}", name=name, detach=True, network=network.name,
                **chatty,
                ports={"8080/tcp": ("127.0.0.1", port)},
                labels={**LABELS, "com.docker.compose.project": PROJECT,
                        "com.docker.compose.service": service}))
        yield containers
    finally:
        for container in containers:
            try:
                container.remove(force=True)
            except docker.errors.APIError as exc:
                log(f"could not remove {container.name}: {exc}")
        # The deploy's release copies carry the labels too, and a failed migration keeps
        # its one-off container.
        for stale in [*client.containers.list(all=True, filters={"label": "opsui.screenshots=1"}),
                      *client.containers.list(all=True,
                                              filters={"label": "opsui.migration=orders"})]:
            with contextlib.suppress(docker.errors.NotFound):
                stale.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):  # already gone (a testbed reset)
            network.remove()


def health_of(container: DockerContainer) -> str:
    container.reload()
    return str(container.attrs["State"].get("Health", {}).get("Status", "none"))


def config_for_screenshots(state_dir: str) -> Config:
    """Zero-config local host, plus the two apps so the HTTP health column shows."""
    def url(port: int) -> str:
        return f"http://127.0.0.1:{port}/api/health"

    ports = {service: port for _, service, _, port in SERVICES}
    deploy = DeploySettings(state_dir=state_dir)
    orders = AppConfig(
        "orders", container=BACKED_UP, deploy=deploy,  # the journal in the temp folder too
        backup=BackupConfig("postgres", container=DATABASE, database="shop",
                            dest=f"{state_dir}/orders-backups", keep=5),
        migrate=MigrateConfig(("sh", "-c", MIGRATION_SCRIPT), timeout=60.0))
    return Config(
        health_seconds=2.0,
        stats_seconds=1.0,
        metrics_seconds=0.5,
        apps=(AppConfig("shop-web", service=f"{PROJECT}/web", health_urls=(url(ports["web"]),)),
              AppConfig("shop-worker", service=f"{PROJECT}/worker",
                        health_urls=(url(ports["worker"]),)),
              orders),
        deploy=deploy,
    )


async def capture(app: OpsuiApp, out: Path, size: tuple[int, int], timeout: float,
                  client: docker.DockerClient, network: str) -> None:
    async with app.run_test(size=size) as pilot:
        async def until(what: str, predicate: Callable[[], bool]) -> None:
            deadline = time.monotonic() + timeout
            while not predicate():
                if time.monotonic() > deadline:
                    raise SystemExit(f"screenshots: the app never showed {what}")
                await pilot.pause(0.1)

        table = app.screen.query_one(ContainerTable)
        view = app.state.hosts["local"]
        names = {name for name, *_ in SERVICES}

        def ours() -> list[Any]:
            return [c for c in view.containers.values() if c.name in names]

        await until("the test containers", lambda: len(ours()) == len(SERVICES))
        if len(view.containers) > len(SERVICES):  # other tests' containers: show ours only
            await pilot.press("slash", *PROJECT, "enter")
        await until("live stats", lambda: all(c.id in view.stats for c in ours()))
        await until("HTTP health", lambda: len(view.app_health) == 2)
        await until("a CPU history", lambda: len(view.cpu) >= 20)
        await until("the unhealthy worker", lambda: any(
            c.name == UNHEALTHY and c.health is Health.UNHEALTHY for c in ours()))
        await pilot.pause(0.5)
        app.save_screenshot(filename="dashboard.svg", path=str(out))
        log(f"wrote {out / 'dashboard.svg'}")

        for _ in range(table.row_count):
            if table.selected is not None and table.selected.name == UNHEALTHY:
                break
            await pilot.press("down")
        await pilot.press("enter")
        await until("the detail view", lambda: isinstance(app.screen, DetailScreen)
                    and app.screen.detail is not None
                    and len(app.screen.detail.health_log) >= 3)
        await pilot.pause(0.5)
        app.save_screenshot(filename="detail.svg", path=str(out))
        log(f"wrote {out / 'detail.svg'}")

        await pilot.press("escape")
        await until("the dashboard", lambda: app.screen is app.dashboard)
        for _ in range(table.row_count):
            if table.selected is not None and table.selected.name == CHATTY:
                break
            await pilot.press("up")
        await pilot.press("l")
        await until("the log pane", lambda: isinstance(app.screen, LogsScreen))
        logs = app.screen
        assert isinstance(logs, LogsScreen)
        await until("a page of log lines", lambda: logs.view.row_count >= 80)
        await pilot.press("ampersand", *"ERROR", "enter")
        await until("the filtered lines", lambda: logs.view.filtering
                    and 5 <= logs.view.row_count < 40)
        await pilot.pause(0.5)
        app.save_screenshot(filename="logs.svg", path=str(out))
        log(f"wrote {out / 'logs.svg'}")

        def save(name: str) -> None:
            app.save_screenshot(filename=name, path=str(out))
            log(f"wrote {out / name}")

        async def select(name: str) -> None:
            await until("the dashboard", lambda: app.screen is app.dashboard)
            await until(name, lambda: any(table.get_row_at(i)[0].plain == name
                                          for i in range(table.row_count)))
            table.move_cursor(row=next(i for i in range(table.row_count)
                                       if table.get_row_at(i)[0].plain == name))
            await until(f"the cursor on {name}", lambda: table.selected is not None
                        and table.selected.name == name)

        await pilot.press("escape")
        client.containers.run(f"{REGISTRY}/opsui-test/app:1.0.0", name=DEPLOYED, detach=True,
                              network=network, ports={"8080/tcp": ("127.0.0.1", None)},
                              labels={**LABELS, "com.docker.compose.project": PROJECT,
                                      "com.docker.compose.service": "cart"})
        await until("the cart healthy", lambda: any(
            c.name == DEPLOYED and c.health is Health.HEALTHY for c in view.containers.values()))
        await select(DEPLOYED)
        await pilot.press("D")
        await until("the tags", lambda: isinstance(app.screen, DeployScreen)
                    and any(c.tag == "2.0.0" for c in app.screen.choices))
        deploy = app.screen
        assert isinstance(deploy, DeployScreen)
        deploy.query_one(OptionList).highlighted = next(
            i for i, c in enumerate(deploy.choices) if c.tag == "2.0.0")
        await pilot.press("enter")
        await until("the confirmation", lambda: isinstance(app.screen, PlanConfirmModal))
        await pilot.pause(0.5)
        save("deploy-confirm.svg")
        await pilot.press("y")
        await until("the health gate", lambda: deploy.steps.state_of("health gate") == "running")
        save("deploy-progress.svg")
        await until("the outcome", lambda: deploy.outcome is not None)
        await pilot.press("escape")
        await select(DEPLOYED)
        await pilot.press("H")
        await until("the history", lambda: isinstance(app.screen, HistoryScreen)
                    and app.screen.status is not None)
        await pilot.pause(0.5)
        save("history.svg")

        # The incident path: from the app's logs, R and y; Esc leaves the rollback running.
        await pilot.press("escape")
        await select(DEPLOYED)
        await pilot.press("question_mark")
        await until("the help", lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.pause(0.3)
        save("help.svg")
        await pilot.press("escape")
        await pilot.press("l")
        await until("the cart's logs", lambda: isinstance(app.screen, LogsScreen))
        await pilot.press("R")
        await until("the rollback preview", lambda: isinstance(app.screen, PlanConfirmModal))
        await pilot.pause(0.5)
        save("rollback-confirm.svg")
        await pilot.press("y")
        await until("the rollback running", lambda: isinstance(app.screen, ReleaseRunScreen))
        rollback = app.screen
        assert isinstance(rollback, ReleaseRunScreen)
        await pilot.press("escape", "escape")  # back to the logs, back to the dashboard
        await until("the dashboard", lambda: app.screen is app.dashboard)
        await pilot.pause(0.3)
        save("release-banner.svg")
        await until("the rollback's end", lambda: rollback.job is not None
                    and not rollback.job.running)
        if rollback.job is None or rollback.job.outcome != "ok":
            raise SystemExit("screenshots: the rollback did not end ok")
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.5)
        save("dashboard-80x24.svg")
        await pilot.resize_terminal(*size)
        await pilot.pause(0.3)

        await pilot.press("escape")
        db = client.containers.run(POSTGRES_IMAGE, name=DATABASE, detach=True, network=network,
                                   labels={**LABELS, "com.docker.compose.project": PROJECT,
                                           "com.docker.compose.service": "db"})
        net = client.networks.get(network)
        net.disconnect(db)
        net.connect(db, aliases=["db"])
        client.containers.run("opsui-test/app:1.0.0", name=BACKED_UP, detach=True,
                              network=network,
                              labels={**LABELS, "com.docker.compose.project": PROJECT,
                                      "com.docker.compose.service": "orders"})
        await until("the database healthy", lambda: any(
            c.name == DATABASE and c.health is Health.HEALTHY for c in view.containers.values()))
        await until("the orders app healthy", lambda: any(
            c.name == BACKED_UP and c.health is Health.HEALTHY
            for c in view.containers.values()))
        await select(BACKED_UP)
        await pilot.press("K")
        await until("the backups", lambda: isinstance(app.screen, BackupsScreen)
                    and app.screen.status is not None)
        backups = app.screen
        assert isinstance(backups, BackupsScreen)
        for taken in (1, 2):
            await pilot.press("b")
            await until("the backup question", lambda: isinstance(app.screen, PlanConfirmModal))
            await pilot.press("y")
            await until(f"backup {taken} to end", lambda: app.screen is backups
                        and backups.busy == "")
            if not backups.last.startswith("✓"):
                raise SystemExit(f"screenshots: the backup failed: {backups.last}")
            await until(f"backup {taken} listed", lambda taken=taken: backups.status is not None
                        and len(backups.status.usable) == taken)
        await pilot.press("m")
        await until("the migration question", lambda: isinstance(app.screen, PlanConfirmModal))
        await pilot.press("y")
        await until("the migration's output", lambda: isinstance(app.screen, ReleaseRunScreen)
                    and app.screen.steps.state_of("migrate") == "running"
                    and app.screen.output_lines >= 6)
        run = app.screen
        assert isinstance(run, ReleaseRunScreen)
        await pilot.pause(0.3)
        save("migration.svg")
        await until("the migration's outcome", lambda: run.outcome is not None)
        if run.outcome != "ok":
            raise SystemExit(f"screenshots: the migration ended {run.outcome}")
        await pilot.press("escape")
        await until("the three backups", lambda: app.screen is backups
                    and backups.status is not None and len(backups.status.usable) == 3
                    and bool(backups.status.migrations))
        await pilot.press("down")  # the cursor on the second newest
        await pilot.pause(0.5)
        save("backups.svg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "screenshots"))
    parser.add_argument("--size", default="160x45", help="terminal COLUMNSxROWS")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        log(f"no Docker engine answers ({exc}); run scripts/testbed/up.sh first")
        return 2

    missing = []
    for image in [*(f"opsui-test/app:{tag}" for tag in sorted({t for _, _, t, _ in SERVICES})),
                  POSTGRES_IMAGE]:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    if missing:
        log(f"missing test images {', '.join(missing)}; run scripts/testbed/up.sh first")
        return 2

    with test_project(client) as containers:
        log("waiting for the worker's HEALTHCHECK to fail and the others to pass")
        worker = next(c for c in containers if c.name == UNHEALTHY)
        others = [c for c in containers if c is not worker]
        wait_for("health states", lambda: health_of(worker) == "unhealthy"
                 and all(health_of(c) == "healthy" for c in others), args.timeout)
        state_dir = tempfile.mkdtemp(prefix="opsui-shots-")
        try:
            config = config_for_screenshots(state_dir)
            hosts = select_hosts(config, [])
            gate = build_gate(config, hosts, read_only=False)
            app = OpsuiApp(config, gate, build_monitor_factory(config, gate, hosts))
            network = str(containers[0].attrs["HostConfig"]["NetworkMode"])
            asyncio.run(capture(app, out, (columns, rows), args.timeout, client, network))
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
