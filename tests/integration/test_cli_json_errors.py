"""A failing ``--json`` command, as a script sees it: one JSON object on stdout saying
what failed, what to do and the exit code, whatever the command group; and ``-v``
debug lines on stderr, never in the result on stdout.

Each case runs ``python -m opsui`` as a process against the real engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.models.containers import Container

from .helpers import APP_HEALTHY

pytestmark = pytest.mark.integration


def opsui(tmp_path: Path, *args: str, env: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    """The real CLI, no terminal, no opsui.toml of the operator's."""
    return subprocess.run([sys.executable, "-m", "opsui", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60, cwd=tmp_path,
                          env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                               "XDG_STATE_HOME": str(tmp_path / "state"), **(env or {})})


def envelope(result: subprocess.CompletedProcess[str], code: int) -> dict[str, object]:
    """The one object on stdout, after checking the exit code and that stderr said it."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    assert data["ok"] is False and data["code"] == code, data
    assert str(data["error"]) in result.stderr.replace("\n  ", "\n"), result.stderr
    assert "Traceback" not in result.stderr
    return data


@pytest.mark.parametrize("command", ["history", "backups", "tags", "rollback"])
def test_an_unknown_app_is_one_json_object_in_every_group(tmp_path: Path,
                                                          command: str) -> None:
    data = envelope(opsui(tmp_path, command, "nosuchapp", "--json", "--host", "local"), 1)
    assert data["app"] == "nosuchapp" and data["host"] == "local"
    assert "nosuchapp" in str(data["error"]) and data["hint"]


def test_an_unknown_container_is_one_json_object(tmp_path: Path) -> None:
    data = envelope(opsui(tmp_path, "restart", "nosuch-container", "--yes", "--json",
                          "--host", "local"), 1)
    assert data["host"] == "local" and "nosuch-container" in str(data["error"])


def test_an_unreachable_engine_is_exit_3_in_json_too(tmp_path: Path) -> None:
    data = envelope(opsui(tmp_path, "ps", "--json",
                          env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"}), 3)
    assert "/nonexistent/docker.sock" in str(data["error"]) and data["hint"]


def test_bad_usage_is_exit_2_in_json_too(tmp_path: Path) -> None:
    result = opsui(tmp_path, "deploy", "web", "--json")
    data = envelope(result, 2)
    assert "tag" in str(data["error"]) and "usage: opsui deploy" in result.stderr


def test_a_refusal_is_one_json_object(make_container: Callable[..., Container],
                                      tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    data = envelope(opsui(tmp_path, "--read-only", "stop", str(container.name), "--yes",
                          "--json", "--host", "local"), 1)
    assert "read-only" in str(data["error"])
    container.reload()
    assert container.status == "running"


def test_verbose_writes_debug_lines_to_stderr_and_leaves_stdout_the_result(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    quiet = opsui(tmp_path, "ps", "--json", "--host", "local")
    loud = opsui(tmp_path, "ps", "--json", "--host", "local", "-v")
    assert quiet.returncode == 0 and loud.returncode == 0, loud.stderr
    assert "DEBUG" not in quiet.stderr
    assert "DEBUG opsui.cli.context: connecting to local" in loud.stderr
    assert container.name in {row["name"] for row in json.loads(loud.stdout)}


def test_the_dashboard_with_verbose_writes_debug_lines_to_its_log_file(tmp_path: Path) -> None:
    """A dashboard that refuses its config at start (a [keys] clash) has still set up its
    log: DEBUG lines only with -v, and never on the terminal it owns."""
    config = tmp_path / "opsui.toml"
    config.write_text('[keys]\n"container.stop" = "r"\n')
    log = tmp_path / "state" / "opsui" / "opsui.log"
    quiet = opsui(tmp_path, "--config", str(config))
    assert quiet.returncode == 2 and log.exists()
    assert " DEBUG " not in log.read_text()
    loud = opsui(tmp_path, "--config", str(config), "-v")
    assert loud.returncode == 2 and loud.stderr == quiet.stderr
    assert " DEBUG opsui.cli.failure: failed with exit 2" in log.read_text()
