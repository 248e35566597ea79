"""Three fake hosts behind the real command line: ``opsui deploy web`` and its siblings
build these instead of connecting (an app ``web`` with ``hosts = ["web1", "web2",
"web3"]``, running ``APP:1.0.0`` on each, 2.0.0 in the registry)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from opsui.config import Config, HostConfig
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.ports import HostConnection

from .common import NOW, container
from .connection import FakeConnection
from .engine import FakeEngine

APP = "opsui-test/app"
HOSTS = ("web1", "web2", "web3")

C = TypeVar("C", bound=FakeConnection)


def three_host_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                   make: Callable[[str, FakeEngine], C]) -> dict[str, C]:
    """The hosts by name; the working folder is ``tmp_path`` with their opsui.toml."""
    connections: dict[str, C] = {}
    for host in HOSTS:
        engine = FakeEngine([container("w", "web", image=f"{APP}:1.0.0")])
        engine.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
        engine.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
        connections[host] = make(host, engine)

    def connect(config: Config, host: HostConfig) -> C:
        return connections[host.name]

    def releases(connection: HostConnection, gate: ActionGate, config: Config,
                 docker_host: str | None = None, *, tags: Any = None) -> AppReleases:
        return AppReleases(connection.name, connection.engine, connection.prober,
                           connection.files, gate, config)

    monkeypatch.setattr("opsui.cli.multi_host.build_connection", connect)
    monkeypatch.setattr("opsui.cli.multi_host.build_releases", releases)
    monkeypatch.setattr("opsui.cli.context.build_connection", connect)
    monkeypatch.setattr("opsui.cli.releases.build_releases", releases)
    (tmp_path / "opsui.toml").write_text(
        "".join(f'[hosts.{h}]\ndocker_host = "unix:///run/{h}.sock"\n' for h in HOSTS)
        + '[apps.web]\nhosts = ["web1", "web2", "web3"]\ncontainer = "web"\n')
    monkeypatch.chdir(tmp_path)
    return connections
