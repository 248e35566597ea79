"""The pure parts of the agreement with compose (issue 13): the pin's env line, where a
project lives, a kept copy's labels, compose's resolved image, and the notices the
history shows when what opsui released no longer serves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from opsui.backends.compose_host import image_of
from opsui.config import config_from_data
from opsui.domain.compose_drift import replacement_note
from opsui.domain.compose_project import compose_project, env_line_value, set_env_line
from opsui.domain.errors import ConfigError
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.compose_keep import with_kept_copies
from opsui.domain.release_copies import (
    has_compose_labels,
    has_hidden_labels,
    hide_compose_labels,
    restore_compose_labels,
)
from opsui.domain.releases import OK, Release

COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "app",
           "com.docker.compose.config-hash": "abc",
           "com.docker.compose.project.working_dir": "/srv/shop",
           "com.docker.compose.project.config_files": "compose.yml,compose.prod.yml",
           "com.docker.compose.version": "1.29.2", "opsui.test": "1"}


def test_the_pin_moves_one_line_and_keeps_every_other_byte() -> None:
    text = b"# tags\r\nAPP_TAG=1.0.0\r\nOTHER = x  # APP_TAG=no\nexport APP_TAG='1.0.0'\nLAST=1"
    moved = set_env_line(text, "APP_TAG", "2.0.0")
    assert moved == (b"# tags\r\nAPP_TAG=2.0.0\r\nOTHER = x  # APP_TAG=no\n"
                     b"export APP_TAG=2.0.0\nLAST=1")
    assert env_line_value(moved, "APP_TAG") == "2.0.0"
    assert set_env_line(b"A=1", "APP_TAG", "2.0.0") == b"A=1\nAPP_TAG=2.0.0\n"
    assert set_env_line(b"", "APP_TAG", "2.0.0") == b"APP_TAG=2.0.0\n"
    assert env_line_value(b"APP_TAGX=1\n", "APP_TAG") is None
    with pytest.raises(ValueError):
        set_env_line(text, "APP_TAG", "2\nEVIL=1")


def test_a_project_is_found_from_its_labels() -> None:
    project = compose_project(COMPOSE)
    assert project is not None and project.v1 and project.service == "app"
    assert project.config_files == ("/srv/shop/compose.yml", "/srv/shop/compose.prod.yml")
    assert project.env_file == "/srv/shop/.env"
    other = compose_project({**COMPOSE, "com.docker.compose.version": "2.29.1",
                             "com.docker.compose.project.environment_file": "/etc/shop.env"})
    assert other is not None and not other.v1 and other.env_file == "/etc/shop.env"
    assert compose_project({"opsui.test": "1"}) is None
    assert compose_project({**COMPOSE, "com.docker.compose.project.working_dir": ""}) is None


def test_a_kept_copy_carries_no_compose_identity_and_gets_it_back() -> None:
    hidden = hide_compose_labels(COMPOSE, "c0ffee")
    assert not has_compose_labels(hidden) and has_hidden_labels(hidden)
    assert hidden["opsui.test"] == "1" and hidden["opsui.kept-from"] == "c0ffee"
    back = restore_compose_labels(hidden, {"com.docker.compose.config-hash": "new"})
    assert back == {**COMPOSE, "com.docker.compose.config-hash": "new"}


def test_compose_config_names_the_service_image() -> None:
    config = ("networks:\n  default: {}\nservices:\n  app:\n    environment:\n"
              "      image: not-this\n    image: reg:5000/shop/app:2.0.0\n"
              "  db:\n    image: postgres:15\nversion: '3.8'\n")
    assert image_of(config, "app") == "reg:5000/shop/app:2.0.0"
    assert image_of(config, "db") == "postgres:15"
    assert image_of(config, "redis") == ""


def container(cid: str, state: ContainerState = ContainerState.RUNNING,
              labels: dict[str, str] | None = None, name: str = "shop_app_1") -> Container:
    return Container(id=cid, name=name, image="shop/app:2.0.0", state=state,
                     labels=labels or {})


def test_a_release_replaced_by_compose_is_said_not_to_serve() -> None:
    release = Release(id="r1", action="deploy", image="shop/app:2.0.0", digest="",
                      version="2.0.0", who="a@b", started_at="", outcome=OK,
                      container_id="c1")
    assert replacement_note(release, [container("c1")], container("c1")) == ""
    stopped = replacement_note(release, [container("c1", ContainerState.EXITED)], None)
    assert "does not serve" in stopped and "exited" in stopped
    other = container("c9")
    gone = replacement_note(release, [other], other)
    assert "release r1 (2.0.0) does not serve" in gone and "compose" in gone
    assert "nothing of the app runs" in replacement_note(release, [], None)
    assert replacement_note(None, [], None) == ""


def test_a_release_kept_as_a_copy_points_at_the_copy() -> None:
    release = Release(id="r0", action="adopt", image="shop/app:1.0.0", digest="",
                      version="1.0.0", who="a@b", started_at="", outcome=OK,
                      container_id="orig")
    copy = container("copy", ContainerState.CREATED, {"opsui.kept-from": "orig"})
    [found] = with_kept_copies([release], [copy])
    assert found == replace(release, container_id="copy")
    [same] = with_kept_copies([release], [container("orig"), copy])
    assert same.container_id == "orig"


@pytest.mark.parametrize("bad", ["1TAG", "APP-TAG", "", "A B", 3])
def test_compose_pin_must_name_an_env_variable(bad: object) -> None:
    with pytest.raises(ConfigError) as raised:
        config_from_data("t.toml", {"apps": {"web": {"compose_pin": bad}}})
    assert "apps.web.compose_pin" in str(raised.value) and "APP_TAG" in str(raised.value)
    ok = config_from_data("t.toml", {"apps": {"web": {"compose_pin": "APP_TAG"}}})
    assert ok.apps[0].compose_pin == "APP_TAG"
