"""``hosts.NAME.docker_config`` (issue 13): the folder of the docker config on the host
whose registry credentials opsui uses; reaches the host connection, and a bad value
names the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsui.backends.local import LocalHost
from opsui.config import load_config
from opsui.domain.errors import ConfigError
from opsui.wiring import build_connection


def test_docker_config_is_read_per_host_and_given_to_the_connection(tmp_path: Path) -> None:
    path = tmp_path / "opsui.toml"
    path.write_text('[hosts.local]\ndocker_config = "/srv/deploy/.docker"\n'
                    '[hosts.prod]\nssh = "deploy@prod.example"\n')
    config = load_config(path)
    local, prod = config.hosts
    assert local.docker_config == "/srv/deploy/.docker"
    assert prod.docker_config is None
    connection = build_connection(config, local)
    assert isinstance(connection, LocalHost)
    assert connection._docker_config == "/srv/deploy/.docker"


@pytest.mark.parametrize("value", ['""', "3", '"a\\u001bb"'])
def test_a_bad_docker_config_names_file_and_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "opsui.toml"
    path.write_text(f"[hosts.local]\ndocker_config = {value}\n")
    with pytest.raises(ConfigError) as bad:
        load_config(path)
    assert bad.value.key == "hosts.local.docker_config" and str(path) in str(bad.value)
