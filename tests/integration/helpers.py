"""Helpers for integration tests against the real test bed (scripts/testbed/up.sh).

Poll with a deadline, never sleep blindly: ``wait_until`` returns as soon as the
condition holds and fails with a readable message when it never does.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from docker.models.containers import Container

    from opsui.backends.ssh import SshConnection
    from opsui.backends.ssh_host import SshHost

T = TypeVar("T")

#: Every container, image, network, volume and service the tests make carries this label.
TEST_LABEL_KEY = "opsui.test"
TEST_LABELS: Mapping[str, str] = {TEST_LABEL_KEY: "1"}

APP_IMAGE = "opsui-test/app"
#: 1.0.0, 2.0.0 and 5.0.0 become healthy, 3.0.0 never does, 4.0.0 exits with code 3 at once.
APP_TAGS = ("1.0.0", "2.0.0", "3.0.0", "4.0.0", "5.0.0")
APP_HEALTHY = f"{APP_IMAGE}:1.0.0"
APP_HEALTHY_V2 = f"{APP_IMAGE}:2.0.0"
APP_UNHEALTHY = f"{APP_IMAGE}:3.0.0"
APP_CRASHING = f"{APP_IMAGE}:4.0.0"
APP_HEALTHY_V5 = f"{APP_IMAGE}:5.0.0"
APP_CRASH_EXIT_CODE = 3
APP_PORT = 8080
POSTGRES_IMAGE = "opsui-test/postgres:15"

DEFAULT_STATE_DIR = Path("/tmp/opsui-testbed")


class WaitTimeout(AssertionError):
    """A polled condition did not hold before its deadline."""


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition",
    *,
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` until it returns something truthy, and return that value.

    Exceptions of the types in ``ignore`` count as "not yet". On timeout raises
    ``WaitTimeout`` (an AssertionError) naming ``message`` (a string, or a callable
    evaluated only on failure, e.g. to include container logs) and the last result.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
        except ignore as exc:
            last_exc = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            detail = f"; last error: {last_exc!r}" if last_exc is not None else ""
            raise WaitTimeout(
                f"timed out after {timeout:g}s waiting for {text}; last value: {last!r}{detail}"
            )
        time.sleep(interval)


def unique_name(prefix: str = "opsui-t") -> str:
    """A name no other test (or parallel test session) will use: ``opsui-t-1a2b3c4d``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _logs_tail(container: Container, lines: int = 20) -> str:
    try:
        raw: bytes = container.logs(tail=lines)
        return raw.decode(errors="replace").rstrip()
    except Exception as exc:  # the container may be gone already
        return f"(no logs: {exc})"


