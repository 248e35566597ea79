"""A Swarm service update sends the host's registry credentials (issue 13): the nodes
pull with the docker config of the host opsui reaches, not the operator's machine's."""

from __future__ import annotations

import base64
import json

import docker

from opsui.backends.docker_credentials import ConfigFile, DockerCredentials, LoginPlace
from opsui.backends.docker_engine import DockerEngine
from opsui.domain.ports import CommandResult


class NoHelpers:
    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        raise AssertionError(argv)


def test_the_swarm_of_an_engine_sends_the_hosts_credentials() -> None:
    auth = base64.b64encode(b"deploy:host-secret").decode()
    store = DockerCredentials(
        lambda: ConfigFile("/home/deploy/.docker/config.json",
                           json.dumps({"auths": {"reg.example:5000": {"auth": auth}}})),
        NoHelpers(), LoginPlace("web1", "deploy"))
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41")
    try:
        swarm = DockerEngine(client, "test", credentials=store).swarm
        header = swarm._auth_headers("reg.example:5000/team/app:2.0.0")["X-Registry-Auth"]
        sent = json.loads(base64.urlsafe_b64decode(header))
        assert sent == {"serveraddress": "reg.example:5000", "username": "deploy",
                        "password": "host-secret"}
        assert swarm._auth_headers("other.example/app:1") == {}
    finally:
        client.close()
