"""An SSH host costs its host one session, not one per stream (issue 15, many hosts).

Each ``docker system dial-stdio`` is a session on the host: sshd starts the user's
shell and the docker CLI. With twenty hosts those starts were most of the launch. Only
the first engine connection is one now; the event stream and every later connection
are channels straight to the engine socket that host's docker CLI names (here the
sshd's ``DOCKER_HOST``, a path that is not the default socket), and a host whose sshd
refuses such channels still works over dial-stdio.

Real sshd (tests/integration/engine_sshd.py, in front of the test bed's engine), real
engine; the host's processes are counted under that sshd, which is this test's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from docker.models.containers import Container as DockerContainer

from opsui.backends.ssh_host import SshHost

from .engine_sshd import EngineSshd
from .helpers import Testbed

pytestmark = pytest.mark.integration

DIAL_STDIO = ["docker", "system", "dial-stdio"]


def dial_stdio_sessions(sshd: EngineSshd) -> int:
    """``docker system dial-stdio`` processes the sshd's sessions run now."""
    count = 0
    for process in psutil.Process(sshd.process.pid).children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            if process.cmdline()[:3] == DIAL_STDIO:
                count += 1
    return count


@pytest.fixture
def socket_link(tmp_path: Path) -> str:
    """The test bed's engine socket under another name: the host's DOCKER_HOST."""
    link = tmp_path / "engine" / "docker.sock"
    link.parent.mkdir()
    link.symlink_to("/var/run/docker.sock")
    return f"unix://{link}"


def host_behind(sshd: EngineSshd, folder: Path) -> SshHost:
    return SshHost("fleet", f"ssh://root@127.0.0.1:{sshd.port}",
                   known_hosts=str(folder / "known_hosts"),
                   ssh_config=str(folder / "ssh_config"))


@contextlib.contextmanager
def listing_while_following(host: SshHost) -> Iterator[list[str]]:
    """Connected, the event stream open and the containers listed (as a monitor does)."""
    host.connect()
    try:
        events = host.engine.events()
        try:
            yield [c.name for c in host.engine.list_containers()]
        finally:
            events.close()
    finally:
        host.close()


def test_events_and_requests_of_an_ssh_host_share_one_session_on_it(
        testbed: Testbed, tmp_path: Path, socket_link: str,
        make_container: Callable[..., DockerContainer]) -> None:
    ours = make_container(start=False)
    folder = tmp_path / "sshd"
    sshd = EngineSshd.start(testbed, socket_link, folder)
    try:
        host = host_behind(sshd, folder)
        with listing_while_following(host) as names:
            assert ours.name in names  # the engine behind the host's DOCKER_HOST
            assert host.engine.ping() >= 0
            assert dial_stdio_sessions(sshd) == 1
    finally:
        sshd.stop()


def test_a_host_refusing_socket_channels_is_reached_over_dial_stdio(
        testbed: Testbed, tmp_path: Path, socket_link: str,
        make_container: Callable[..., DockerContainer]) -> None:
    ours = make_container(start=False)
    folder = tmp_path / "sshd"
    sshd = EngineSshd.start(testbed, socket_link, folder,
                            extra="AllowStreamLocalForwarding no\n")
    try:
        host = host_behind(sshd, folder)
        with listing_while_following(host) as names:
            assert ours.name in names
            assert dial_stdio_sessions(sshd) == 2
    finally:
        sshd.stop()
