"""An app deployed ad hoc, then declared in opsui.toml under another name (issue 10,
finding 6): its history, rollback target and audit lines carry over, and `opsui history`,
`opsui rollback` and the TUI's releases facade agree. Real engine, locally and over the
test sshd, images from the test registry, the state folder on the host."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from docker.client import DockerClient

from opsui.config import load_config
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate

from .conftest import DockerResources
from .helpers import APP_IMAGE, Testbed, host_port, wait_for_health
from .test_deploy import version_served

pytestmark = pytest.mark.integration


def run_opsui(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsui", "--config", str(config), *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=180)


def write_config(path: Path, where: str, testbed: Testbed, state: Path,
                 declared: str | None) -> Path:
    """opsui.toml for ``where`` (local, or the sshd as host "test"), with ``[apps.shop]``
    naming the container ``declared`` when given."""
    text = f'[deploy]\nstate_dir = "{state}"\ngate_timeout = 40\n'
    if where == "ssh":
        text += (f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                 f'known_hosts = "{testbed.ssh_known_hosts}"\n'
                 f'[hosts.test]\nssh = "{testbed.ssh_url}"\n')
    if declared:
        host = 'host = "test"\n' if where == "ssh" else ""
        text += f'[apps.shop]\ncontainer = "{declared}"\n{host}'
    path.write_text(text)
    return path


def json_of(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


@pytest.mark.parametrize("where", ["local", "ssh"])
def test_an_app_declared_after_ad_hoc_deploys_keeps_its_history_and_rolls_back(
        where: str, testbed: Testbed, labelled: DockerResources,
        docker_client: DockerClient, tmp_path: Path) -> None:
    image = testbed.registry_ref(f"{APP_IMAGE}:1.0.0")
    docker_client.images.pull(image)
    first = labelled.container(image, ports={"8080/tcp": ("127.0.0.1", None)})
    wait_for_health(first, "healthy")
    name = str(first.name)
    state = tmp_path / "state"
    host = ["--host", "test" if where == "ssh" else "local"]
    adhoc = write_config(tmp_path / "adhoc.toml", where, testbed, state, None)
    declared = write_config(tmp_path / "opsui.toml", where, testbed, state, name)

    deployed = json_of(run_opsui(adhoc, *host, "deploy", name, "2.0.0", "--yes", "--json"))
    assert deployed["app"] == name and deployed["release"]["outcome"] == "ok"
    serving = labelled.track(docker_client.containers.get(name))
    assert '"2.0.0"' in version_served(host_port(serving))
    assert serving.labels["opsui.app"] == name  # named after its container, ad hoc

    history = json_of(run_opsui(declared, *host, "history", "shop", "--json"))
    assert history["app"] == "shop"
    versions = [(r["version"], r["action"]) for r in history["releases"]]
    assert versions == [("2.0.0", "deploy"), ("1.0.0", "adopt")]
    assert history["rollback_target"] == history["releases"][1]["id"]
    actions = [a["action"] for a in history["actions"]]
    assert actions == ["adopt history", "deploy"]  # newest first: the old deploy kept
    assert history["lock"] is None and history["torn_lines"] == 0

    # One lock: a freeze taken under the old name (an opsui.toml without [apps.shop])
    # holds the declared app, and unlocking the declared app lifts it.
    json_of(run_opsui(adhoc, *host, "lock", name, "-m", "incident", "--yes", "--json"))
    refused = run_opsui(declared, *host, "rollback", "shop", "--yes", "--json")
    assert refused.returncode == 1 and "shop is locked: frozen by" in refused.stderr
    assert "incident" in refused.stderr
    json_of(run_opsui(declared, *host, "unlock", "shop", "--yes", "--json"))
    assert json_of(run_opsui(adhoc, *host, "history", name, "--json"))["lock"] is None

    rolled = json_of(run_opsui(declared, *host, "rollback", "shop", "--yes", "--json"))
    assert rolled["app"] == "shop" and rolled["release"]["outcome"] == "ok"
    assert rolled["release"]["version"] == "1.0.0"
    back = labelled.track(docker_client.containers.get(name))
    wait_for_health(back, "healthy")
    assert '"1.0.0"' in version_served(host_port(back))

    # What the TUI reads (HostMonitor.releases(): the same facade on the host's link).
    connection: Any
    if where == "ssh":
        connection = testbed.opsui_ssh_host(tmp_path)
    else:
        from opsui.backends.local import LocalHost

        connection = LocalHost("local")
    connection.connect()
    try:
        config = load_config(declared)
        tui = AppReleases(host[1], connection.engine, connection.prober,
                          connection.files, ActionGate(), config, connection.image_tags)
        app = tui.resolve(name)  # the row the operator pressed R on
        assert app.name == "shop"
        status = tui.status(app, mark_good=False)
    finally:
        connection.close()
    after = json_of(run_opsui(declared, *host, "history", "shop", "--json"))
    assert [r.id for r in status.newest_first] == [r["id"] for r in after["releases"]]
    assert [(r["version"], r["action"], r["shown_outcome"]) for r in after["releases"]] == [
        ("1.0.0", "rollback", "ok"), ("2.0.0", "deploy", "rolled back"),
        ("1.0.0", "adopt", "ok")]
    assert status.current is not None and status.current.id == after["current"]
    assert [a.action for a in status.audit].count("adopt history") == 1
    own = (state / "shop" / "journal.jsonl").read_text()
    assert '"action":"rollback"' in own and '"adopt history"' in own
    old = (state / name / "journal.jsonl").read_text()
    assert '"action":"rollback"' not in old  # the old journal was only read
