"""A deploy's new container keeps what the operator set and takes the new image's own
defaults: checked on real containers of two versions of the test app."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from docker.models.containers import Container

from opsui.backends.docker_clone import clone_request, create_clone

from .conftest import DockerResources
from .helpers import APP_HEALTHY, APP_HEALTHY_V2, wait_for_health

pytestmark = pytest.mark.integration


def test_the_clone_keeps_settings_and_takes_the_new_images_defaults(
        labelled: DockerResources, make_container: Callable[..., Container]) -> None:
    client = labelled.client
    network = labelled.network()
    second = labelled.network()
    volume = labelled.volume()
    old = make_container(
        APP_HEALTHY, environment={"FEATURE_FLAG": "on", "APP_TICK": "5"},
        labels={"team": "payments"}, ports={"8080/tcp": ("127.0.0.1", None)},
        volumes={volume.name: {"bind": "/data", "mode": "rw"}},
        restart_policy={"Name": "unless-stopped"}, mem_limit="64m", network=network.name)
    second.connect(old, aliases=["api-internal"])
    old_id, net = str(old.id), str(network.name)
    client.api.disconnect_container_from_network(old_id, net)
    client.api.connect_container_to_network(old_id, net, aliases=["api"])
    old.reload()
    old_image = client.api.inspect_image(old.attrs["Image"])  # type: ignore[no-untyped-call]

    body = clone_request(old.attrs, old_image, APP_HEALTHY_V2, labelled.name(),
                         labels={"opsui.release": "r2"})
    new_id = create_clone(client.api, body)
    new = labelled.track(client.containers.get(new_id))
    new.start()
    wait_for_health(new, "healthy")
    new.reload()

    env = dict(item.split("=", 1) for item in new.attrs["Config"]["Env"])
    assert env["FEATURE_FLAG"] == "on" and env["APP_TICK"] == "5"
    assert env["APP_VERSION"] == "2.0.0", "the old image's ENV default was copied"
    labels = new.attrs["Config"]["Labels"]
    assert labels["team"] == "payments" and labels["opsui.release"] == "r2"
    assert labels["org.opencontainers.image.version"] == "2.0.0"
    assert labels["opsui.test"] == "1"  # the test's own labels came along: cleaned up
    new_image = client.api.inspect_image(APP_HEALTHY_V2)  # type: ignore[no-untyped-call]
    assert new.attrs["Config"]["Cmd"] == new_image["Config"]["Cmd"]
    host = new.attrs["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert host["Memory"] == 64 * 1024 * 1024
    assert host["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
    assert [m["Name"] for m in new.attrs["Mounts"]] == [volume.name]
    networks = new.attrs["NetworkSettings"]["Networks"]
    assert "api" in networks[network.name]["Aliases"]
    assert "api-internal" in networks[second.name]["Aliases"]
    assert not any(old_id.startswith(a) for a in networks[network.name]["Aliases"])
