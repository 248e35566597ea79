"""Exit codes and messages of the real CLI, as a script or an operator at a pipe sees them.

0 ok, 1 failed or refused, 2 bad usage or config (naming the file, the key and what was
expected), 141 the reader of stdout went away. Each case runs ``python -m opsui`` as a
process, against the real engine where the command talks to one.
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

from .helpers import APP_HEALTHY, Testbed, free_port, wait_for_exit, wait_for_health

pytestmark = pytest.mark.integration


def opsui(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
          timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real CLI with no terminal on stdin, as CI or a cron job runs it."""
    return subprocess.run([sys.executable, "-m", "opsui", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def usage_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert "Traceback" not in result.stderr


# -- check-config and start-up: the same, complete validation ---------------------------


@pytest.mark.parametrize(("toml", "key", "expected"), [
    ("refresh_seconds = nan", "refresh_seconds", "positive number of seconds"),
    ("refresh_seconds = inf", "refresh_seconds", "positive number of seconds"),
    ("[logs]\ntail_lines = 100000000000", "logs.tail_lines", "whole number"),
    ('[keys]\n"container.stop" = "r"', "keys.container.stop", "container.restart"),
    ('[keys]\n"container.stopp" = "ctrl+e"', "keys.container.stopp", "binding id"),
    ('[keys]\n"logs.search" = "notakey!!"', "keys.logs.search", "'notakey!!' is not a key"),
    ('theme = "solarized-nope"', "theme", "a known theme"),
    ('[apps."web shop"]\ncontainer = "web"', "apps.web shop", "letters, digits"),
])
def test_check_config_refuses_what_would_break_opsui(tmp_path: Path, toml: str, key: str,
                                                     expected: str) -> None:
    config = write(tmp_path / "opsui.toml", toml + "\n")
    result = opsui("--config", str(config), "check-config",
                   env={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    usage_error(result, str(config), f"'{key}'", expected)


def test_check_config_names_a_broken_theme_file_and_its_key(tmp_path: Path) -> None:
    themes = tmp_path / "xdg" / "opsui" / "themes"
    themes.mkdir(parents=True)
    write(themes / "mine.toml", 'name = "mine"\nprimary = "not-a-colour"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    chosen = opsui("--config", str(write(tmp_path / "a.toml", 'theme = "mine"\n')),
                   "check-config", env=env)
    usage_error(chosen, "'theme'", "mine.toml", "'primary'", "not a colour")
    unused = opsui("--config", str(write(tmp_path / "b.toml", "")), "check-config", env=env)
    assert unused.returncode == 0, unused.stderr  # skipped, as the dashboard skips it...
    assert "mine.toml" in unused.stderr and "'primary'" in unused.stderr  # ...but said


def test_the_dashboard_refuses_at_start_what_check_config_refuses(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "XDG_STATE_HOME": str(tmp_path)}
    swapped = write(tmp_path / "swapped.toml", '[keys]\n"dashboard.filter" = "slash,f"\n'
                    '"container.restart" = "ctrl+e"\n"container.stop" = "r"\n')
    fine = opsui("--config", str(swapped), "check-config", env=env)
    assert fine.returncode == 0 and fine.stderr == "", fine.stderr  # r is free again
    config = write(tmp_path / "opsui.toml", '[keys]\n"container.stop" = "r"\n')
    checked = opsui("--config", str(config), "check-config", env=env)
    started = opsui("--config", str(config), env=env, timeout=30)
    usage_error(started, str(config), "'keys.container.stop'", "container.restart")
    assert started.stderr == checked.stderr


# -- opsui logs -------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "needle"), [
    (["--since", "banana"], "--since 'banana'"),
    (["--grep", "("], "not a valid regular expression"),
    (["--tail", "-3"], "--tail"),
])
def test_bad_logs_arguments_are_usage_errors(tmp_path: Path, args: list[str],
                                             needle: str) -> None:
    usage_error(opsui("--host", "local", "logs", "anything", *args, cwd=tmp_path), needle)


def test_logs_into_a_closed_pipe_stop_quietly(make_container: Callable[..., Container],
                                              tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY, ["-c", "yes opsui-line | head -n 200000"],
                               entrypoint="sh")
    assert wait_for_exit(container) == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "opsui", "--host", "local", "logs", str(container.name),
         "--since", "all"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline() == b"opsui-line\n"
    process.stdout.close()  # what `| head -1` does after its line
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_merged_logs_are_in_time_order(make_container: Callable[..., Container],
                                       tmp_path: Path) -> None:
    first = make_container(APP_HEALTHY, ["-c", "echo a1; sleep 3; echo a2"], entrypoint="sh")
    second = make_container(APP_HEALTHY, ["-c", "sleep 1.5; echo b1; sleep 3; echo b2"],
                            entrypoint="sh")
    assert wait_for_exit(first) == 0 and wait_for_exit(second) == 0
    result = opsui("--host", "local", "logs", str(first.name), str(second.name), "-t",
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    stamps = [line.split(" ", 1)[0] for line in lines]
    words = [line.rsplit(" ", 1)[1] for line in lines]
    assert sorted(words) == ["a1", "a2", "b1", "b2"], lines
    assert stamps == sorted(stamps), lines  # grouped per container, a2 would precede b1


# -- app commands: hosts, global options, refusals, messages ----------------------------


def app_config(tmp_path: Path, container: Container, extra: str = "") -> Path:
    return write(tmp_path / "opsui.toml",
                 f'[deploy]\nstate_dir = "{tmp_path / "state"}"\n\n'
                 f'[apps.web]\ncontainer = "{container.name}"\n{extra}')


def test_with_two_hosts_an_app_command_runs_on_the_apps_host(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    config = app_config(tmp_path, container, 'host = "local"\n\n[hosts.local]\n\n'
                        '[hosts.far]\nssh = "ssh://nobody@127.0.0.1:1"\n')
    history = opsui("--config", str(config), "history", "web")
    assert history.returncode == 0, history.stderr
    assert "web: no releases recorded on local yet" in history.stdout
    action = opsui("--config", str(config), "restart", str(container.name), "--yes")
    usage_error(action, "one host", "--host")
    assert "key '--host'" not in action.stderr


def test_global_options_work_after_the_command(make_container: Callable[..., Container],
                                               tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    config = app_config(tmp_path, container)
    listed = opsui("ps", "--json", "--host", "local", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert container.name in {row["name"] for row in json.loads(listed.stdout)}
    container.reload()
    before = container.attrs["State"]["StartedAt"]
    refused = opsui("restart", str(container.name), "--yes", "--read-only",
                    "--config", str(config))
    assert refused.returncode == 1 and "read-only" in refused.stderr
    container.reload()
    assert container.attrs["State"]["StartedAt"] == before


def test_without_a_terminal_a_refusal_names_the_option_that_confirms(
        make_container: Callable[..., Container], tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    plain = app_config(tmp_path, container)
    asked = opsui("--config", str(plain), "restart", str(container.name))
    assert asked.returncode == 1
    assert "--yes" in asked.stderr and "Answer yes" not in asked.stderr
    typed = write(tmp_path / "typed.toml", f'[confirm]\nrestart = "type"\n{plain.read_text()}')
    asked = opsui("--config", str(typed), "restart", str(container.name))
    assert asked.returncode == 1
    assert f"--confirm '{container.name}'" in asked.stderr


def test_a_failed_deploy_shows_its_reason_on_lines_not_with_newline_marks(
        make_container: Callable[..., Container], testbed: Testbed, tmp_path: Path) -> None:
    container = make_container(testbed.registry_ref(APP_HEALTHY))
    wait_for_health(container, "healthy")
    config = app_config(tmp_path, container,
                        f'image = "{testbed.registry_ref("opsui-test/app")}"\n')
    result = opsui("--config", str(config), "deploy", "web", "4.0.0", "--yes")
    assert result.returncode == 1
    assert "\u2424" not in result.stdout + result.stderr
    reason = result.stdout.splitlines()
    assert any(line.strip() == "it exited with code 3" for line in reason), result.stdout
    assert any("fatal: cannot read /etc/app/config.yml" in line for line in reason)


def test_history_text_has_the_audit_lines(make_container: Callable[..., Container],
                                          tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    config = app_config(tmp_path, container)
    assert opsui("--config", str(config), "lock", "web", "-m", "incident 9", "--yes"
                 ).returncode == 0
    assert opsui("--config", str(config), "unlock", "web", "--yes").returncode == 0
    history = opsui("--config", str(config), "history", "web")
    assert history.returncode == 0, history.stderr
    actions = [line for line in history.stdout.splitlines() if " web" in line
               and ("lock" in line)]
    assert any("unlock web" in line and line.rstrip().endswith("ok") for line in actions), \
        history.stdout
    assert any("lock web (incident 9)" in line for line in actions), history.stdout


def test_tags_with_the_registry_down_fail_and_say_so(make_container: Callable[..., Container],
                                                     tmp_path: Path) -> None:
    container = make_container(APP_HEALTHY)
    config = app_config(tmp_path, container,
                        f'image = "127.0.0.1:{free_port()}/opsui-test/app"\n')
    result = opsui("--config", str(config), "tags", "web")
    assert result.returncode == 1
    assert "registry could not be read" in result.stderr and "Traceback" not in result.stderr


# -- trust-host -------------------------------------------------------------------------


def test_trust_host_with_a_malformed_fingerprint_is_a_usage_error(tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    result = opsui("trust-host", "ssh://root@127.0.0.1:1", "--fingerprint", "SHA256:short",
                   "--known-hosts", str(known_hosts), cwd=tmp_path)
    usage_error(result, "--fingerprint", "not a SHA256 fingerprint")
    assert not known_hosts.exists()
