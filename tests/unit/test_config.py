"""opsui.toml errors must name the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsui.config import Config, find_config, load_config
from opsui.domain.errors import ConfigError
from opsui.domain.operations.policy import ConfirmPolicy


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opsui.toml"
    path.write_text(text)
    return path


def test_no_file_gives_working_defaults() -> None:
    config = load_config(None)
    assert [h.name for h in config.hosts] == ["local"]
    assert config.confirm["restart"] is ConfirmPolicy.YES


def test_full_file_is_read(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, """
theme = "opsui-light"
read_only = true
[confirm]
restart = "type"
[keys]
"dashboard.filter" = "f"
[hosts.prod]
ssh = "ssh://deploy@127.0.0.1:2222"
read_only = true
[hosts.local]
[apps.web]
host = "prod"
service = "shop/web"
health_url = "http://127.0.0.1:3000/api/health"
"""))
    assert config.theme == "opsui-light" and config.read_only
    assert config.confirm["restart"] is ConfirmPolicy.TYPE
    assert config.keys["dashboard.filter"] == "f"
    prod = config.host("prod")
    assert prod is not None and prod.ssh and prod.read_only
    assert config.apps[0].health_urls == ("http://127.0.0.1:3000/api/health",)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("read_only = 'yes'", "read_only", "true or false"),
        ("[confirm]\nrestart = 'maybe'", "confirm.restart", '"none", "yes", "type"'),
        ("[confirm]\nexplode = 'yes'", "confirm.explode", "an action name"),
        ("[hosts.prod]\nssh = 3", "hosts.prod.ssh", "a non-empty string"),
        ("[hosts.prod]\nsh = 'x'", "hosts.prod.sh", "one of the known keys"),
        ("[apps.web]\nhealth_urls = ['ftp://x']", "apps.web.health_urls", "http:// or https://"),
        ("[apps.web]\nservice = 'web'", "apps.web.service", "project/service"),
        ("refresh_seconds = -1", "refresh_seconds", "positive number"),
        ("colour = 'red'", "colour", "one of the known keys"),
        ("theme = [", "(file)", "valid TOML"),
    ],
)
def test_errors_name_file_key_and_expectation(tmp_path: Path, text: str, key: str,
                                               expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert f"'{key}'" in message
    assert expected in message


def test_explicit_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        find_config(str(tmp_path / "nope.toml"))


def test_lookup_order_prefers_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "opsui").mkdir(parents=True)
    (xdg / "opsui" / "opsui.toml").write_text("")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    cwd = tmp_path / "work"
    cwd.mkdir()
    assert find_config(None, cwd) == xdg / "opsui" / "opsui.toml"
    _write(cwd, "")
    assert find_config(None, cwd) == cwd / "opsui.toml"
    assert isinstance(load_config(cwd / "opsui.toml"), Config)
