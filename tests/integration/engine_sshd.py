"""A private sshd whose sessions talk to another Docker engine (a test's second dockerd).

opsui reaches a remote engine with ``docker system dial-stdio`` (and ``docker stats``)
run on the host, which use the host's default engine. To put a second dockerd behind
SSH without touching the test bed's sshd or root's docker config, this starts one more
sshd on a free loopback port, with the test bed's host key and authorised key, whose
sessions get ``DOCKER_HOST`` pointing at that engine (sshd_config ``SetEnv``).

It runs in the foreground (``-D``) as the test's own child, in its own process group,
and is stopped with that group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .helpers import Testbed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 1.0) as sock:
            sock.settimeout(1.0)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


@dataclass
class EngineSshd:
    """The running sshd, and an opsui.toml naming it as host ``remote``."""

    process: subprocess.Popen[bytes]
    port: int
    config: Path

    @classmethod
    def start(cls, testbed: Testbed, docker_host: str, folder: Path,
              extra: str = "") -> EngineSshd:
        """``extra``: more sshd_config lines (e.g. ``AllowStreamLocalForwarding no``)."""
        folder.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        host_key = testbed.state_dir / "ssh_host_ed25519_key"
        sshd_config = folder / "sshd_config"
        sshd_config.write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {testbed.ssh_key}.pub\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\nMaxSessions 50\n"
            f"SetEnv DOCKER_HOST={docker_host}\nPrintMotd no\n{extra}")
        known_hosts = folder / "known_hosts"
        key_type, key = Path(f"{host_key}.pub").read_text().split()[:2]
        known_hosts.write_text(f"[127.0.0.1]:{port} {key_type} {key}\n")
        ssh_config = folder / "ssh_config"
        ssh_config.write_text(f"Host 127.0.0.1\n    IdentityFile {testbed.ssh_key}\n"
                              "    IdentitiesOnly yes\n")
        config = folder / "opsui.toml"
        config.write_text(f'[ssh]\nconfig = "{ssh_config}"\nknown_hosts = "{known_hosts}"\n'
                          f'[hosts.remote]\nssh = "ssh://root@127.0.0.1:{port}"\n')
        log = open(folder / "sshd.log", "ab")  # noqa: SIM115  (closed with the process)
        process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_config)],
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                   start_new_session=True)
        log.close()
        sshd = cls(process, port, config)
        deadline = time.monotonic() + 20
        while not _answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                sshd.stop()
                raise RuntimeError(f"the engine's sshd did not start: "
                                   f"{(folder / 'sshd.log').read_text(errors='replace')}")
            time.sleep(0.05)
        return sshd

    def stop(self) -> None:
        """Stop the sshd and the sessions it started (its process group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
