"""SshHost and SshConnection against the test bed's real sshd (scripts/testbed/up.sh).

The sshd on 127.0.0.1 fronts the same Docker engine as the local socket, so a
container created locally must be seen over SSH. HOME is pointed at an empty folder
and SSH_AUTH_SOCK removed for every test, so nothing from the operator's own ~/.ssh
(known_hosts, keys, agent) can make a test pass or fail by accident.

Fixtures ``testbed``, ``docker_client`` and ``make_container`` come from conftest.py
(labelled containers, removed even on failure; skips when the bed is not up). Only
loopback addresses are used; the only process killed is the sshd child serving this
test's own connection, by pid.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.ssh import SshConnection, fingerprint, resolve_target, trust_host_key
from opsui.backends.ssh_docker import ssh_docker_client
from opsui.backends.ssh_host import SshHost
from opsui.backends.ssh_http import SshHttpTransport
from opsui.domain.errors import (
    AuthFailed,
    EngineUnavailable,
    HostError,
    HostKeyChanged,
    HostKeyUnknown,
    HostUnreachable,
)
from opsui.domain.models import ContainerEvent, HttpHealth

from .helpers import (
    APP_HEALTHY,
    Testbed,
    answer_json,
    count_execs,
    host_port,
    sshd_children_serving,
    wait_until,
)
from .ssh_home import isolated_home  # noqa: F401  (autouse: an empty ~/.ssh, no agent)

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Bed:
    """The test sshd's coordinates (from the shared ``testbed``) plus its own files."""

    host: str
    port: int
    user: str
    key: str
    known_hosts: str
    ssh_config: str
    host_key_pub: str
    pid_file: str

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@{self.host}:{self.port}"


def _sshd_setting(config: Path, name: str) -> str:
    for line in config.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].lower() == name.lower():
            return parts[1]
    raise LookupError(name)


@pytest.fixture(scope="module")
def bed(testbed: Testbed) -> Bed:
    sshd_config = testbed.state_dir / "sshd_config"
    return Bed(
        host=testbed.ssh_host,
        port=testbed.ssh_port,
        user=testbed.ssh_user,
        key=str(testbed.ssh_key),
        known_hosts=str(testbed.ssh_known_hosts),
        ssh_config=str(testbed.ssh_config),
        host_key_pub=_sshd_setting(sshd_config, "HostKey") + ".pub",
        pid_file=_sshd_setting(sshd_config, "PidFile"),
    )


