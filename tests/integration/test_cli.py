"""The headless commands against the real engine and the real sshd, as a script runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container

from .helpers import APP_HEALTHY, APP_UNHEALTHY, Testbed, wait_for_health

pytestmark = pytest.mark.integration


def opsui(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    """Run the real CLI with no stdin, as CI or a cron job would."""
    return subprocess.run([sys.executable, "-m", "opsui", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def ssh_config(tmp_path: Path, testbed: Testbed, known_hosts: Path | None = None) -> Path:
    path = tmp_path / "opsui.toml"
    path.write_text(
        f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
        f'known_hosts = "{known_hosts or testbed.ssh_known_hosts}"\n'
        f'[hosts.test]\nssh = "{testbed.ssh_url}"\n'
    )
    return path


def started_at(container: Container) -> str:
    container.reload()
    return str(container.attrs["State"]["StartedAt"])


def test_ps_json_lists_a_real_container_with_its_health(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    wait_for_health(container, "healthy")
    result = opsui("--host", "local", "ps", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows[container.name]["health"] == "healthy"
    assert rows[container.name]["state"] == "running"


def test_ps_over_ssh_sees_the_same_engine(make_container: Callable[..., Container],
                                          testbed: Testbed, tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    config = ssh_config(tmp_path, testbed)
    result = opsui("--config", str(config), "--host", "test", "ps", "--json")
    assert result.returncode == 0, result.stderr
    names = {row["name"]: row["host"] for row in json.loads(result.stdout)}
    assert names[container.name] == "test"


def test_restart_with_yes_restarts(make_container: Callable[..., Container],
                                   tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    before = started_at(container)
    result = opsui("--host", "local", "restart", str(container.name), "--yes", "--json",
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert started_at(container) != before


def test_restart_without_confirmation_and_no_terminal_is_refused(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    before = started_at(container)
    result = opsui("--host", "local", "restart", str(container.name), cwd=tmp_path)
    assert result.returncode == 1
    assert "Not confirmed" in result.stderr
    assert started_at(container) == before


def test_read_only_refuses_even_with_yes(make_container: Callable[..., Container],
                                         tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    before = started_at(container)
    result = opsui("--read-only", "--host", "local", "stop", str(container.name), "--yes",
                   cwd=tmp_path)
    assert result.returncode == 1
    assert "read-only" in result.stderr
    assert started_at(container) == before
    container.reload()
    assert container.status == "running"


def test_read_only_host_in_config_is_enforced_over_ssh(
        make_container: Callable[..., Container], testbed: Testbed, tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    config = ssh_config(tmp_path, testbed)
    config.write_text(config.read_text() + "read_only = true\n")
    result = opsui("--config", str(config), "--host", "test", "restart", str(container.name),
                   "--yes")
    assert result.returncode == 1
    assert "host 'test' is read-only" in result.stderr


def test_type_policy_needs_the_name(make_container: Callable[..., Container],
                                    tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    (tmp_path / "opsui.toml").write_text('[confirm]\nstop = "type"\n')
    refused = opsui("--host", "local", "stop", str(container.name), "--yes", cwd=tmp_path)
    assert refused.returncode == 1
    container.reload()
    assert container.status == "running"
    done = opsui("--host", "local", "stop", str(container.name), "--confirm", str(container.name),
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    container.reload()
    assert container.status == "exited"


def test_inspect_shows_why_it_is_unhealthy(make_container: Callable[..., Container],
                                           tmp_path: Path) -> None:
    container = make_container(APP_UNHEALTHY, environment={"DB_PASSWORD": "hunter2"})
    wait_for_health(container, "unhealthy")
    result = opsui("--host", "local", "inspect", str(container.name), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    detail: dict[str, Any] = json.loads(result.stdout)
    assert detail["health"] == "unhealthy"
    assert detail["health_log"] and all(e["exit_code"] != 0 for e in detail["health_log"])
    assert "hunter2" not in result.stdout
    assert detail["env"]["DB_PASSWORD"] != "hunter2"


def test_bad_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "opsui.toml"
    config.write_text('[hosts.prod]\nssh = "ssh://x"\nread_only = "sometimes"\n')
    result = opsui("--config", str(config), "ps")
    assert result.returncode == 2
    assert str(config) in result.stderr
    assert "hosts.prod.read_only" in result.stderr and "true or false" in result.stderr
    assert "Traceback" not in result.stderr


def test_dead_daemon_says_what_to_do(tmp_path: Path) -> None:
    result = opsui("ps", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}, cwd=tmp_path)
    assert result.returncode == 3
    assert "/nonexistent/docker.sock" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr


def test_unknown_host_key_refused_then_trusted_on_purpose(testbed: Testbed,
                                                         tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    config = ssh_config(tmp_path, testbed, known_hosts)
    empty_ssh_config = tmp_path / "ssh_config"
    empty_ssh_config.write_text("")
    config.write_text(config.read_text().replace(str(testbed.ssh_config), str(empty_ssh_config)))
    home = {"HOME": str(tmp_path)}  # keep the operator's own ~/.ssh/known_hosts out of it
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_ed25519").write_bytes(testbed.ssh_key.read_bytes())
    (tmp_path / ".ssh" / "id_ed25519").chmod(0o600)

    refused = opsui("--config", str(config), "--host", "test", "ps", env=home)
    assert refused.returncode == 3
    expected = subprocess.run(["ssh-keygen", "-lf", str(testbed.state_dir /
                                                        "ssh_host_ed25519_key.pub")],
                              capture_output=True, text=True, check=True).stdout.split()[1]
    assert expected in refused.stderr and "host key not known" in refused.stderr

    trusted = opsui("--config", str(config), "trust-host", testbed.ssh_url, "--fingerprint",
                    expected, "--known-hosts", str(known_hosts), env=home)
    assert trusted.returncode == 0, trusted.stderr
    after = opsui("--config", str(config), "--host", "test", "ps", env=home)
    assert after.returncode == 0, after.stderr


def test_trust_host_refuses_a_fingerprint_that_does_not_match(testbed: Testbed,
                                                             tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    result = opsui("trust-host", testbed.ssh_url, "--fingerprint", "SHA256:" + "A" * 43,
                   "--known-hosts", str(known_hosts), cwd=tmp_path)
    assert result.returncode == 1
    assert "nothing was trusted" in result.stderr and "SHA256:" + "A" * 43 in result.stderr
    assert "HOST KEY CHANGED" not in result.stderr and "ssh-keygen -R" not in result.stderr
    assert not known_hosts.exists() or known_hosts.read_text() == ""
