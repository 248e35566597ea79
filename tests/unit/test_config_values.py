"""Every opsui.toml key, fed hostile values: each is refused with a ConfigError naming it.

The baseline below sets every key the reader knows (the test fails when a key is added
to the reader without being added here), then each leaf in turn gets a wrong type, NaN,
an infinity, a negative, an absurd size or a control character. Nothing may be accepted
silently and nothing may crash with anything but a ConfigError naming the key.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator
from typing import Any

import pytest

from opsui.config import (
    _APP_KEYS,
    _BACKUP_KEYS,
    _DEPLOY_KEYS,
    _HOST_KEYS,
    _MIGRATE_KEYS,
    _TOP_KEYS,
    Config,
    config_from_data,
)
from opsui.domain.errors import ConfigError

_DEPLOY = {"state_dir": "/srv/opsui", "retain": 4, "known_good_seconds": 60,
           "gate_timeout": 30, "settle_seconds": 2, "drain_seconds": 6}

BASELINE: dict[str, Any] = {
    "theme": "opsui-light", "read_only": False, "refresh_seconds": 20, "stats_seconds": 4,
    "metrics_seconds": 3, "health_seconds": 12,
    "confirm": {"restart": "type"},
    "keys": {"dashboard.filter": "f"},
    "ssh": {"config": "/tmp/ssh_config", "known_hosts": "/tmp/known_hosts"},
    "logs": {"buffer_lines": 5000, "tail_lines": 10},
    "deploy": dict(_DEPLOY),
    "front_proxy": {"image": "haproxy:3.0", "kind": "haproxy", "network": "edge"},
    "hosts": {"prod": {"ssh": "ssh://deploy@127.0.0.1:2222", "read_only": True,
                       "docker_config": "/home/deploy/.docker"},
              "local": {"docker_host": "unix:///var/run/docker.sock"}},
    "apps": {
        "web": {"host": "prod", "service": "shop/web", "image": "registry.example/web",
                "health_urls": ["http://127.0.0.1:3000/health"], "health_timeout": 3,
                "confirm": {"deploy": "yes"}, **_DEPLOY,
                "backup": {"engine": "postgres", "container": "db", "database": "shop",
                           "user": "postgres", "path": "/data/db", "command": ["cat"],
                           "restore_command": ["tee"], "dest": "/srv/backups", "keep": 3,
                           "stall_seconds": 60},
                "migrate": {"command": ["alembic", "upgrade", "head"], "run_in": "new",
                            "timeout": 300},
                "proxy": {"container": "shop-nginx-1", "reload": ["nginx", "-s", "reload"]},
                "compose_pin": "WEB_TAG"},
        "api": {"container": "api-1"},
        "jobs": {"swarm_service": "jobs"},
        "fleet": {"hosts": ["prod", "local"], "container": "fleet-1", "hosts_at_once": 2},
    },
}

HOSTILE: list[Any] = [math.nan, math.inf, -math.inf, -1, -0.5, 10**30, 1e300, True,
                      [1], {"x": 1}, "text\x1b[31m", "line\nbreak", "rtl\u202eoverride"]


def _leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, (*path, key))
    else:
        yield path, value


def _cases() -> Iterator[tuple[str, Any]]:
    for path, good in _leaves(BASELINE):
        for bad in HOSTILE:
            if isinstance(good, bool) and bad is True:
                continue  # the right type: valid
            yield ".".join(path), bad


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASELINE)
    *parents, leaf = path.split(".")
    # binding ids contain dots: "keys.dashboard.filter" is keys -> "dashboard.filter"
    if parents[:1] == ["keys"]:
        parents, leaf = ["keys"], path.removeprefix("keys.")
    table = data
    for part in parents:
        table = table[part]
    table[leaf] = value
    return data


def test_the_baseline_is_valid_and_sets_every_key_the_reader_knows() -> None:
    config = config_from_data("t.toml", BASELINE)
    assert isinstance(config, Config) and config.refresh_seconds == 20
    web = BASELINE["apps"]["web"]
    assert set(BASELINE) == _TOP_KEYS
    assert set(BASELINE["hosts"]["prod"]) | set(BASELINE["hosts"]["local"]) == _HOST_KEYS
    assert set(BASELINE["deploy"]) == _DEPLOY_KEYS
    assert set(web) | {"container", "swarm_service", "health_url", "services",
                        "hosts", "hosts_at_once"} == _APP_KEYS
    assert set(web["backup"]) == _BACKUP_KEYS and set(web["migrate"]) == _MIGRATE_KEYS


@pytest.mark.parametrize(("path", "bad"), list(_cases()), ids=repr)
def test_every_key_refuses_hostile_values_naming_the_key(path: str, bad: Any) -> None:
    data = _with(path, bad)
    with pytest.raises(ConfigError) as err:
        config_from_data("t.toml", data)
    message = str(err.value)
    assert "t.toml" in message
    parent = path.rsplit(".", 1)[0]
    assert f"'{path}'" in message or f"'{parent}'" in message, message


@pytest.mark.parametrize("key", ["refresh_seconds", "stats_seconds", "metrics_seconds",
                                 "health_seconds"])
def test_polling_intervals_that_would_spin_a_core_are_refused(key: str) -> None:
    for bad in (0.001, 1e-9, 0):
        with pytest.raises(ConfigError, match=f"'{key}'"):
            config_from_data("t.toml", {key: bad})


def test_an_app_name_every_command_would_reject_is_a_config_error() -> None:
    for name in ("bad name!", "..", "a/b", "-x"):
        with pytest.raises(ConfigError, match=f"apps\\.{re.escape(name)}"):
            config_from_data("t.toml", {"apps": {name: {}}})
