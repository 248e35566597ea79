"""ProxyJump/ProxyCommand from ssh_config as ssh reads them, without a network.

The real jumps (through a bastion sshd in a network namespace) are in
tests/integration/test_ssh_bastion.py; these pin the config rules: which option wins,
the ProxyJump forms, chains, loops, and the ProxyCommand tokens.
"""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from opsui.backends.ssh import SshConnection, resolve_target
from opsui.backends.ssh_jump import CommandSocket, parse_jumps
from opsui.domain.errors import ConfigError, HostUnreachable

CONFIG = """\
Host inner
    HostName 10.1.0.7
    User app
    ProxyJump jump

Host chained
    HostName 10.1.0.8
    ProxyJump ops@jump:2200,second

Host second
    HostName 10.2.0.2
    Port 2022
    ProxyJump never-used

Host viaurl
    ProxyJump ssh://me@gate.example:2201

Host jump
    HostName 192.0.2.10
    User hop
    IdentityFile ~/.ssh/jump_key

Host deep
    ProxyJump inner

Host cmd
    HostName 10.3.0.3
    User cmduser
    ProxyCommand nc -X connect -x proxy:3128 %h %p # %r %n %%

Host first-jump-wins
    ProxyJump jump
    ProxyCommand never %h

Host first-none-wins
    ProxyCommand none
    ProxyJump jump

Host loop-a
    ProxyJump loop-b

Host loop-b
    ProxyJump loop-a

Host badtoken
    ProxyCommand nc %h %z

Host cmdjump
    HostName 10.4.0.4
    ProxyCommand connect-to %h %p

Host behind-cmdjump
    ProxyJump cmdjump

Host tokenjump
    User tok
    ProxyJump %r@gw-for-%n:2201

Host *
    GlobalKnownHostsFile /dev/null
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "ssh_config"
    path.write_text(CONFIG)
    return str(path)


def _route(spec: str, config: str) -> list[str]:
    return [hop.label for hop in resolve_target(spec, config).route]


def test_a_jump_host_is_resolved_with_its_own_settings(config: str, tmp_path: Path) -> None:
    target = resolve_target("inner", config)
    assert _route("inner", config) == ["hop@192.0.2.10:22", "app@10.1.0.7:22"]
    assert target.via[0].identity_files == (str(tmp_path / ".ssh/jump_key"),)


def test_a_chain_is_passed_in_order_with_user_and_port_forms(config: str) -> None:
    # "ops@jump:2200": user and port as written, the rest from Host jump; the later
    # hop "second" keeps its HostName/Port but not its own ProxyJump (as ssh -J does).
    route = _route("chained", config)
    assert route[0] == "ops@192.0.2.10:2200"
    assert [label.split("@")[1] for label in route] == ["192.0.2.10:2200", "10.2.0.2:2022",
                                                         "10.1.0.8:22"]


def test_an_ssh_url_jump_and_an_ssh_url_target(config: str) -> None:
    assert _route("viaurl", config)[0] == "me@gate.example:2201"
    # --host ssh://user@alias: the alias's ProxyJump applies, the URL's user wins.
    assert _route("ssh://someone@inner", config) == ["hop@192.0.2.10:22",
                                                     "someone@10.1.0.7:22"]


def test_the_first_jump_hosts_own_proxy_jump_is_followed(config: str) -> None:
    assert [label.split("@")[1] for label in _route("deep", config)] == [
        "192.0.2.10:22", "10.1.0.7:22", "deep:22"]


def test_a_first_jump_reached_by_proxy_command_keeps_it(config: str) -> None:
    target = resolve_target("behind-cmdjump", config)
    assert target.via[0].proxy_command == "connect-to 10.4.0.4 22"
    assert target.proxy_command is None


def test_whichever_of_proxyjump_and_proxycommand_comes_first_wins(config: str) -> None:
    jump_first = resolve_target("first-jump-wins", config)
    assert jump_first.proxy_command is None and len(jump_first.via) == 1
    none_first = resolve_target("first-none-wins", config)
    assert none_first.proxy_command is None and none_first.via == ()


def test_proxy_command_tokens_come_from_the_final_target(config: str) -> None:
    assert resolve_target("cmd", config).proxy_command == (
        "nc -X connect -x proxy:3128 10.3.0.3 22 # cmduser cmd %")
    # A port and user written in --host win, as with ssh -p / -l.
    assert resolve_target("ssh://other@cmd:2200", config).proxy_command == (
        "nc -X connect -x proxy:3128 10.3.0.3 2200 # other cmd %")


def test_proxy_jump_takes_tokens_too(config: str) -> None:
    assert _route("tokenjump", config)[0] == "tok@gw-for-tokenjump:2201"


def test_an_unknown_proxy_command_token_is_refused(config: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_target("badtoken", config)
    assert "ProxyCommand" in str(info.value) and "%z" in str(info.value)


def test_a_proxy_jump_loop_is_a_config_error(config: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_target("loop-a", config)
    assert "loop" in str(info.value)


@pytest.mark.parametrize("value", ["", "a,,b", "user@", "-oProxyCommand=x", "h:99999",
                                   "a b"])
def test_bad_proxy_jump_values(value: str) -> None:
    with pytest.raises(ConfigError):
        parse_jumps(value, "cfg")


def test_proxy_jump_forms() -> None:
    assert parse_jumps("a, u@b:2200,ssh://x@c:1,[::1]:22", "cfg") == (
        "a", "ssh://u@b:2200", "ssh://x@c:1", "ssh://[::1]:22")


def test_a_proxy_command_that_fails_is_reported_with_what_it_said(tmp_path: Path) -> None:
    path = tmp_path / "ssh_config"
    path.write_text("Host broken\n    ProxyCommand echo no route to %h >&2; exit 7\n"
                    "Host *\n    GlobalKnownHostsFile /dev/null\n")
    with pytest.raises(HostUnreachable) as info:
        SshConnection(resolve_target("broken", str(path)), connect_timeout=5).connect()
    message = str(info.value)
    assert "exit status 7" in message and "no route to broken" in message, message


def test_a_command_socket_reports_eof_and_reaps_its_process() -> None:
    # paramiko's own ProxyCommand never returns b"" (EOF): it times out instead, so a
    # dead proxy would spin in the transport's read loop and never be noticed.
    sock = CommandSocket("printf SSH-2.0-x; exit 0")
    sock.settimeout(5)
    data = b""
    while chunk := sock.recv(64):
        data += chunk
    assert data == b"SSH-2.0-x"
    sock.close()
    assert sock.process.returncode is not None
    assert isinstance(sock, paramiko.ProxyCommand)
