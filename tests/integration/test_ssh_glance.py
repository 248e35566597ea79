"""Over SSH too, the dashboard's first rows come before the docker SDK loads (issue 14).

An SSH host's glance lists the containers over one dial-stdio channel with the standard
library, on the SSH connection the host then keeps: ``connect()`` builds the docker
client on that same connection, with the engine socket the glance's channel named, so
the launch costs one handshake and one shell on the host, not two. A host the glance
could not reach is not dialled twice: ``connect()`` says what the glance met. Against
the test bed's real sshd and engine.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.engine_socket_memory import EngineSocketMemory
from opsui.backends.ssh import SshConnection
from opsui.backends.ssh_host import SshHost
from opsui.domain.errors import HostUnreachable

from .helpers import Testbed, answer_json, count_execs, unique_name
from .ssh_home import isolated_home  # noqa: F401  (autouse: an empty ~/.ssh, no agent)
from .test_launch_glance import LAUNCH

pytestmark = pytest.mark.integration
MakeContainer = Callable[..., DockerContainer]


def test_the_glance_lists_what_the_session_lists_on_one_connection(
        testbed: Testbed, make_container: MakeContainer, tmp_path: Path) -> None:
    name = str(make_container(name=unique_name("ssh-glance")).name)
    host = testbed.opsui_ssh_host(tmp_path)
    try:
        glanced = host.glance()
        assert glanced is not None
        mine = [c for c in glanced if c.name == name]
        assert len(mine) == 1
        host.connect()
        opened = count_execs(host.connection)
        listed = {c.id: c for c in host.engine.list_containers()}
        events = host.engine.events()  # a second channel: the engine's socket, no shell
        events.close()
        assert listed[mine[0].id] == mine[0]  # the same row, field for field
        assert opened == []
    finally:
        host.close()


@pytest.fixture
def silent_port() -> Iterator[tuple[int, list[int]]]:
    """A loopback port that accepts and hangs up at once, counting the connections."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            accepted.append(1)
            client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        server.close()
        thread.join(5)


def test_a_host_the_glance_could_not_reach_is_not_dialled_again(
        silent_port: tuple[int, list[int]], tmp_path: Path) -> None:
    port, accepted = silent_port
    (tmp_path / "ssh_config").write_text("")
    host = SshHost("gone", f"ssh://root@127.0.0.1:{port}",
                   known_hosts=str(tmp_path / "known_hosts"),
                   ssh_config=str(tmp_path / "ssh_config"), connect_timeout=5)
    assert host.glance() is None
    with pytest.raises(HostUnreachable, match=r"gone|127\.0\.0\.1"):
        host.connect()  # the glance's error, said at once
    assert len(accepted) == 1
    with pytest.raises(HostUnreachable):
        host.connect()  # a retry dials again
    assert len(accepted) == 2


