"""A second, throwaway Docker engine for fault tests (kill it mid-stream, start it again).

It never disturbs the main engine: it has its own socket, --data-root, --exec-root and
--pidfile, and its own bridge interface (``oe2-xxxxxxxx`` on a free 10.213.N.0/24) with
no iptables rules. Not ``--bridge=none``: with that, dockerd deletes the host's
``docker0`` at start-up and the main engine can no longer start containers on its
default network. Its files live in ``$OPSUI_TEST_STATE/engines/<name>/`` (the bridge's
name in ``bridge``) so ``scripts/testbed/down.sh`` can clean up after a
crashed test run. It starts empty: pull images from the test registry, e.g.
``engine.client().images.pull("127.0.0.1:5000/opsui-test/app", tag="1.0.0")``.

From Python::

    engine = SecondEngine.create()
    url = engine.start()         # "unix:///tmp/opsui-testbed/engines/e-1a2b3c4d/docker.sock"
    engine.kill()                # SIGKILL: the API goes away mid-request
    engine.restart()             # back again, same data root (images survive)
    engine.cleanup()             # remove its containers, stop it, delete its files

From a shell (root)::

    python3 tests/integration/second_engine.py start NAME    # prints the socket url
    python3 tests/integration/second_engine.py kill|stop|restart|status|cleanup NAME
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

STATE_DIR = Path(os.environ.get("OPSUI_TEST_STATE", "/tmp/opsui-testbed"))
ENGINES_DIR = STATE_DIR / "engines"


class EngineError(RuntimeError):
    """The second engine did not do what was asked in time."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise EngineError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def _run(cmd: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise EngineError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return result


def _free_subnet_gateway(seed: str) -> str:
    """``10.213.N.1/24`` for a /24 no interface on this machine uses yet.

    Probing starts at a place derived from ``seed`` so parallel sessions rarely race
    for the same subnet.
    """
    used = _run(["ip", "-o", "-4", "addr", "show"]).stdout
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16)
    for i in range(254):
        n = (start + i) % 254 + 1
        if f" 10.213.{n}." not in used:
            return f"10.213.{n}.1/24"
    raise EngineError("no free 10.213.N.0/24 subnet for a second engine's bridge")


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    points: list[str] = []
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            point = line.split()[4]
            if point.startswith(prefix) or point == prefix.rstrip("/"):
                points.append(point)
    # Deepest first so nested mounts come off before their parents.
    return sorted(points, key=len, reverse=True)