def wait_for_status(container: Container, status: str, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until ``.State.Status`` is ``status`` (running, exited, ...); returns ``.State``."""

    def check() -> dict[str, Any] | None:
        container.reload()
        state: dict[str, Any] = container.attrs["State"]
        return state if state["Status"] == status else None

    return wait_until(
        check,
        timeout,
        message=lambda: (
            f"container {container.name} to be {status} (is {container.status}); "
            f"logs:\n{_logs_tail(container)}"
        ),
    )


def wait_for_exit(container: Container, timeout: float = 30.0) -> int:
    """Wait until the container has exited; returns its exit code."""
    state = wait_for_status(container, "exited", timeout)
    return int(state["ExitCode"])


def wait_for_health(
    container: Container, status: str = "healthy", timeout: float = 30.0
) -> dict[str, Any]:
    """Wait until ``.State.Health.Status`` is ``status``; returns ``.State.Health``.

    Fails at once if the image has no HEALTHCHECK or the container stopped running,
    instead of waiting out the whole timeout.
    """

    def check() -> dict[str, Any] | None:
        container.reload()
        state: dict[str, Any] = container.attrs["State"]
        health: dict[str, Any] | None = state.get("Health")
        if health is None:
            raise AssertionError(f"container {container.name} has no health check")
        if health["Status"] == status:
            return health
        if state["Status"] not in ("created", "running", "restarting"):
            raise AssertionError(
                f"container {container.name} is {state['Status']} (exit code "
                f"{state.get('ExitCode')}) while waiting for health {status!r}; logs:\n"
                f"{_logs_tail(container)}"
            )
        return None

    def describe() -> str:
        health = container.attrs["State"].get("Health") or {}
        outputs = [entry.get("Output", "").strip() for entry in health.get("Log", [])[-3:]]
        return (
            f"container {container.name} health to be {status!r} "
            f"(is {health.get('Status')!r}; last checks: {outputs})"
        )

    return wait_until(check, timeout, message=describe)


def host_port(container: Container, container_port: str = f"{APP_PORT}/tcp") -> int:
    """Host port published for ``container_port`` (publish on 127.0.0.1 only, e.g.
    ``ports={"8080/tcp": ("127.0.0.1", None)}``)."""

    def lookup() -> int | None:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(container_port)
        return int(bindings[0]["HostPort"]) if bindings else None

    return wait_until(lookup, 10.0, message=f"{container.name} to publish {container_port}")


@dataclass(frozen=True)
class Testbed:
    """Where the test bed's sshd and registry are (see scripts/testbed/up.sh)."""

    __test__: ClassVar[bool] = False  # not a pytest test class despite the name

    state_dir: Path
    ssh_host: str
    ssh_port: int
    ssh_user: str
    ssh_key: Path
    ssh_known_hosts: Path
    ssh_config: Path
    ssh_bin: Path
    registry: str

    #: Host alias defined in ``ssh_config``.
    SSH_ALIAS: ClassVar[str] = "opsui-test"

    @property
    def ssh_url(self) -> str:
        """``ssh://root@127.0.0.1:2222``: a docker base_url for the same engine over SSH."""
        return f"ssh://{self.ssh_user}@{self.ssh_host}:{self.ssh_port}"

    def opsui_ssh_host(self, folder: Path, **options: Any) -> SshHost:
        """opsui's SshHost for the test sshd (not connected), with an ssh_config in
        ``folder`` naming only the test key; ``options`` go to SshHost."""
        from opsui.backends.ssh_host import SshHost

        config = folder / "ssh_config"
        config.write_text(f"Host {self.ssh_host}\n    IdentityFile {self.ssh_key}\n"
                          "    IdentitiesOnly yes\n")
        return SshHost("bed", self.ssh_url, known_hosts=str(self.ssh_known_hosts),
                       ssh_config=str(config), **options)

    def ssh_command(self, *remote: str) -> list[str]:
        """argv running ``remote`` on the test sshd, e.g. ``ssh_command("docker", "ps")``."""
        return ["ssh", "-F", str(self.ssh_config), self.SSH_ALIAS, *remote]

    def ssh_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment whose ``ssh`` uses the test config (for ``use_ssh_client=True``)."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.ssh_bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def registry_ref(self, ref: str) -> str:
        """``opsui-test/app:1.0.0`` -> ``127.0.0.1:5000/opsui-test/app:1.0.0``."""
        return f"{self.registry}/{ref}"

    def sshd_answers(self, timeout: float = 2.0) -> bool:
        """True when something on ssh_host:ssh_port sends an SSH banner."""
        try:
            with socket.create_connection((self.ssh_host, self.ssh_port), timeout) as sock:
                sock.settimeout(timeout)
                return sock.recv(4).startswith(b"SSH-")
        except OSError:
            return False


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def load_testbed(environ: Mapping[str, str] | None = None) -> Testbed | None:
    """Testbed from the OPSUI_TEST_* variables, falling back to ``$state/env``.

    Returns None when up.sh never ran (no variables and no env file).
    """
    env = os.environ if environ is None else environ
    state = Path(env.get("OPSUI_TEST_STATE", str(DEFAULT_STATE_DIR)))
    values = _read_env_file(state / "env")
    values.update({k: v for k, v in env.items() if k.startswith("OPSUI_TEST_")})
    if "OPSUI_TEST_SSH_PORT" not in values:
        return None
    return Testbed(
        state_dir=state,
        ssh_host=values.get("OPSUI_TEST_SSH_HOST", "127.0.0.1"),
        ssh_port=int(values["OPSUI_TEST_SSH_PORT"]),
        ssh_user=values.get("OPSUI_TEST_SSH_USER", "root"),
        ssh_key=Path(values.get("OPSUI_TEST_SSH_KEY", str(state / "id_ed25519"))),
        ssh_known_hosts=Path(values.get("OPSUI_TEST_SSH_KNOWN_HOSTS", str(state / "known_hosts"))),
        ssh_config=Path(values.get("OPSUI_TEST_SSH_CONFIG", str(state / "ssh_config"))),
        ssh_bin=Path(values.get("OPSUI_TEST_SSH_BIN", str(state / "bin"))),
        registry=values.get("OPSUI_TEST_REGISTRY", "127.0.0.1:5000"),
    )


def _tcp_table() -> list[tuple[int, int, str]]:
    """(local port, remote port, inode) of every TCP socket, from /proc/net/tcp{,6}."""
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            rows.append((int(fields[1].rsplit(":", 1)[1], 16),
                         int(fields[2].rsplit(":", 1)[1], 16), fields[9]))
    return rows


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    return inodes


def client_ports_to(server_port: int, pid: int | None = None) -> list[int]:
    """Local ports of ``pid``'s (default: this process's) TCP connections to ``server_port``."""
    ours = _socket_inodes(pid or os.getpid())
    return [local for local, remote, inode in _tcp_table()
            if remote == server_port and inode in ours]


def sshd_children_serving(pid_file: Path, server_port: int, client_ports: list[int]) -> list[int]:
    """Pids of the sshd children (parent: the pid in ``pid_file``) serving these client ports.

    Killing exactly these cuts our own SSH links the way a network drop would, without
    touching any other session's connection.
    """
    listener = int(pid_file.read_text().split()[0])
    wanted = {inode for local, remote, inode in _tcp_table()
              if local == server_port and remote in client_ports}
    children = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == listener and _socket_inodes(int(proc.name)) & wanted:
                children.append(int(proc.name))
        except OSError:
            continue
    return children


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now (for fixed-port tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def version_on(port: int) -> str | None:
    """The version the test app answers with on 127.0.0.1:``port`` (its /api/version),
    None while nothing answers there."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=1) as r:
            return str(json.loads(r.read())["version"])
    except (OSError, ValueError, KeyError):
        return None


def count_execs(conn: SshConnection) -> list[str]:
    """From now on, every command ``conn`` starts on its host (each one a login shell
    there), in order: the list grows as they start."""
    started: list[str] = []
    original = conn.exec_channel

    def spy(command: str, timeout: float | None = None) -> Any:
        started.append(command)
        return original(command, timeout)

    conn.exec_channel = spy  # type: ignore[method-assign]
    return started


def answer_json(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
    """A 200 with a JSON ``body``, for the small HTTP servers tests stand up."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)