def test_an_ssh_launch_shows_rows_before_the_sdk_loads(
        testbed: Testbed, make_container: MakeContainer, tmp_path: Path) -> None:
    name = str(make_container(name=unique_name("ssh-glance-launch")).name)
    config = tmp_path / "opsui.toml"
    config.write_text(f'[ssh]\nconfig = "{testbed.ssh_config}"\n'
                      f'known_hosts = "{testbed.ssh_known_hosts}"\n'
                      f'[hosts.bed]\nssh = "{testbed.SSH_ALIAS}"\n')
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    out = subprocess.run([sys.executable, "-c", LAUNCH, name, "--config", str(config),
                          "--host", "bed"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    reports = json.loads(out.stdout.strip().splitlines()[-1])
    assert reports[0] == {"rows": [name], "sdk_loaded": False}
    assert reports[1] == {"rows": [name], "sdk_loaded": True}  # the session's own list


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command opsui starts on an SSH host (each one a shell there)."""
    started: list[str] = []
    original = SshConnection.exec_channel

    def spy(self: SshConnection, command: str, timeout: float | None = None) -> Any:
        started.append(command)
        return original(self, command, timeout)

    monkeypatch.setattr(SshConnection, "exec_channel", spy)
    return started


def _first_launch(testbed: Testbed, folder: Path, memory: EngineSocketMemory) -> None:
    host = testbed.opsui_ssh_host(folder, socket_memory=memory)
    try:
        assert host.glance() is not None
        host.connect()
    finally:
        host.close()


def test_a_remembered_socket_lists_without_a_shell_then_is_asked(
        testbed: Testbed, make_container: MakeContainer, tmp_path: Path,
        execs: list[str]) -> None:
    name = str(make_container(name=unique_name("ssh-remembered")).name)
    memory = EngineSocketMemory(tmp_path / "state" / "engine-sockets.json")
    _first_launch(testbed, tmp_path, memory)
    assert json.loads(memory.path.read_text()) == {
        f"{testbed.ssh_user}@{testbed.ssh_host}:{testbed.ssh_port}": "/var/run/docker.sock"}
    execs.clear()
    host = testbed.opsui_ssh_host(tmp_path, socket_memory=memory)
    try:
        rows = host.glance()
        assert rows is not None and name in {c.name for c in rows}
        assert execs == []  # no shell on the host before the first rows
        host.connect()
        assert [c for c in execs if "dial-stdio" in c] == []
        assert len([c for c in execs if "context inspect" in c]) == 1  # asked, once
        assert name in {c.name for c in host.engine.list_containers()}
    finally:
        host.close()


class _Impostor(http.server.BaseHTTPRequestHandler):
    """An "engine" on another socket that lists one container no real engine has."""

    def do_GET(self) -> None:
        body = json.dumps([{"Id": "f" * 64, "Names": ["/impostor"], "Image": "x:1",
                            "ImageID": "sha256:" + "0" * 64, "Command": "x",
                            "Created": 0, "State": "running", "Status": "Up 1 second",
                            "Ports": [], "Labels": {}}]).encode()
        answer_json(self, body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def impostor_socket(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "impostor.sock")

    class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
        daemon_threads = True

    server = Server(path, _Impostor)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_remembered_socket_the_host_no_longer_uses_is_replaced(
        testbed: Testbed, make_container: MakeContainer, tmp_path: Path,
        impostor_socket: str, caplog: pytest.LogCaptureFixture) -> None:
    name = str(make_container(name=unique_name("ssh-moved")).name)
    memory = EngineSocketMemory(tmp_path / "engine-sockets.json")
    route = f"{testbed.ssh_user}@{testbed.ssh_host}:{testbed.ssh_port}"
    memory.put(route, impostor_socket)
    host = testbed.opsui_ssh_host(tmp_path, socket_memory=memory)
    try:
        rows = host.glance()
        assert rows is not None and [c.name for c in rows] == ["impostor"]
        host.connect()  # asks the host's CLI before the session reads anything
        listed = {c.name for c in host.engine.list_containers()}
        assert name in listed and "impostor" not in listed
    finally:
        host.close()
    assert memory.get(route) == "/var/run/docker.sock"
    assert any("now dials unix:///var/run/docker.sock, not the remembered "
               f"unix://{impostor_socket}" in r.getMessage() for r in caplog.records)


def test_a_remembered_socket_that_is_gone_is_asked_for_on_the_first_channel(
        testbed: Testbed, make_container: MakeContainer, tmp_path: Path) -> None:
    name = str(make_container(name=unique_name("ssh-gone-socket")).name)
    memory = EngineSocketMemory(tmp_path / "engine-sockets.json")
    route = f"{testbed.ssh_user}@{testbed.ssh_host}:{testbed.ssh_port}"
    memory.put(route, str(tmp_path / "no-such.sock"))
    host = testbed.opsui_ssh_host(tmp_path, socket_memory=memory)
    try:
        rows = host.glance()
        assert rows is not None and name in {c.name for c in rows}
        host.connect()
        assert name in {c.name for c in host.engine.list_containers()}
    finally:
        host.close()
    assert memory.get(route) == "/var/run/docker.sock"
