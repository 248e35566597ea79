"""``opsui lock|unlock NAME`` of an app with ``hosts = [...]`` acts on every host, and a
command across the hosts that cannot reach one of them fails naming it, with the
others' links closed (issue 15). The hosts are fakes; the real-engine freeze is in
tests/integration/test_multi_host_app.py."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from opsui.cli import main
from opsui.config import Config
from opsui.domain.errors import HostUnreachable
from opsui.domain.operations.lock import DeployLock

from fakes import NOW, FakeConnection, FakeEngine, container
from fakes.cli_hosts import APP, HOSTS, three_host_cli


class Connection(FakeConnection):
    """A fake host that says whether its link was closed."""

    closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Connection]:
    return three_host_cli(tmp_path, monkeypatch, Connection)


def holder(connection: Connection) -> str:
    held = DeployLock(connection.fake_files, Config().deploy.state_dir, "web").holder()
    return held.message if held is not None else ""


def test_lock_freezes_every_host_and_unlock_lifts_it_on_every_host(
        hosts: dict[str, Connection], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lock", "web", "-m", "incident 42", "--yes", "--confirm", "web"]) == 0
    assert [holder(hosts[h]) for h in HOSTS] == ["incident 42"] * 3
    assert "web: locked on web1, web2, web3" in capsys.readouterr().out

    assert main(["unlock", "web", "--yes", "--confirm", "web"]) == 0
    assert [holder(hosts[h]) for h in HOSTS] == ["", "", ""]
    out = capsys.readouterr().out
    assert "unlocked on every host" in out and out.count("incident 42") == 3

    assert main(["lock", "web", "-m", "only here", "--host", "web2", "--yes",
                 "--confirm", "web"]) == 0  # one host named: that host's alone
    assert [holder(hosts[h]) for h in HOSTS] == ["", "only here", ""]


def test_a_host_out_of_reach_fails_the_command_and_the_others_are_closed(
        hosts: dict[str, Connection], capsys: pytest.CaptureFixture[str]) -> None:
    hosts["web2"].failure = HostUnreachable("web2: connection refused")
    assert main(["deploy", "web", "2.0.0", "--yes", "--confirm", "web"]) != 0
    assert "web2: connection refused" in capsys.readouterr().err
    assert hosts["web1"].closed and hosts["web3"].closed
    assert all(hosts[h].fake_engine.calls == [] for h in HOSTS)


class Killed(BaseException):
    """opsui killed mid-step (nothing of the run's own ending happens)."""


class DyingEngine(FakeEngine):
    """An engine whose next start kills the opsui running the release."""

    def start(self, container_id: str) -> None:
        raise Killed


def test_recover_is_the_host_where_the_release_was_interrupted(
        hosts: dict[str, Connection], capsys: pytest.CaptureFixture[str]) -> None:
    dying = DyingEngine([container("w", "web", image=f"{APP}:1.0.0")])
    dying.add_image(f"{APP}:1.0.0", NOW - timedelta(days=5))
    dying.add_image(f"{APP}:2.0.0", NOW - timedelta(days=2), on_host=False)
    hosts["web2"] = Connection("web2", dying)
    with pytest.raises(Killed):
        main(["deploy", "web", "2.0.0", "--yes", "--confirm", "web"])
    capsys.readouterr()
    dying.start = FakeEngine.start.__get__(dying)  # type: ignore[method-assign]

    assert main(["recover", "web", "--rollback", "--yes", "--confirm", "web"]) == 0
    out = capsys.readouterr().out
    assert "interrupted on web2" in out and "recover web on web2" in out
    [web2] = [c for c in dying.list_containers() if c.name == "web"]
    assert web2.image == f"{APP}:1.0.0" and web2.state.value == "running"
    assert hosts["web3"].fake_engine.calls == []
