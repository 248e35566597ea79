"""The Docker side of a switch with drain (issue 13): aliases leave and come back on a
running container, which keeps running and keeps its address; the engine's DNS stops
and starts answering the alias with it; a command runs in a container."""

from __future__ import annotations

import docker
import pytest

from opsui.backends.docker_engine import DockerEngine
from opsui.domain.errors import ActionFailed

from .conftest import DockerResources
from .helpers import APP_HEALTHY, wait_until


def _answers(client: docker.DockerClient, asker: str, name: str) -> set[str]:
    """The addresses the engine's DNS gives ``name``, asked from inside ``asker``."""
    out = client.containers.get(asker).exec_run(["nslookup", name, "127.0.0.11"]).output
    assert isinstance(out, bytes)
    lines = out.decode("utf-8", "replace").splitlines()
    after = lines[next((i for i, line in enumerate(lines) if line.startswith("Name:")),
                       len(lines)):]
    return {line.split()[-1] for line in after if line.startswith("Address")}


def test_an_alias_leaves_and_comes_back_on_a_running_container(
        labelled: DockerResources, docker_client: docker.DockerClient) -> None:
    network = labelled.network()
    old = labelled.container(APP_HEALTHY, network=network.name)
    asker = labelled.container(APP_HEALTHY, network=network.name)
    network.disconnect(old)
    network.connect(old, aliases=["web"])
    old.reload()
    net, old_id, asker_id = str(network.name), str(old.id), str(asker.id)
    address = old.attrs["NetworkSettings"]["Networks"][net]["IPAddress"]
    engine = DockerEngine(docker.from_env())
    traffic = engine.traffic
    try:
        assert traffic.aliases(old_id) == {net: ("web",)}
        wait_until(lambda: _answers(docker_client, asker_id, "web") == {address},
                   timeout=20, message="the alias answered with the old container")

        said = traffic.set_aliases(old_id, net, ())
        assert f"address {address} kept" in said
        old.reload()
        assert old.status == "running"
        assert old.attrs["NetworkSettings"]["Networks"][net]["IPAddress"] == address
        assert traffic.aliases(old_id) == {}
        wait_until(lambda: not _answers(docker_client, asker_id, "web"), timeout=20,
                   message="the alias no longer answered")
        # still reachable at its address while it drains
        reply = asker.exec_run(["wget", "-q", "-O-", f"http://{address}:8080/api/version"])
        assert reply.exit_code == 0 and b"1.0.0" in reply.output

        traffic.set_aliases(old_id, net, ("web",))
        wait_until(lambda: _answers(docker_client, asker_id, "web") == {address},
                   timeout=20, message="the alias answered again")
        result = traffic.exec(old_id, ["sh", "-c", "echo reloaded; exit 3"], 10)
        assert (result.exit_code, result.stdout) == (3, b"reloaded\n")
        with pytest.raises(ActionFailed, match=r"did not end within 0\.5 s"):
            traffic.exec(old_id, ["sleep", "3"], 0.5)  # a hung reload holds nothing
    finally:
        engine.close()
