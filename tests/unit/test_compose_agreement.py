"""The pure parts of the agreement with compose (issue 13): the pin's env line, where a
project lives, a kept copy's labels, compose's resolved image, and the notices the
history shows when what opsui released no longer serves."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import replace

import pytest

from opsui.backends.compose_host import image_of
from opsui.config import config_from_data
from opsui.domain.compose_drift import AGREES, DRIFTS, UNKNOWN, ComposeCheck, replacement_note
from opsui.domain.compose_project import (
    ComposeProject,
    compose_project,
    env_line_value,
    set_env_line,
)
from opsui.domain.errors import ActionFailed, ConfigError
from opsui.domain.models import Container, ContainerState
from opsui.domain.operations.compose_keep import with_kept_copies
from opsui.domain.operations.compose_pin import ComposeAgreement
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


class FakeCompose:
    """Compose on a host, as a table: the hash and image its file gives per env."""

    def __init__(self, env: bytes = b"APP_TAG=1.0.0\n", fail: bool = False) -> None:
        self.files = {"/srv/shop/.env": env}
        self.writes: list[str] = []
        self.fail = fail

    def _tag(self, env: Mapping[str, str]) -> str:
        return env.get("APP_TAG") or env_line_value(self.files["/srv/shop/.env"],
                                                    "APP_TAG") or ""

    def config_hash(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        if self.fail:
            raise ActionFailed("docker-compose: command not found")
        return f"hash-{self._tag(env)}"

    def service_image(self, project: ComposeProject, env: Mapping[str, str]) -> str:
        return f"shop/app:{self._tag(env)}"

    def image_id(self, ref: str) -> str:
        return f"sha256:{ref.rsplit(':', 1)[1]}"

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def write_atomic(self, path: str, data: bytes) -> None:
        self.writes.append(path)
        self.files[path] = data


def test_a_pinned_release_gets_the_hash_compose_computes_for_the_pin() -> None:
    compose = FakeCompose()
    running = container("c1", labels={**COMPOSE, "com.docker.compose.config-hash": "hash-1.0.0"})
    pinned = ComposeAgreement(compose, "APP_TAG")
    assert pinned.labels(running, "2.0.0") == {"com.docker.compose.config-hash": "hash-2.0.0"}
    v2 = container("c2", labels={**COMPOSE, "com.docker.compose.image": "sha256:1.0.0"})
    assert pinned.labels(v2, "2.0.0")["com.docker.compose.image"] == "sha256:2.0.0"
    assert ComposeAgreement(compose, None).labels(running, "2.0.0") == {}
    assert "pin APP_TAG=1.0.0 -> 2.0.0" in pinned.plan_note(running, "2.0.0")
    assert pinned.move_pin(running, "2.0.0").endswith("APP_TAG=2.0.0")
    assert compose.files["/srv/shop/.env"] == b"APP_TAG=2.0.0\n"
    pinned.move_pin(running, "2.0.0")
    assert compose.writes == ["/srv/shop/.env"]  # unchanged: not written again
    broken = ComposeAgreement(FakeCompose(fail=True), "APP_TAG")
    with pytest.raises(ActionFailed):
        broken.labels(running, "2.0.0")  # the deploy fails before anything changed


def test_compose_says_what_up_would_do() -> None:
    compose = FakeCompose(b"APP_TAG=1.0.0\n")
    agreement = ComposeAgreement(compose, None)
    same = container("c1", labels={**COMPOSE, "com.docker.compose.config-hash": "hash-1.0.0"})
    same = dataclasses.replace(same, image="shop/app:1.0.0")
    assert agreement.check(same) == ComposeCheck(AGREES, "`docker-compose up -d` leaves it "
                                                         "(shop/app:1.0.0)")
    moved = dataclasses.replace(same, labels={**COMPOSE, "com.docker.compose.config-hash":
                                              "hash-2.0.0"}, image="shop/app:2.0.0")
    check = agreement.check(moved)
    assert check is not None and check.state == DRIFTS
    assert check.text == ("compose file says shop/app:1.0.0, running shop/app:2.0.0: "
                          "`docker-compose up -d` would recreate it")
    stale = dataclasses.replace(same, image="shop/app:2.0.0")  # the old hash, copied
    check = agreement.check(stale)
    assert check is not None and check.state == DRIFTS and "puts shop/app:1.0.0 back" \
        in check.text
    unknown = ComposeAgreement(FakeCompose(fail=True), None).check(same)
    assert unknown is not None and unknown.state == UNKNOWN and "not found" in unknown.text
    assert agreement.check(container("c9")) is None  # not compose's
