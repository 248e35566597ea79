"""ProxyJump, ProxyCommand and agent keys through a real bastion (scripts/testbed/bastion.sh).

The inner sshd listens on the loopback of a network namespace of its own, so from this
machine it can be reached only through the bastion's sshd, which runs inside that
namespace behind 127.0.0.1:$OPSUI_TEST_BASTION_PORT (the fixture checks that the inner
port is refused here). The inner host's sessions use the test bed's Docker engine, so a
container made locally must show up when listed through the jump.

HOME points at an empty folder and SSH_AUTH_SOCK is removed, so nothing of the
operator's own ~/.ssh can make a test pass; the agent test starts its own ssh-agent.
Every address is loopback; the only processes stopped are the agent this module starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from docker.models.containers import Container

from opsui.backends.ssh import SshConnection, resolve_target
from opsui.backends.ssh_host import SshHost
from opsui.domain.errors import AuthFailed, HostKeyUnknown, HostUnreachable

from .helpers import Testbed, client_ports_to, sshd_children_serving, wait_until
from .ssh_home import isolated_home  # noqa: F401  (autouse: an empty ~/.ssh, no agent)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BASTION_SH = ROOT / "scripts" / "testbed" / "bastion.sh"


@dataclass(frozen=True)
class Bastion:
    folder: Path
    port: int
    inner_port: int

    @property
    def ssh_config(self) -> Path:
        return self.folder / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.folder / "known_hosts"

    def fingerprint(self, which: str) -> str:
        out = subprocess.run(["ssh-keygen", "-lf", str(self.folder / f"{which}_ed25519.pub")],
                             check=True, capture_output=True, text=True).stdout
        return out.split()[1]

    def config_variant(self, folder: Path, *, known_hosts: Path | None = None,
                       agent_only: bool = False, extra: str = "") -> Path:
        """The bed's ssh_config with another known_hosts, or without key files."""
        lines = []
        for line in self.ssh_config.read_text().splitlines():
            words = line.split()
            if known_hosts and words[:1] == ["UserKnownHostsFile"]:
                line = f"    UserKnownHostsFile {known_hosts}"
            if agent_only and words[:1] in (["IdentityFile"], ["IdentitiesOnly"]):
                continue
            lines.append(line)
        path = folder / f"ssh_config-{len(list(folder.glob('ssh_config-*')))}"
        path.write_text(extra + "\n".join(lines) + "\n")
        return path


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def bastion(testbed: Testbed) -> Bastion:
    """Runs bastion.sh up (idempotent; needs root for ip netns)."""
    if os.geteuid() != 0:
        pytest.skip("the bastion test bed needs root (ip netns): scripts/testbed/bastion.sh up")
    env = {**os.environ, "OPSUI_TEST_STATE": str(testbed.state_dir)}
    done = subprocess.run(["bash", str(BASTION_SH), "up"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    values = {}
    folder = testbed.state_dir / "bastion"
    for line in (folder / "env").read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key] = value
    bed = Bastion(folder, int(values["OPSUI_TEST_BASTION_PORT"]),
                  int(values["OPSUI_TEST_BASTION_INNER_PORT"]))
    # What makes these tests mean something: the inner sshd is not reachable from here.
    assert _refused(bed.inner_port), f"127.0.0.1:{bed.inner_port} must be refused here"
    return bed


def _opsui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsui", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=90, env=os.environ)


def _opsui_toml(folder: Path, ssh_config: Path, known_hosts: Path | None = None) -> Path:
    path = folder / "opsui.toml"
    text = f'[ssh]\nconfig = "{ssh_config}"\n'
    if known_hosts:
        text += f'known_hosts = "{known_hosts}"\n'
    path.write_text(text)
    return path


def _on_inner_host(conn: SshConnection, bed: Bastion) -> bool:
    """The session runs on the inner sshd: SSH_CONNECTION names its port."""
    result = conn.run(["sh", "-c", "echo $SSH_CONNECTION"])
    return result.stdout.split()[-1:] == [str(bed.inner_port).encode()]


# ------------------------------------------------------------------------- the jump


def test_ps_through_proxy_jump_lists_a_local_container(
        bastion: Bastion, tmp_path: Path, make_container: Callable[..., Container]) -> None:
    container = make_container()
    config = _opsui_toml(tmp_path, bastion.ssh_config)
    result = _opsui("--config", str(config), "--host", "opsui-inner", "ps", "--json")
    assert result.returncode == 0, result.stderr
    assert container.name in {row["name"] for row in json.loads(result.stdout)}


def test_ssh_url_through_a_configured_jump(
        bastion: Bastion, make_container: Callable[..., Container]) -> None:
    container = make_container()
    host = SshHost("inner", "ssh://root@opsui-inner", ssh_config=str(bastion.ssh_config))
    host.connect()
    try:
        assert container.name in {c.name for c in host.engine.list_containers()}
        assert _on_inner_host(host.connection, bastion)
    finally:
        host.close()
    assert not host.is_alive()


def test_a_chain_of_two_jumps(bastion: Bastion,
                              make_container: Callable[..., Container]) -> None:
    container = make_container()
    target = resolve_target("opsui-inner-deep", str(bastion.ssh_config))
    assert [hop.port for hop in target.route] == [bastion.port, bastion.inner_port,
                                                  bastion.inner_port]
    host = SshHost("deep", "opsui-inner-deep", ssh_config=str(bastion.ssh_config))
    host.connect()
    try:
        assert container.name in {c.name for c in host.engine.list_containers()}
        assert _on_inner_host(host.connection, bastion)
    finally:
        host.close()


def _children_running(word: str) -> list[int]:
    """Our own child processes whose command line contains ``word``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if int(fields[1]) == os.getpid() and fields[0] != "Z" and word.encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_proxy_command_reaches_the_inner_host_and_is_stopped_on_close(
        bastion: Bastion, make_container: Callable[..., Container]) -> None:
    container = make_container()
    host = SshHost("cmd", "opsui-inner-cmd", ssh_config=str(bastion.ssh_config))
    host.connect()
    try:
        assert host.target.proxy_command is not None
        assert f"127.0.0.1:{bastion.inner_port}" in host.target.proxy_command  # %h:%p
        assert container.name in {c.name for c in host.engine.list_containers()}
        assert _on_inner_host(host.connection, bastion)
        assert _children_running(" -W ")
    finally:
        host.close()
    wait_until(lambda: not _children_running(" -W "), timeout=10,
               message="the ProxyCommand's ssh -W process to end after close")


def test_a_dropped_bastion_link_is_noticed_then_reconnect_works(bastion: Bastion) -> None:
    host = SshHost("inner", "opsui-inner", ssh_config=str(bastion.ssh_config))
    host.connect()
    try:
        engine = host.engine
        # The bastion's sshd -i serving this connection (netns_inetd.py's child).
        [child] = sshd_children_serving(bastion.folder / "inetd.pid", bastion.port,
                                        client_ports_to(bastion.port))
        os.kill(child, signal.SIGKILL)
        wait_until(lambda: not host.is_alive(), timeout=20, interval=0.1,
                   message="the inner link to drop with the bastion's")
        with pytest.raises(HostUnreachable):
            engine.ping()
        host.connect()
        assert host.engine.ping() >= 0
        assert _on_inner_host(host.connection, bastion)
    finally:
        host.close()
    assert client_ports_to(bastion.port) == []


# ------------------------------------------------------------------ per-hop failures


def test_unknown_inner_host_key_is_refused_naming_the_hop_and_trust_host_fixes_it(
        bastion: Bastion, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(bastion.known_hosts.read_text().splitlines()[0] + "\n")  # bastion only
    config = bastion.config_variant(tmp_path, known_hosts=known)
    conn = SshConnection(resolve_target("opsui-inner", str(config)))
    with pytest.raises(HostKeyUnknown) as info:
        conn.connect()
    message, hint = str(info.value), info.value.hint
    assert "hop 2 of 2 (target opsui-inner)" in message, message
    assert bastion.fingerprint("inner_host") in message
    assert "opsui trust-host opsui-inner" in hint
    assert not conn.is_alive()

    # The hint's command works through the jump and records the inner host's key.
    toml = _opsui_toml(tmp_path, config)
    trusted = _opsui("--config", str(toml), "trust-host", "opsui-inner",
                     "--key-type", info.value.key_type, "--fingerprint",
                     info.value.fingerprint, "--known-hosts", str(known))
    assert trusted.returncode == 0, trusted.stderr
    conn.connect()
    try:
        assert _on_inner_host(conn, bastion)
    finally:
        conn.close()


def test_unknown_bastion_key_is_refused_before_the_jump(bastion: Bastion,
                                                        tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(bastion.known_hosts.read_text().splitlines()[1] + "\n")  # inner only
    config = bastion.config_variant(tmp_path, known_hosts=known)
    with pytest.raises(HostKeyUnknown) as info:
        SshConnection(resolve_target("opsui-inner", str(config))).connect()
    assert "hop 1 of 2 (jump host opsui-bastion)" in str(info.value)
    assert bastion.fingerprint("bastion_host") in str(info.value)
    assert "opsui trust-host opsui-bastion" in info.value.hint


def test_a_hop_the_bastion_cannot_reach_is_named(bastion: Bastion, tmp_path: Path) -> None:
    config = bastion.config_variant(tmp_path, extra=(
        "Host opsui-nowhere\n    HostName 127.0.0.1\n    Port 1\n"
        "    ProxyJump opsui-bastion\n\n"))
    with pytest.raises(HostUnreachable) as info:
        SshConnection(resolve_target("opsui-nowhere", str(config))).connect()
    message = str(info.value)
    assert "hop 2 of 2 (target opsui-nowhere)" in message, message
    assert "from jump host opsui-bastion" in message and "could not connect" in message


def test_an_unreachable_bastion_is_named(bastion: Bastion, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    config = bastion.config_variant(tmp_path, extra=(
        f"Host opsui-down\n    HostName 127.0.0.1\n    Port {closed}\n\n"
        f"Host opsui-behind-down\n    HostName 127.0.0.1\n    Port {bastion.inner_port}\n"
        "    ProxyJump opsui-down\n\n"))
    with pytest.raises(HostUnreachable) as info:
        SshConnection(resolve_target("opsui-behind-down", str(config))).connect()
    message = str(info.value)
    assert "hop 1 of 2 (jump host opsui-down)" in message, message
    assert f"127.0.0.1:{closed}" in message and "refused" in message


def test_auth_refused_by_the_inner_host_only_names_that_hop(bastion: Bastion) -> None:
    # The bastion takes root from ssh_config; the inner host is asked for a user it
    # does not have.
    target = resolve_target("ssh://opsui-no-such-user@opsui-inner", str(bastion.ssh_config))
    with pytest.raises(AuthFailed) as info:
        SshConnection(target).connect()
    message = str(info.value)
    assert "hop 2 of 2 (target ssh://opsui-no-such-user@opsui-inner)" in message, message
    assert "opsui-no-such-user@127.0.0.1" in message


# --------------------------------------------------------------------------- agents


@pytest.fixture
def agent(bastion: Bastion, tmp_path: Path) -> Iterator[str]:
    """An ssh-agent of this test's own, holding the bed's client key: its socket."""
    sock = tmp_path / "agent.sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(sock.exists, timeout=10, message="ssh-agent's socket")
        subprocess.run(["ssh-add", "-q", str(bastion.folder / "id_ed25519")], check=True,
                       env={**os.environ, "SSH_AUTH_SOCK": str(sock)}, capture_output=True)
        yield str(sock)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        process.wait(10)


def test_agent_only_key_authenticates_every_hop(
        bastion: Bastion, tmp_path: Path, agent: str, monkeypatch: pytest.MonkeyPatch,
        make_container: Callable[..., Container]) -> None:
    config = bastion.config_variant(tmp_path, agent_only=True)
    assert "IdentityFile" not in config.read_text()
    target = resolve_target("ssh://root@opsui-inner", str(config))

    # Without the agent there is no key at all: the first hop says so.
    with pytest.raises(AuthFailed) as info:
        SshConnection(target).connect()
    assert "hop 1 of 2 (jump host opsui-bastion)" in str(info.value)

    monkeypatch.setenv("SSH_AUTH_SOCK", agent)
    container = make_container()
    host = SshHost("agent", "ssh://root@opsui-inner", ssh_config=str(config))
    host.connect()
    try:
        assert container.name in {c.name for c in host.engine.list_containers()}
    finally:
        host.close()