def _client_config(tmp_path: Path, bed: Bed, key: str | None = None,
                   known_hosts: str | None = None) -> str:
    """An ssh_config for 127.0.0.1 naming one key and one known_hosts file only."""
    path = tmp_path / f"ssh_config-{uuid.uuid4().hex[:6]}"
    lines = [f"Host {bed.host}", f"    IdentityFile {key or bed.key}", "    IdentitiesOnly yes",
             "    GlobalKnownHostsFile /dev/null"]
    if known_hosts:
        lines.append(f"    UserKnownHostsFile {known_hosts}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _host_key_fingerprint(bed: Bed) -> str:
    out = subprocess.run(["ssh-keygen", "-lf", bed.host_key_pub], check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


@pytest.fixture
def host(bed: Bed, tmp_path: Path) -> Iterator[SshHost]:
    """Connected through an explicit ssh:// URL, test key and the bed's known_hosts."""
    ssh_host = SshHost("bed", bed.url, known_hosts=bed.known_hosts,
                       ssh_config=_client_config(tmp_path, bed))
    ssh_host.connect()
    yield ssh_host
    ssh_host.close()


# ----------------------------------------------------------------------- connecting


def test_lists_a_locally_created_container_over_ssh(
        bed: Bed, tmp_path: Path, make_container: Callable[..., DockerContainer]) -> None:
    container = make_container()
    started = time.perf_counter()
    ssh_host = SshHost("bed", bed.url, known_hosts=bed.known_hosts,
                       ssh_config=_client_config(tmp_path, bed))
    ssh_host.connect()
    connected = time.perf_counter()
    try:
        assert ssh_host.is_alive()
        names = {c.name for c in ssh_host.engine.list_containers()}
        listed = time.perf_counter()
        assert container.name in names
        assert ssh_host.engine.ping() >= 0
        print(f"\nfirst connect {1000 * (connected - started):.0f} ms, "
              f"list over SSH {1000 * (listed - connected):.0f} ms")
    finally:
        ssh_host.close()
    assert not ssh_host.is_alive()


def test_alias_from_the_bed_ssh_config(bed: Bed) -> None:
    ssh_host = SshHost("alias", "opsui-test", ssh_config=bed.ssh_config)
    ssh_host.connect()
    try:
        assert ssh_host.engine.ping() >= 0
    finally:
        ssh_host.close()


def test_hashed_known_hosts_entry_is_accepted(bed: Bed, tmp_path: Path) -> None:
    hashed = tmp_path / "known_hosts_hashed"
    hashed.write_text(Path(bed.known_hosts).read_text())
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True,
                   capture_output=True)
    assert "|1|" in hashed.read_text()
    conn = SshConnection(resolve_target(bed.url, _client_config(tmp_path, bed)),
                         known_hosts=str(hashed))
    conn.connect()
    try:
        assert conn.run(["true"]).exit_code == 0
    finally:
        conn.close()


def test_unknown_host_key_is_refused_with_its_fingerprint(bed: Bed, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts_empty"
    empty.write_text("")
    conn = SshConnection(resolve_target(bed.url, _client_config(tmp_path, bed)),
                         known_hosts=str(empty))
    with pytest.raises(HostKeyUnknown) as info:
        conn.connect()
    assert info.value.fingerprint == _host_key_fingerprint(bed)
    assert info.value.key_type == Path(bed.host_key_pub).read_text().split()[0]
    assert info.value.host == bed.url  # as written, so the hint can be typed back
    assert not conn.is_alive()


def test_changed_host_key_is_a_hard_failure(bed: Bed, tmp_path: Path) -> None:
    key_type = Path(bed.host_key_pub).read_text().split()[0]
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", key_type.removeprefix("ssh-"), "-N", "", "-f",
                    str(other)], check=True)
    wrong = tmp_path / "known_hosts_wrong"
    blob = Path(f"{other}.pub").read_text().split()[1]
    wrong.write_text(f"[{bed.host}]:{bed.port} {key_type} {blob}\n")
    conn = SshConnection(resolve_target(bed.url, _client_config(tmp_path, bed)),
                         known_hosts=str(wrong))
    with pytest.raises(HostKeyChanged) as info:
        conn.connect()
    assert info.value.fingerprint == _host_key_fingerprint(bed)
    assert "CHANGED" in str(info.value)


def test_wrong_key_is_auth_failed_naming_user_and_host(bed: Bed, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True)
    ssh_host = SshHost("bed", bed.url, known_hosts=bed.known_hosts,
                       ssh_config=_client_config(tmp_path, bed, key=str(stranger)))
    with pytest.raises(AuthFailed) as info:
        ssh_host.connect()
    assert f"{bed.user}@{bed.host}" in str(info.value)
    assert str(stranger) in str(info.value)
    assert not ssh_host.is_alive()


def test_closed_port_is_unreachable_quickly(tmp_path: Path) -> None:
    conn = SshConnection(resolve_target("ssh://root@127.0.0.1:1", None), connect_timeout=5)
    with pytest.raises(HostUnreachable) as info:
        conn.connect()
    assert "127.0.0.1:1" in str(info.value)
    assert "refused" in str(info.value)


