"""The floor for any Textual program: the engine's containers in a bare ``DataTable``.

Issue 14 judges opsui's launch against this: whatever a Textual dashboard does, it
cannot draw its first populated table sooner than a program that only imports Textual,
lists the containers once and shows them. So this does the least that is still fair:

  * the list (ONE ``GET /containers/json?all=1`` through docker-py's low-level API,
    no inspect per container) starts in a thread before Textual is even imported, so
    the engine's round trip overlaps Textual's imports, as opsui's monitors do;
  * one ``DataTable`` with opsui's main columns (name, project/service, state, status,
    image, ports), filled in one go, and a line above it saying ``N containers`` once
    the rows are in, which is what the benches wait for (as they do for opsui's status).

``--host ssh://user@host:port`` lists over SSH with docker-py's ``use_ssh_client=True``
(the ``ssh`` binary on PATH, i.e. the test bed's wrapper): docker-py's own paramiko
transport ignores the test bed's ssh_config and key. Run by bench/dashboard.py; by hand:

    .venv/bin/python bench/bare_textual.py [--host ssh://root@127.0.0.1:2222]
"""

from __future__ import annotations

import argparse
import threading
from typing import Any

LISTED: list[dict[str, Any]] = []
FAILED: list[BaseException] = []
DONE = threading.Event()


def list_containers(host: str | None) -> None:
    """One list call; ``version`` is fixed so docker-py does not ask the engine first."""
    try:
        import docker

        if host is None:
            client = docker.from_env(version="1.41")
        else:
            client = docker.DockerClient(base_url=host, version="1.41",
                                         use_ssh_client=host.startswith("ssh://"))
        LISTED.extend(client.api.containers(all=True))
    except BaseException as error:  # shown on screen: this is a bench, not a product
        FAILED.append(error)
    finally:
        DONE.set()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=None, help="docker base URL (default: DOCKER_HOST)")
    return parser.parse_args()


OPTIONS = parse()
threading.Thread(target=list_containers, args=(OPTIONS.host,), daemon=True).start()

# Textual is imported after the list has started, on purpose (see the docstring).
from rich.text import Text  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import DataTable, Static  # noqa: E402


def row(summary: dict[str, Any]) -> tuple[Text, ...]:
    """A container's cells, as plain Text (names and labels are untrusted)."""
    labels = summary.get("Labels") or {}
    names = summary.get("Names") or ["?"]
    project = labels.get("com.docker.compose.project", "")
    service = labels.get("com.docker.compose.service", "")
    ports = ", ".join(
        f"{p.get('PublicPort', '')}->{p.get('PrivatePort', '')}/{p.get('Type', '')}"
        for p in summary.get("Ports") or [])
    cells = (names[0].lstrip("/"), f"{project}/{service}" if project else "",
             summary.get("State", ""), summary.get("Status", ""), summary.get("Image", ""),
             ports)
    return tuple(Text(str(cell)) for cell in cells)


class BareTable(App[None]):
    """A title line and a table; ``q`` quits."""

    BINDINGS = [("q", "quit", "Quit")]

    def compose(self) -> ComposeResult:
        yield Static(Text("listing ..."), id="title")
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("name", "project/service", "state", "status", "image", "ports")
        threading.Thread(target=self.wait_for_list, daemon=True).start()

    def wait_for_list(self) -> None:
        DONE.wait()
        self.call_from_thread(self.fill)

    def fill(self) -> None:
        title = self.query_one("#title", Static)
        if FAILED:
            title.update(Text(f"list failed: {FAILED[0]!r}"))
            return
        self.query_one(DataTable).add_rows(row(summary) for summary in LISTED)
        title.update(Text(f"{len(LISTED)} containers"))


if __name__ == "__main__":
    BareTable().run()