@dataclass
class SecondEngine:
    """One extra dockerd, addressed by its directory."""

    root: Path
    start_timeout: float = 60.0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, name: str | None = None) -> SecondEngine:
        # Short paths on purpose: unix socket paths (containerd's lives under exec-root)
        # must stay under 108 bytes, which pytest's tmp_path can exceed.
        return cls(ENGINES_DIR / (name or f"e-{uuid.uuid4().hex[:8]}"))

    # --- where things are -------------------------------------------------------------
    @property
    def socket_path(self) -> Path:
        return self.root / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pidfile(self) -> Path:
        return self.root / "docker.pid"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def bridge(self) -> str:
        """Name of this engine's own bridge interface (at most 15 characters)."""
        return "oe2-" + hashlib.sha256(str(self.root).encode()).hexdigest()[:8]

    def _ensure_bridge(self) -> str:
        name = self.bridge
        if _run(["ip", "link", "show", name], check=False).returncode != 0:
            _run(["ip", "link", "add", "name", name, "type", "bridge"])
            _run(["ip", "addr", "add", _free_subnet_gateway(name), "dev", name])
        _run(["ip", "link", "set", name, "up"])
        (self.root / "bridge").write_text(name + "\n")
        return name

    def _remove_bridge(self) -> None:
        _run(["ip", "link", "del", self.bridge], check=False)

    @property
    def pid(self) -> int | None:
        """Pid of this engine's dockerd if it is alive (checked against its command line)."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        if str(self.root).encode() not in cmdline:
            return None  # a recycled pid: not ours
        return pid

    @property
    def running(self) -> bool:
        return self.pid is not None

    def responsive(self, timeout: float = 1.0) -> bool:
        """True when the engine answers GET /_ping."""
        conn = _UnixHTTPConnection(self.socket_path, timeout)
        try:
            conn.request("GET", "/_ping")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> str:
        """Start dockerd (no-op if it already answers) and return its socket url."""
        if self.running and self.responsive():
            return self.url
        if not self.running:
            self.root.mkdir(parents=True, exist_ok=True)
            # A stale pidfile from a killed engine makes dockerd refuse to start.
            self.pidfile.unlink(missing_ok=True)
            if self._containerd_pid() is None:
                # The killed engine's containerd may linger as a zombie until init
                # reaps it; dockerd would take it for alive and wait on its socket.
                (self.root / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)
            cmd = [
                shutil.which("dockerd") or "dockerd",
                f"--host={self.url}",
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--pidfile={self.pidfile}",
                f"--bridge={self._ensure_bridge()}",
                "--iptables=false",
                "--ip-masq=false",
                "--ip-forward=false",
            ]
            with open(self.log_path, "ab") as log:
                # New session: a Ctrl-C aimed at pytest must not hit the engine; the
                # test decides when it dies.
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        deadline = time.monotonic() + self.start_timeout
        while not self.responsive():
            if not self.running:
                raise EngineError(f"dockerd at {self.root} exited:\n{self.log_tail()}")
            if time.monotonic() >= deadline:
                raise EngineError(
                    f"dockerd at {self.root} did not answer in {self.start_timeout:.0f}s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.05)
        return self.url

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 20.0) -> None:
        """Signal dockerd (SIGKILL by default: an engine crash) and wait until it is gone."""
        pid = self.pid
        if pid is None:
            return
        os.kill(pid, sig)
        self._wait_gone(timeout)

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful stop (SIGTERM), SIGKILL if it takes longer than timeout."""
        try:
            self.kill(signal.SIGTERM, timeout)
        except EngineError:
            self.kill(signal.SIGKILL, 10.0)

    def restart(self, *, hard: bool = False) -> str:
        """Stop (or with hard=True kill) the engine and start it again; returns the url."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def _containerd_pid(self) -> int | None:
        """Pid of the containerd this dockerd manages, if alive (a zombie has no cmdline)."""
        try:
            pid = int((self.root / "exec" / "containerd" / "containerd.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(self.root).encode() in cmdline else None

    def _wait_gone(self, timeout: float) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout)  # reap our child so it is not a zombie
            except subprocess.TimeoutExpired as exc:
                raise EngineError(f"dockerd at {self.root} still alive after {timeout}s") from exc
            self._proc = None
        _wait(lambda: not self.running, timeout, f"dockerd at {self.root} to exit")
        # dockerd's containerd dies with it (parent-death signal), but a moment later;
        # a new dockerd seeing it still alive waits for it and then gives up.
        try:
            _wait(lambda: self._containerd_pid() is None, 5.0, "containerd to exit")
        except EngineError:
            pid = self._containerd_pid()
            if pid is not None:
                os.kill(pid, signal.SIGKILL)
            _wait(lambda: self._containerd_pid() is None, timeout, "containerd to exit")

    def client(self, timeout: int = 30) -> docker.DockerClient:
        import docker

        return docker.DockerClient(base_url=self.url, timeout=timeout)

    def cleanup(self) -> None:
        """Remove every container of this engine, stop it and delete its files.

        An engine that was killed leaves container processes (and their shims)
        running; starting it once more makes dockerd reap them before we stop it.
        """
        try:
            if self.root.exists():
                self.start()
                with contextlib.closing(self.client()) as cli:
                    for ctr in cli.containers.list(all=True):
                        with contextlib.suppress(Exception):
                            ctr.remove(force=True, v=True)
        except Exception as exc:
            print(f"second engine cleanup: {exc}", file=sys.stderr)
        finally:
            self.stop()
            self._remove_bridge()
            self._remove_files()

    def _remove_files(self, timeout: float = 10.0) -> None:
        # Lazy-unmount whatever the engine left mounted, then delete; retried because
        # a just-stopped containerd may still be letting go of its files.
        def removed() -> bool:
            for point in _mounts_under(self.root):
                _run(["umount", "-l", point], check=False)
            shutil.rmtree(self.root, ignore_errors=True)
            return not self.root.exists()

        try:
            _wait(removed, timeout, f"{self.root} to be removed")
        except EngineError as exc:
            print(f"second engine cleanup: {exc}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"start", "stop", "kill", "restart", "status", "cleanup"}:
        print(__doc__, file=sys.stderr)
        return 2
    action, name = argv
    engine = SecondEngine.create(name)
    try:
        if action == "start":
            print(engine.start())
        elif action == "restart":
            print(engine.restart())
        elif action == "kill":
            engine.kill()
        elif action == "stop":
            engine.stop()
        elif action == "cleanup":
            engine.cleanup()
        else:
            up = engine.running and engine.responsive()
            print(f"{engine.url} pid={engine.pid} {'up' if up else 'down'}")
            return 0 if up else 1
    except EngineError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