def test_trust_host_key_appends_a_line_then_connect_works(bed: Bed, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts_trust"
    target = resolve_target(bed.url, _client_config(tmp_path, bed))
    conn = SshConnection(target, known_hosts=str(known))
    with pytest.raises(HostKeyUnknown) as info:
        conn.connect()
    seen = info.value
    with pytest.raises(HostKeyChanged):  # not what the operator was shown: refused
        trust_host_key(bed.host, bed.port, seen.key_type, "SHA256:" + "A" * 43, str(known))
    assert not known.exists()

    line = trust_host_key(bed.host, bed.port, seen.key_type, seen.fingerprint, str(known))
    key_type, blob = Path(bed.host_key_pub).read_text().split()[:2]
    assert line == f"[{bed.host}]:{bed.port} {key_type} {blob}"
    assert known.read_text() == line + "\n"
    assert known.stat().st_mode & 0o777 == 0o600
    # trusting the same key again changes nothing
    trust_host_key(bed.host, bed.port, seen.key_type, seen.fingerprint, str(known))
    assert known.read_text() == line + "\n"
    subprocess.run(["ssh-keygen", "-F", f"[{bed.host}]:{bed.port}", "-f", str(known)],
                   check=True, capture_output=True)  # OpenSSH reads it back too

    conn.connect()
    try:
        assert conn.is_alive()
        assert fingerprint(conn.transport.get_remote_server_key()) == seen.fingerprint
    finally:
        conn.close()


# ------------------------------------------------------------------------ using it


def test_no_engine_behind_ssh_is_engine_unavailable_with_remote_stderr(
        bed: Bed, tmp_path: Path) -> None:
    conn = SshConnection(resolve_target(bed.url, _client_config(tmp_path, bed)),
                         known_hosts=bed.known_hosts)
    conn.connect()
    try:
        fake = "sh -c 'printf \"docker: not found\\033]0;owned\\007\\n\" >&2; exit 127'"
        with pytest.raises(EngineUnavailable) as info:
            ssh_docker_client(conn, command=fake)
        message = str(info.value)
        assert "exited 127" in message
        assert "docker: not found" in message
        assert "\x1b" not in message  # remote stderr is sanitised
        assert conn.is_alive()  # the engine is missing, not the host
    finally:
        conn.close()


def test_run_collects_exit_status_stdout_stderr_and_stdin(host: SshHost) -> None:
    runner = host.runner
    result = runner.run(["sh", "-c", "cat; echo 'to stderr' >&2; exit 7"], stdin=b"hello; $HOME")
    assert (result.exit_code, result.stdout, result.stderr) == (7, b"hello; $HOME",
                                                                 b"to stderr\n")
    big = runner.run(["sh", "-c", "head -c 3000000 /dev/zero; head -c 2000000 /dev/zero >&2"])
    assert (len(big.stdout), len(big.stderr)) == (3_000_000, 2_000_000)
    assert runner.run(["no-such-program-opsui"]).exit_code == 127
    slow = runner.run(["sleep", "5"], timeout=0.5)
    assert slow.exit_code == 124
    assert b"timed out" in slow.stderr


def test_container_stats_over_ssh_show_live_cpu_and_memory_of_running_rows(
        host: SshHost, make_container: Callable[..., DockerContainer],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows on screen get CPU% and memory each tick over SSH; stopped ones none."""
    busy = make_container(APP_HEALTHY, command=["sh", "-c", "while :; do :; done"])
    idle = make_container(APP_HEALTHY)
    stopped = make_container(APP_HEALTHY, start=False)
    ids = [str(c.id) for c in (busy, idle, stopped)]
    requests_sent: list[str] = []
    engine = host.engine
    monkeypatch.setattr(engine, "stats", lambda cid: requests_sent.append(cid))

    def busy_sample() -> bool:
        samples = engine.stats_many(ids)
        assert set(samples) == {str(busy.id), str(idle.id)}
        return samples[str(busy.id)].cpu_percent > 20

    wait_until(busy_sample, timeout=20, message="a busy CPU sample over SSH")
    samples = engine.stats_many(ids)
    for sample in samples.values():
        assert 0 < sample.memory_bytes <= sample.memory_limit_bytes
    assert requests_sent == []  # one command on the host, not a request per row


def test_container_stats_over_ssh_survive_a_removed_container(
        host: SshHost, make_container: Callable[..., DockerContainer]) -> None:
    """A row removed between the listing and the tick does not blank the others."""
    running = make_container(APP_HEALTHY)
    gone = make_container(APP_HEALTHY)
    gone.remove(force=True)
    samples = host.engine.stats_many([str(running.id), str(gone.id)])
    assert set(samples) == {str(running.id)}


def test_remote_metrics_start_no_shell_per_sample(host: SshHost) -> None:
    """Sampled every couple of seconds: each exec would start the user's login shell
    (and its .bashrc) on the host; the kept shell answers instead."""
    host.metrics.sample()  # the kept shell is open from here
    started = count_execs(host.connection)
    for _ in range(3):
        assert host.metrics.sample().memory_total_bytes > 0
    assert started == []


def test_remote_metrics_are_sane(host: SshHost) -> None:
    first = host.metrics.sample()
    second = host.metrics.sample()
    for sample in (first, second):
        assert 0.0 <= sample.cpu_percent <= 100.0
        assert 0 < sample.memory_used_bytes <= sample.memory_total_bytes
        assert 0 < sample.disk_used_bytes <= sample.disk_total_bytes
        assert min(sample.load1, sample.load5, sample.load15) >= 0.0
    # the "remote" host is this machine: same RAM as our own /proc says
    total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                    .splitlines() if line.startswith("MemTotal:"))
    assert first.memory_total_bytes == total_kb * 1024
    assert second.sampled_at > first.sampled_at


def test_health_probe_goes_through_the_tunnel(
        host: SshHost, make_container: Callable[..., DockerContainer]) -> None:
    container = make_container(ports={"8080/tcp": ("127.0.0.1", None)})

    port = host_port(container)
    url = f"http://127.0.0.1:{port}/api/health"

    def healthy() -> HttpHealth | None:
        probed = host.prober.probe(url, timeout=3)
        return probed if probed.ok else None

    result = wait_until(healthy, timeout=20, message=f"health at {url} over SSH")
    assert result is not None
    assert result.status_code == 200
    assert result.latency_ms is not None
    assert {c.name for c in result.checks} >= {"database"}
    refused = host.prober.probe("http://127.0.0.1:1/api/health", timeout=3)
    assert not refused.ok
    assert "refused" in refused.error


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A loopback HTTPS server with a throwaway self-signed certificate for 127.0.0.1."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            answer_json(self, b'{"status": "ok", "checks": {"tls": "ok"}}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    server.daemon_threads = True
    server.block_on_close = False
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    # handshake in the handler thread, so one stuck client cannot stall accept()
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], str(cert)
    server.shutdown()
    server.server_close()


def test_https_health_through_the_tunnel(host: SshHost, https_server: tuple[int, str]) -> None:
    port, cert = https_server
    context = ssl.create_default_context(cafile=cert)
    with httpx.Client(transport=SshHttpTransport(host.connection, verify=context)) as client:
        response = client.get(f"https://127.0.0.1:{port}/health", timeout=5)
        assert response.status_code == 200
        assert response.json()["checks"] == {"tls": "ok"}
        again = client.get(f"https://127.0.0.1:{port}/health", timeout=5)  # kept alive
        assert again.status_code == 200
    with httpx.Client(transport=SshHttpTransport(host.connection)) as strict, \
            pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        strict.get(f"https://127.0.0.1:{port}/health", timeout=5)


def test_events_stream_closes_alone_while_the_host_keeps_working(
        host: SshHost, make_container: Callable[..., DockerContainer]) -> None:
    engine = host.engine
    stream = engine.events()
    seen: list[ContainerEvent] = []
    ended = threading.Event()

    def read() -> None:
        try:
            seen.extend(stream)
        finally:
            ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    container = make_container()
    wait_until(lambda: any(e.container_id == container.id for e in seen), timeout=15,
               message="an event for the new container over SSH")
    stream.close()
    assert ended.wait(5), "closing the stream did not end its iteration"
    # the same host, client and SSH connection carry on
    assert host.is_alive()
    assert engine.ping() >= 0
    assert container.name in {c.name for c in engine.list_containers()}
    second = engine.events()  # and a new stream can be opened
    second.close()


def test_a_log_stream_closes_alone_while_another_keeps_reading(
        host: SshHost, make_container: Callable[..., DockerContainer]) -> None:
    """Closing one follow stream over SSH ends only that stream (docker-py's own SSH
    transport can only close the whole client)."""
    engine = host.engine
    container = make_container(environment={"APP_TICK": "0.05"})
    first = engine.logs(str(container.id), tag=0, tail=0)
    second = engine.logs(str(container.id), tag=1, tail=0)
    got: dict[int, int] = {0: 0, 1: 0}
    ended = {0: threading.Event(), 1: threading.Event()}

    def read(stream: Any, tag: int) -> None:
        try:
            for batch in stream:
                got[tag] += len(batch)
        except Exception:
            pass
        finally:
            ended[tag].set()

    for tag, stream in ((0, first), (1, second)):
        threading.Thread(target=read, args=(stream, tag), daemon=True).start()
    wait_until(lambda: got[0] > 3 and got[1] > 3, timeout=15, message="both streams reading")
    first.close()
    assert ended[0].wait(5), "closing the stream did not end its iteration"
    before = got[1]
    wait_until(lambda: got[1] > before + 3, timeout=15, message="the other stream to go on")
    assert not ended[1].is_set()
    assert host.is_alive() and engine.ping() >= 0
    second.close()
    assert ended[1].wait(5)


# -------------------------------------------------------------------- dropped link


def _client_port(conn: SshConnection) -> int:
    sock = conn.transport.sock
    assert isinstance(sock, socket.socket)
    return int(sock.getsockname()[1])


def test_dropped_link_is_noticed_then_reconnect_works(bed: Bed, host: SshHost) -> None:
    client_port = _client_port(host.connection)
    [child] = sshd_children_serving(Path(bed.pid_file), bed.port, [client_port])
    engine = host.engine
    os.kill(child, signal.SIGKILL)
    started = time.monotonic()

    def noticed() -> bool:
        if host.is_alive():
            return False
        with pytest.raises(HostError):
            engine.ping()
        return True

    wait_until(noticed, timeout=15, interval=0.1, message="the dropped link to be noticed")
    print(f"\nlink drop noticed after {1000 * (time.monotonic() - started):.0f} ms")
    host.connect()
    assert host.is_alive()
    assert host.engine.ping() >= 0
    assert host.engine is not engine


def test_silent_link_is_closed_by_the_keepalive_watchdog(bed: Bed, tmp_path: Path) -> None:
    """A peer that stops answering (frozen, not gone: no FIN, no RST) is noticed too.

    SIGSTOP on the sshd child serving this connection stands in for a dead network;
    keepalive 1 s means the watchdog must give up within about 3 s.
    """
    ssh_host = SshHost("frozen", bed.url, known_hosts=bed.known_hosts,
                       ssh_config=_client_config(tmp_path, bed), keepalive=1.0)
    ssh_host.connect()
    [child] = sshd_children_serving(Path(bed.pid_file), bed.port,
                                    [_client_port(ssh_host.connection)])
    engine = ssh_host.engine
    os.kill(child, signal.SIGSTOP)
    try:
        with pytest.raises(HostError):
            engine.ping()  # blocks on the frozen link until the watchdog cuts it
        assert not ssh_host.is_alive()
        assert "keepalive" in ssh_host.connection.lost_reason
    finally:
        os.kill(child, signal.SIGKILL)  # our own connection's sshd child, by pid
        ssh_host.close()
