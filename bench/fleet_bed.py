"""The fleet bench's hosts: a few engines of its own, many sshds in front of them.

Twenty dockerds are too many for this machine (2 cores), so ``engines`` engines
(tests/integration/second_engine.py) each hold ``containers`` labelled ``sleep``
containers and ``per_engine`` sshds (tests/integration/engine_sshd.py) sit in front of
each: every SSH host is its own sshd, its own SSH connection and its own
``docker system dial-stdio`` session from opsui, but the hosts of one engine list the
same containers from the same dockerd. Two more parts serve the fault run: a host whose
sshd is stopped (nothing listens on its port) and a host whose engine is frozen
(SIGSTOP: the sshd answers, the engine never does).

Everything is the bench's own: engines under $OPSUI_TEST_STATE/engines, containers
labelled opsui.test=1, sshds in their own process groups; :meth:`FleetBed.close`
thaws, stops and removes all of it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from integration.engine_sshd import EngineSshd
from integration.helpers import APP_HEALTHY, Testbed
from integration.second_engine import SecondEngine

LABELS = {"opsui.test": "1", "opsui.bench": "fleet"}


@dataclass
class FleetBed:
    """Engines, the sshds in front of them, and the opsui configs naming them."""

    testbed: Testbed
    folder: Path
    image: str = ""
    engines: list[SecondEngine] = field(default_factory=list)
    sshds: list[EngineSshd] = field(default_factory=list)
    hosts: dict[str, EngineSshd] = field(default_factory=dict)
    """Host name -> its sshd, in configuration order (the 20 hosts of the fleet)."""
    engine_of: dict[str, SecondEngine] = field(default_factory=dict)
    down_port: int = 0
    frozen: SecondEngine | None = None
    frozen_sshd: EngineSshd | None = None

    # -- building --------------------------------------------------------------------

    def start_engines(self, count: int, with_frozen: bool) -> None:
        """``count`` engines (started two at a time) with the test image pulled; one
        more, empty, to be frozen when ``with_frozen``."""
        self.image = self.testbed.registry_ref(APP_HEALTHY)
        self.engines = [SecondEngine.create() for _ in range(count)]
        if with_frozen:
            self.frozen = SecondEngine.create()
        everyone = self.engines + ([self.frozen] if self.frozen else [])
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(self._start_engine, everyone))

    def _start_engine(self, engine: SecondEngine) -> None:
        engine.start()
        if engine is self.frozen:
            return
        with contextlib.closing(engine.client()) as client:
            client.images.pull(self.image)

    def add_containers(self, engine: SecondEngine, count: int, first: int = 0) -> None:
        """``count`` light containers on ``engine`` (4 started at a time), in a few
        compose groups as bench/dashboard.py makes them."""

        def one(index: int) -> None:
            with contextlib.closing(engine.client()) as client:
                client.containers.run(
                    self.image, ["100000"], entrypoint="/bin/sleep", detach=True,
                    name=f"fleet-{index:03d}", healthcheck={"test": ["NONE"]},
                    network_mode="none",  # the engine's bridge is a /24: 300 would not fit
                    labels={**LABELS, "com.docker.compose.project": f"bench{index % 5}",
                            "com.docker.compose.service": f"svc{index % 7}"})

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(first, first + count)))

    def start_sshds(self, per_engine: int) -> None:
        """``per_engine`` sshds per engine: hosts f01, f02, ... in engine order; and
        the fault run's two: one stopped at once (``down_port``), one over the engine
        to be frozen."""
        number = 0
        for engine in self.engines:
            for _ in range(per_engine):
                number += 1
                name = f"f{number:02d}"
                sshd = EngineSshd.start(self.testbed, engine.url, self.folder / name)
                self.sshds.append(sshd)
                self.hosts[name] = sshd
                self.engine_of[name] = engine
        if self.frozen is not None:
            down = EngineSshd.start(self.testbed, self.engines[0].url, self.folder / "down")
            self.down_port = down.port
            down.stop()  # "one sshd stopped": its port refuses connections
            self.frozen_sshd = EngineSshd.start(self.testbed, self.frozen.url,
                                                self.folder / "frozen")
            self.sshds.append(self.frozen_sshd)

    def config(self, name: str, hosts: dict[str, int]) -> Path:
        """An opsui.toml naming ``hosts`` (name -> sshd port), in that order."""
        host_key = self.testbed.state_dir / "ssh_host_ed25519_key"
        key_type, key = Path(f"{host_key}.pub").read_text().split()[:2]
        known = self.folder / "known_hosts"
        known.write_text("".join(f"[127.0.0.1]:{port} {key_type} {key}\n"
                                 for port in {*hosts.values(), *self.ports().values()}))
        ssh_config = self.folder / "ssh_config"
        ssh_config.write_text(f"Host 127.0.0.1\n    IdentityFile {self.testbed.ssh_key}\n"
                              "    IdentitiesOnly yes\n")
        path = self.folder / f"{name}.toml"
        path.write_text(f'[ssh]\nconfig = "{ssh_config}"\nknown_hosts = "{known}"\n' + "".join(
            f'[hosts.{host}]\nssh = "ssh://root@127.0.0.1:{port}"\n'
            for host, port in hosts.items()))
        return path

    def ports(self) -> dict[str, int]:
        return {name: sshd.port for name, sshd in self.hosts.items()}

    # -- faults ----------------------------------------------------------------------

    def freeze(self, frozen: bool) -> None:
        """SIGSTOP / SIGCONT the frozen engine's dockerd (its API stops answering)."""
        pid = self.frozen.pid if self.frozen else None
        if pid is not None:
            os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)

    # -- removing --------------------------------------------------------------------

    def close(self) -> None:
        """Thaw, stop every sshd, remove every engine with its containers and files."""
        with contextlib.suppress(ProcessLookupError):
            self.freeze(False)
        for sshd in self.sshds:
            sshd.stop()
        everyone = self.engines + ([self.frozen] if self.frozen else [])
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(SecondEngine.cleanup, everyone))
