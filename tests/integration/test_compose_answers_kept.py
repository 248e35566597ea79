"""The compose drift watch asks compose again only when the project changed (issue 14).

The dashboard checks each released app every 15-60 s, and each check was two
``docker-compose config`` runs (about a second of CPU on the host) though the files
had not changed. A real compose project of its own (the test bed's docker-compose 1.29,
app 1.0.0 from the anonymous registry), reached locally and over the test sshd, checked
the way the dashboard does (a facade built per check over the connection's runner):

- a second check with the files unchanged runs no compose process, and says the same;
- a new image pulled under the running tag (docker-compose 1.x hashes the image's id)
  is noticed at the next check, which runs compose again and shows the drift;
- so is an in-place edit of the compose file (same size: only its time tells).

The tag the project runs is this test's own (app 1.0.0, then 2.0.0, under it), so no
other test sees the "pull".
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.backends.compose_host import ShellComposeHost
from opsui.domain.compose_drift import AGREES, DRIFTS, ComposeCheck
from opsui.domain.operations.compose_pin import ComposeAgreement
from opsui.domain.ports import CommandResult, CommandRunner, HostConnection

from .helpers import APP_IMAGE, Testbed
from .test_compose_agreement import Project, compose_project

pytestmark = [pytest.mark.integration, pytest.mark.testbed_stack]


class RecordingRunner:
    """The connection's runner, recording every command it runs."""

    def __init__(self, runner: CommandRunner) -> None:
        self._runner = runner
        self.argvs: list[list[str]] = []

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        self.argvs.append(argv)
        return self._runner.run(argv, timeout, stdin)

    def compose_runs(self) -> int:
        return sum("docker-compose" in argv for argv in self.argvs)


def _check(any_host: HostConnection, runner: RecordingRunner, project: Project) -> ComposeCheck:
    """What the drift watch shows for the project's running container, with a facade
    built for this check alone (as the dashboard builds one per check)."""
    container = any_host.engine.get_container(str(project.running().id))
    assert container is not None
    check = ComposeAgreement(ShellComposeHost(runner, any_host.name), None).check(container)
    assert check is not None
    return check


def test_unchanged_files_run_no_compose_and_a_change_is_noticed(
        any_host: HostConnection, testbed: Testbed, docker_client: DockerClient,
        tmp_path: Path) -> None:
    name = f"opsui-kept-{uuid.uuid4().hex[:8]}"
    tag = testbed.registry_ref(f"{APP_IMAGE}:{name}")
    repository, _, version = tag.rpartition(":")
    for source in ("1.0.0", "2.0.0"):
        docker_client.images.pull(testbed.registry_ref(f"{APP_IMAGE}:{source}"))
    assert docker_client.api.tag(testbed.registry_ref(f"{APP_IMAGE}:1.0.0"), repository,
                                 version)
    try:
        with compose_project(name, tmp_path, testbed, docker_client,
                             env=f"APP_TAG={version}\n".encode()) as project:
            runner = RecordingRunner(any_host.runner)
            first = _check(any_host, runner, project)
            assert first.state == AGREES, first
            _check(any_host, runner, project)  # learns the image to watch
            ran = runner.compose_runs()

            again = _check(any_host, runner, project)
            assert again == first
            assert runner.compose_runs() == ran, "compose ran though nothing changed"

            assert docker_client.api.tag(testbed.registry_ref(f"{APP_IMAGE}:2.0.0"),
                                         repository, version)  # a rebuilt image pulled
            pulled = _check(any_host, runner, project)
            assert pulled.state == DRIFTS and "would recreate" in pulled.text, pulled
            ran = runner.compose_runs()
            assert _check(any_host, runner, project) == pulled
            assert runner.compose_runs() == ran

            assert docker_client.api.tag(testbed.registry_ref(f"{APP_IMAGE}:1.0.0"),
                                         repository, version)  # and back
            assert _check(any_host, runner, project) == first
            ran = runner.compose_runs()
            compose_file = project.folder / "compose.yml"  # the service's label, in place
            compose_file.write_bytes(compose_file.read_bytes().replace(
                b'opsui.test: "1"', b'opsui.test: "2"', 1))
            edited = _check(any_host, runner, project)
            assert edited.state == DRIFTS and "would recreate" in edited.text, edited
            assert runner.compose_runs() > ran
    finally:
        docker_client.images.remove(tag)
