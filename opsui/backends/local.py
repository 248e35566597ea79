"""The machine opsui runs on: its Docker engine, psutil metrics, direct HTTP probes,
subprocesses, state files through them and registry reads, bundled as one
:class:`opsui.domain.ports.HostConnection`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Literal

from opsui.backends.docker_credentials import DockerCredentials, LoginPlace, local_reader
from opsui.backends.host_files import ShellHostFiles
from opsui.domain.errors import HostError
from opsui.domain.ports import CommandResult, ContainerEngine

if TYPE_CHECKING:  # loaded by connect(): a launch draws its first rows before them
    from opsui.backends.docker_engine import DockerEngine
    from opsui.backends.engine_feed import PlainEngine
    from opsui.backends.lazy_prober import LazyProber
    from opsui.backends.metrics import PsutilMetrics
    from opsui.backends.registry import RegistryTags

TIMEOUT_EXIT_CODE = 124  # what coreutils' timeout(1) returns
NOT_FOUND_EXIT_CODE = 127  # what a shell returns for an unknown command
NOT_EXECUTABLE_EXIT_CODE = 126
REAP_SECONDS = 5.0


class LocalRunner:
    """:class:`opsui.domain.ports.CommandRunner` with subprocesses.

    Failures are reported the way a remote shell would report them, so callers treat
    local and SSH hosts alike: a missing program is exit 127, a timeout is exit 124 with
    the whole process group killed (a shell script's children do not outlive it).
    """

    def run(
        self, argv: list[str], timeout: float = 30.0, stdin: bytes | None = None
    ) -> CommandResult:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            return CommandResult(NOT_FOUND_EXIT_CODE, b"", f"{argv[0]}: not found\n".encode())
        except PermissionError:
            message = f"{argv[0]}: permission denied\n".encode()
            return CommandResult(NOT_EXECUTABLE_EXIT_CODE, b"", message)
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            try:  # a grandchild that left the group may still hold the pipes
                stdout, stderr = process.communicate(timeout=REAP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = b"", b""
            note = f"\n{argv[0]}: timed out after {timeout:g} s\n".encode()
            return CommandResult(TIMEOUT_EXIT_CODE, stdout, stderr + note)
        return CommandResult(process.returncode, stdout, stderr)


class LocalHostFiles(ShellHostFiles):
    """The state folder of this machine: reads in-process, writes through the shell.

    The dashboard reads the lock and journal of the selected app every few seconds
    (the lock banner's poll); through ``sh -c cat`` that was four processes per poll,
    forked from a process of ~80 MB, a third of opsui's idle CPU outside the screen.
    Reading a file is the same here as in ``cat`` (same user, same path). Appends and
    the lock's ``mkdir`` keep the shell scripts, so the journal and the lock are written
    alike on every host.
    """

    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            reason = f"{path}: {exc.strerror or exc}\n".encode()
            raise self._failed(f"cannot read {path}", CommandResult(1, b"", reason)) from None

    def exists(self, path: str) -> bool:
        return os.path.exists(path)


class LocalHost:
    """:class:`opsui.domain.ports.HostConnection` for this machine.

    ``docker_host`` overrides DOCKER_HOST; None means DOCKER_HOST or the default socket.
    ``docker_config`` overrides DOCKER_CONFIG (the folder of the docker CLI's
    config.json, whose registry credentials tags, digests and pulls use).
    ``connect()`` may be called again to rebuild everything after the engine restarts.
    """

    def __init__(self, name: str, docker_host: str | None = None, disk_path: str = "/",
                 docker_config: str | None = None) -> None:
        self.name = name
        self._docker_config = docker_config
        self._docker_host = docker_host
        self._disk_path = disk_path
        self._engine: DockerEngine | None = None
        self._metrics: PsutilMetrics | None = None
        self._prober: LazyProber | None = None
        self._runner: LocalRunner | None = None
        self._files: ShellHostFiles | None = None
        self._image_tags: RegistryTags | None = None
        self._feed_engine: PlainEngine | Literal[False] | None = None
        """Built on the first ask; False: the endpoint has none."""

    def connect(self) -> None:
        """Build the engine client (asking the engine its API version) and the rest.

        The docker SDK, psutil and httpx are loaded here, not when this module is: the
        dashboard builds its connections before the first frame and connects after it
        (:mod:`opsui.backends.engine_glance` lists the first rows without them)."""
        self.close()
        import_docker_sdk_without_paramiko()
        from opsui.backends.docker_engine import DockerEngine, connect_local, describe_endpoint
        from opsui.backends.health import HttpHealthProber
        from opsui.backends.lazy_prober import LazyProber
        from opsui.backends.metrics import PsutilMetrics
        from opsui.backends.registry import RegistryTags

        client = connect_local(self._docker_host)
        # Subprocesses for the credential helper: its answer stays in a pipe.
        credentials = DockerCredentials(local_reader(self._docker_config), LocalRunner(),
                                        LoginPlace(f"{self.name} (this machine)", _user()))
        try:
            engine = DockerEngine(client, describe_endpoint(self._docker_host),
                                  credentials=credentials)
            metrics = PsutilMetrics(self._disk_path)
        except BaseException:
            client.close()
            raise
        self._engine = engine
        self._metrics = metrics
        self._prober = LazyProber(HttpHealthProber)  # its TLS context when first probing
        self._runner = LocalRunner()
        self._files = LocalHostFiles(self._runner, self.name)
        self._image_tags = RegistryTags(credentials=credentials)

    def feed_engine(self) -> ContainerEngine | None:
        """An engine log feeds can read before :meth:`connect`: a plain endpoint's (the
        local socket, plain HTTP), spoken with the standard library on sockets of its
        own (issue 14: ``opsui --open``'s first lines need not wait for the SDK). None
        for endpoints that need the SDK (TLS)."""
        if self._feed_engine is None:
            from opsui.backends.engine_feed import plain_engine

            self._feed_engine = plain_engine(self._docker_host) or False
        return self._feed_engine or None

    def is_alive(self) -> bool:
        """Connected and not closed: there is no link to lose locally (ping tells the rest)."""
        return self._engine is not None

    def _require(self) -> None:
        if self._engine is None:
            raise HostError(f"{self.name}: not connected", hint="Connect to the host first.")

    @property
    def engine(self) -> DockerEngine:
        self._require()
        assert self._engine is not None
        return self._engine

    @property
    def metrics(self) -> PsutilMetrics:
        self._require()
        assert self._metrics is not None
        return self._metrics

    @property
    def prober(self) -> LazyProber:
        self._require()
        assert self._prober is not None
        return self._prober

    @property
    def runner(self) -> LocalRunner:
        self._require()
        assert self._runner is not None
        return self._runner

    @property
    def files(self) -> ShellHostFiles:
        """The state folder through the same shell scripts as over SSH, so the journal
        and lock are written alike on every host (read in-process: LocalHostFiles)."""
        self._require()
        assert self._files is not None
        return self._files

    @property
    def image_tags(self) -> RegistryTags:
        """Registry tags read straight from this machine, which is where its engine pulls."""
        self._require()
        assert self._image_tags is not None
        return self._image_tags

    def close(self) -> None:
        engine, prober = self._engine, self._prober
        self._engine = self._metrics = self._prober = self._runner = None
        self._files = self._image_tags = None
        if engine is not None:
            engine.close()
        if prober is not None:
            prober.close()


def import_docker_sdk_without_paramiko() -> None:
    """Import the docker SDK without the paramiko it loads for its own ``ssh://`` transport.

    opsui never uses that transport (SSH hosts go through opsui.backends.ssh_docker), and
    paramiko with its dependencies is about a third of the import time of a local-only
    launch. The SDK treats a missing paramiko as "no ssh:// support", so the import is
    hidden (a None entry makes ``import paramiko`` raise ImportError) while docker loads.
    An SSH host built later imports paramiko as usual.
    """
    if "docker" in sys.modules or "paramiko" in sys.modules:
        return
    sys.modules["paramiko"] = None  # type: ignore[assignment]
    try:
        import docker  # noqa: F401
    finally:
        if "paramiko" in sys.modules and sys.modules["paramiko"] is None:
            del sys.modules["paramiko"]


def _user() -> str:
    """Who runs opsui here: whose ``docker login`` the credentials come from."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
