"""``opsui deploy|rollback|history NAME`` of an app with ``hosts = [...]`` runs across its
hosts (issue 15): what the operator reads and the exit code. The hosts are fakes (the
real-engine release is tests/integration/test_multi_host_app.py); ``--host`` naming
one of them stays that host's own command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opsui.cli import main

from fakes import FakeConnection
from fakes.cli_hosts import APP, three_host_cli


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeConnection]:
    connections = three_host_cli(tmp_path, monkeypatch, FakeConnection)
    connections["web2"].fake_engine.unhealthy_images.add(f"{APP}:2.0.0")
    return connections


def opsui(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_deploy_runs_host_by_host_and_says_what_happened_on_each(
        hosts: dict[str, FakeConnection], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = opsui(capsys, "deploy", "web", "2.0.0", "--yes")
    assert code == 1
    assert "deploy web on web1, web2, web3: failed" in out
    said = [line.split(":")[0].split() for line in out.splitlines()[-3:]]
    assert said == [["web1", "returned"], ["web2", "failed"], ["web3", "not", "deployed"]]
    assert "web1: pull" in err and "web3: pull" not in err  # steps say their host
    assert hosts["web3"].fake_engine.calls == []


def test_history_merges_the_hosts_and_json_says_each_hosts_state(
        hosts: dict[str, FakeConnection], capsys: pytest.CaptureFixture[str]) -> None:
    opsui(capsys, "deploy", "web", "2.0.0", "--yes")
    code, out, _ = opsui(capsys, "history", "web")
    assert code == 0
    [row] = [line for line in out.splitlines() if " deploy " in line]
    assert "[web1 returned, web2 failed, web3 not deployed]" in row
    code, out, _ = opsui(capsys, "history", "web", "--json")
    data: dict[str, Any] = json.loads(out)
    [deploy] = [r for r in data["releases"] if r["action"] == "deploy"]
    assert deploy["hosts"] == {"web1": "returned", "web2": "failed", "web3": "not deployed"}
    assert [h["version"] for h in data["hosts"]] == ["1.0.0", "1.0.0", None]
    assert [h["serving"] for h in data["hosts"]] == [f"{APP}:1.0.0"] * 3
    assert "web3: opsui-test/app:1.0.0 (no release of it recorded)" in opsui(
        capsys, "history", "web")[1]


def test_one_host_named_is_that_hosts_own_deploy(
        hosts: dict[str, FakeConnection], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = opsui(capsys, "--host", "web3", "deploy", "web", "2.0.0", "--yes")
    assert code == 0 and "deploy web on web3: ok" in out
    assert hosts["web1"].fake_engine.calls == []
