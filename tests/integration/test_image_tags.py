"""What the tag picker offers: the registry's tags (locally and read from the sshd's
side) with build dates, newest first, and the tags already on the host; plus the
engine calls rollback and retention need (image_exists, remove)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from docker.client import DockerClient

from opsui.backends.docker_engine import DockerEngine
from opsui.backends.local import LocalHost
from opsui.backends.registry import RegistryTags
from opsui.domain.errors import ActionFailed
from opsui.domain.ports import HostConnection

from .conftest import DockerResources
from .helpers import APP_HEALTHY, APP_HEALTHY_V2, APP_IMAGE, Testbed, free_port, unique_name

pytestmark = pytest.mark.integration

PUSHED = {"1.0.0", "2.0.0", "3.0.0", "4.0.0"}  # 5.0.0 only once up.sh has finished


@pytest.fixture(params=["local", "ssh"])
def host(request: pytest.FixtureRequest, testbed: Testbed, docker_client: DockerClient,
         tmp_path: Path) -> Iterator[HostConnection]:
    """This machine, or the same engine and registry as seen through the test sshd."""
    connection: HostConnection = (LocalHost("local") if request.param == "local"
                                  else testbed.opsui_ssh_host(tmp_path))
    connection.connect()
    try:
        yield connection
    finally:
        connection.close()


def built_at(ref: str) -> datetime:
    """The build time the engine records for ``ref`` (up.sh built and pushed it here)."""
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Created}}", ref],
                         capture_output=True, text=True, check=True).stdout.strip()
    return datetime.fromisoformat(out)


def test_registry_tags_come_newest_first_with_build_dates(host: HostConnection,
                                                          testbed: Testbed) -> None:
    found = host.image_tags.tags(testbed.registry_ref(APP_HEALTHY))
    by_tag = {image.tag: image for image in found}
    assert set(by_tag) >= PUSHED
    dates = [image.created for image in found if image.created is not None]
    assert len(dates) == len(found), found
    assert dates == sorted(dates, reverse=True)
    one = by_tag["1.0.0"]
    assert one.created == built_at(testbed.registry_ref(APP_HEALTHY))
    assert one.image_id.startswith("sha256:") and one.image_id != by_tag["2.0.0"].image_id


def test_host_files_come_with_the_connection(host: HostConnection, tmp_path: Path) -> None:
    assert host.files is host.files  # made once per connect
    assert host.files.exists(str(tmp_path)) and not host.files.exists(str(tmp_path / "no"))


def test_a_dead_registry_is_a_clear_failure(host: HostConnection) -> None:
    port = free_port()
    with pytest.raises(ActionFailed, match=re.escape(f"127.0.0.1:{port} unreachable")) as caught:
        host.image_tags.tags(f"127.0.0.1:{port}/{APP_IMAGE}")
    assert "nothing was changed" in caught.value.hint


def test_a_missing_repository_says_so(testbed: Testbed) -> None:
    with pytest.raises(ActionFailed, match="does not exist"):
        RegistryTags().tags(testbed.registry_ref(f"{unique_name()}/nothing"))


def test_local_tags_list_what_is_on_the_host(testbed: Testbed, docker_client: DockerClient,
                                             labelled: DockerResources) -> None:
    engine = DockerEngine(docker_client)
    repository = f"{labelled.name()}/app"  # a name only this test uses; removed below
    try:
        engine.pull(testbed.registry_ref(APP_HEALTHY_V2))
        for tag, source in (("1.0.0", APP_HEALTHY), ("2.0.0", APP_HEALTHY_V2)):
            assert docker_client.api.tag(testbed.registry_ref(source), repository, tag)
        found = engine.local_tags(repository)
        assert {image.tag for image in found} == {"1.0.0", "2.0.0"}
        dates = [image.created for image in found if image.created is not None]
        assert len(dates) == 2 and dates == sorted(dates, reverse=True)
        pulled = engine.local_tags(testbed.registry_ref(APP_IMAGE))
        assert {image.tag for image in pulled} >= PUSHED
        assert all(image.image_id.startswith("sha256:") for image in pulled)
    finally:
        for tag in ("1.0.0", "2.0.0"):
            docker_client.api.remove_image(f"{repository}:{tag}", noprune=True)
        engine.close()


def test_image_exists(testbed: Testbed, docker_client: DockerClient) -> None:
    engine = DockerEngine(docker_client)
    ref = testbed.registry_ref(APP_HEALTHY)
    assert engine.image_exists(ref)
    assert engine.image_exists(docker_client.images.get(ref).id or "")
    assert not engine.image_exists(f"{unique_name()}/nothing:1.0.0")
    assert not engine.image_exists("sha256:" + "0" * 64)


def test_remove_takes_a_stopped_container_and_refuses_a_running_one(
        docker_client: DockerClient, labelled: DockerResources) -> None:
    engine = DockerEngine(docker_client)
    stopped = labelled.container(APP_HEALTHY, start=False)
    running = labelled.container(APP_HEALTHY)
    engine.remove(stopped.id or "")
    assert engine.get_container(stopped.id or "") is None
    with pytest.raises(ActionFailed, match="remove"):
        engine.remove(running.id or "")
    assert engine.get_container(running.id or "") is not None
