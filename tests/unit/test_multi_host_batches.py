"""``hosts_at_once = N`` (issue 15): hosts released in batches of N, the first failed batch
stopping the release with every switched host returned; and its configuration."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from opsui.config import AppConfig, Config, HostConfig, load_config
from opsui.domain.errors import ConfigError
from opsui.domain.operations.app_releases import AppReleases
from opsui.domain.operations.gate import ActionGate
from opsui.domain.operations.host_batches import run_in_batches
from opsui.domain.operations.multi_host import (
    NOT_DEPLOYED,
    RETURNED,
    SWITCHED,
    MultiHostApp,
)
from opsui.domain.releases import FAILED, OK

from fakes import NOW, FakeEngine, FakeHostFiles, FakeProber, container

APP = "opsui-test/app"
HOSTS = ("web1", "web2", "web3")
WEB = AppConfig("web", host="web1", hosts=HOSTS, container="web")
CONFIG = Config(hosts=tuple(HostConfig(h) for h in HOSTS), apps=(WEB,))
HOSTS_TOML = "".join(f'[hosts.{h}]\ndocker_host = "unix:///run/{h}.sock"\n' for h in HOSTS)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opsui.toml"
    path.write_text(text)
    return path


def engine() -> FakeEngine:
    """A host with web at 1.0.0, and 2.0.0 in the registry."""
    made = FakeEngine([container("w", "web", image=f"{APP}:1.0.0")])
    made.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    made.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    return made

# -- the order and the stop ----------------------------------------------------------------


def test_batches_run_in_order_and_stop_after_the_first_batch_with_a_failure() -> None:
    started: list[str] = []
    lock = threading.Lock()

    def one(host: str) -> bool:
        with lock:
            started.append(host)
        return host != "h3"

    went = run_in_batches(["h1", "h2", "h3", "h4", "h5"], 2, one, bool)
    assert sorted(started[:2]) == ["h1", "h2"] and sorted(started[2:]) == ["h3", "h4"]
    assert [item for item, _ in went.ran] == ["h1", "h2", "h3", "h4"]  # h4 finished too
    assert went.failed == ("h3",) and went.not_started == ("h5",)


def test_the_hosts_of_one_batch_are_released_at_the_same_time() -> None:
    both = threading.Barrier(2, timeout=10)  # one after the other would never pass it

    def one(host: str) -> str:
        both.wait()
        return host

    went = run_in_batches(["h1", "h2"], 2, one, lambda _: True)
    assert went.ran == (("h1", "h1"), ("h2", "h2")) and not went.failed


# -- a release N at a time -----------------------------------------------------------------


def fleet(at_once: int) -> tuple[MultiHostApp, dict[str, FakeEngine]]:
    config = replace(CONFIG, apps=(replace(WEB, hosts_at_once=at_once),))
    engines = {h: engine() for h in HOSTS}
    gate = ActionGate()
    releases = [AppReleases(h, engines[h], FakeProber(), FakeHostFiles(), gate, config)
                for h in HOSTS]
    return MultiHostApp("web", releases, gate), engines


def serving(host: FakeEngine) -> str:
    [web] = [c for c in host.list_containers() if c.name == "web"
             and c.state.value == "running"]
    return str(web.image)


def test_two_at_a_time_the_first_batch_failing_returns_its_switched_host() -> None:
    app, engines = fleet(2)
    engines["web2"].unhealthy_images.add(f"{APP}:2.0.0")
    plan = app.plan_deploy("2.0.0")
    assert plan.at_once == 2
    outcome = app.run(plan, True)
    assert outcome.outcome == FAILED
    assert [(r.host, r.state) for r in outcome.hosts] == [
        ("web1", RETURNED), ("web2", FAILED), ("web3", NOT_DEPLOYED)]
    assert all(serving(e) == f"{APP}:1.0.0" for e in engines.values())
    assert engines["web3"].calls == []


def test_two_at_a_time_the_second_batch_failing_returns_the_whole_first_batch() -> None:
    app, engines = fleet(2)
    engines["web3"].unhealthy_images.add(f"{APP}:2.0.0")
    outcome = app.run(app.plan_deploy("2.0.0"), True)
    assert [(r.host, r.state) for r in outcome.hosts] == [
        ("web1", RETURNED), ("web2", RETURNED), ("web3", FAILED)]
    assert all(serving(e) == f"{APP}:1.0.0" for e in engines.values())


def test_two_at_a_time_every_host_switches_when_all_pass() -> None:
    app, engines = fleet(2)
    outcome = app.run(app.plan_deploy("2.0.0"), True)
    assert outcome.outcome == OK and [r.state for r in outcome.hosts] == [SWITCHED] * 3
    assert all(serving(e) == f"{APP}:2.0.0" for e in engines.values())


# -- configuration ---------------------------------------------------------------------------


def test_hosts_at_once_is_read_and_defaults_to_one(tmp_path: Path) -> None:
    body = '[apps.web]\nhosts = ["web1", "web2", "web3"]\ncontainer = "web"\n'
    assert load_config(write(tmp_path, HOSTS_TOML + body)).apps[0].hosts_at_once == 1
    config = load_config(write(tmp_path, HOSTS_TOML + body + "hosts_at_once = 2\n"))
    assert config.apps[0].hosts_at_once == 2


@pytest.mark.parametrize(("body", "expected"), [
    ('hosts = ["web1", "web2"]\nhosts_at_once = 0', "a whole number from 1 to 2"),
    ('hosts = ["web1", "web2"]\nhosts_at_once = 3', "a whole number from 1 to 2"),
    ('hosts = ["web1", "web2"]\nhosts_at_once = "2"', "a whole number"),
    ('host = "web1"\nhosts_at_once = 2', "only with 'hosts'"),
])
def test_a_wrong_hosts_at_once_names_file_key_and_expectation(tmp_path: Path, body: str,
                                                              expected: str) -> None:
    path = write(tmp_path, HOSTS_TOML + f"[apps.web]\n{body}\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.key == "apps.web.hosts_at_once" and expected in error.value.expected
    assert str(path) in str(error.value)
