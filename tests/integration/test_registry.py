"""Tags and digests from the test bed's registry (127.0.0.1:5000)."""

from __future__ import annotations

import subprocess

import pytest
from docker.client import DockerClient

from opsui.backends.docker_engine import DockerEngine
from opsui.backends.registry import RegistryClient
from opsui.domain.errors import ActionFailed

from .helpers import APP_IMAGE, APP_TAGS, Testbed

pytestmark = pytest.mark.integration


def test_tags_and_digest_match_what_was_pushed(testbed: Testbed) -> None:
    client = RegistryClient(testbed.registry)
    try:
        assert set(APP_TAGS) <= set(client.tags(APP_IMAGE))
        digest = client.digest(APP_IMAGE, "1.0.0")
        pulled = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}",
             testbed.registry_ref(f"{APP_IMAGE}:1.0.0")], capture_output=True, text=True,
            check=False)
        assert pulled.returncode == 0, pulled.stderr  # up.sh pushed it from this engine
        assert digest in pulled.stdout
        assert digest.startswith("sha256:") and digest != client.digest(APP_IMAGE, "2.0.0")
    finally:
        client.close()


def test_missing_tag_and_dead_registry_say_what_happened(testbed: Testbed) -> None:
    client = RegistryClient(testbed.registry)
    try:
        with pytest.raises(ActionFailed, match="does not exist"):
            client.digest(APP_IMAGE, "9.9.9")
    finally:
        client.close()
    dead = RegistryClient("127.0.0.1:9")  # discard port: nothing listens
    try:
        with pytest.raises(ActionFailed, match="unreachable") as caught:
            dead.tags(APP_IMAGE)
        assert "nothing was changed" in caught.value.hint
    finally:
        dead.close()


def test_pull_returns_the_registry_digest_and_bad_input_changes_nothing(
        testbed: Testbed, docker_client: DockerClient) -> None:
    engine = DockerEngine(docker_client)
    client = RegistryClient(testbed.registry)
    try:
        ref = testbed.registry_ref(f"{APP_IMAGE}:2.0.0")
        assert engine.pull(ref) == client.digest(APP_IMAGE, "2.0.0")
    finally:
        client.close()
    images_before = {i.id for i in docker_client.images.list()}
    with pytest.raises(ActionFailed, match=r"9\.9\.9") as missing:
        engine.pull(testbed.registry_ref(f"{APP_IMAGE}:9.9.9"))
    assert "nothing was changed" in missing.value.hint
    with pytest.raises(ActionFailed):
        engine.pull(f"127.0.0.1:9/{APP_IMAGE}:1.0.0")  # no registry listens there
    assert {i.id for i in docker_client.images.list()} == images_before
