"""Target specs and ssh_config resolution, plus the known_hosts rules, without a network."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path

import paramiko
import pytest

from opsui.backends.ssh import (
    KnownKey,
    fingerprint,
    known_hosts_name,
    known_keys,
    resolve_target,
    verify_host_key,
)
from opsui.domain.errors import ConfigError, HostKeyChanged, HostKeyUnknown

CONFIG = """\
Host web
    HostName 10.0.0.5
    User deploy
    Port 2200
    IdentityFile ~/.ssh/web_key
    IdentityFile /keys/second
    IdentitiesOnly yes
    UserKnownHostsFile ~/kh/web /etc/opsui/known

Host *.internal
    User ops
    HostKeyAlias internal-alias

Host jumpy
    ProxyJump bastion

Host *
    GlobalKnownHostsFile /dev/null
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "ssh_config"
    path.write_text(CONFIG)
    return str(path)


def test_alias_takes_everything_from_the_config(config: str, tmp_path: Path) -> None:
    target = resolve_target("web", config)
    assert target.alias == "web"
    assert (target.hostname, target.port, target.user) == ("10.0.0.5", 2200, "deploy")
    assert target.identity_files == (str(tmp_path / ".ssh/web_key"), "/keys/second")
    assert target.identities_only
    assert target.known_hosts_files == (str(tmp_path / "kh/web"), "/etc/opsui/known",
                                        "/dev/null")
    assert target.label == "deploy@10.0.0.5:2200"
    assert target.known_hosts_name == "[10.0.0.5]:2200"


def test_explicit_url_parts_win_over_the_config(config: str) -> None:
    target = resolve_target("ssh://admin@web:2022", config)
    assert (target.hostname, target.port, target.user) == ("10.0.0.5", 2022, "admin")
    assert target.identity_files[1] == "/keys/second"  # not stated in the URL: config's


def test_user_at_host_keeps_the_config_port(config: str) -> None:
    target = resolve_target("root@web", config)
    assert (target.user, target.port) == ("root", 2200)


def test_plain_host_without_config_entry_uses_defaults(config: str) -> None:
    target = resolve_target("db.example.org", config)
    assert (target.hostname, target.port) == ("db.example.org", 22)
    assert target.user  # the local user name
    assert target.known_hosts_name == "db.example.org"
    assert not target.identities_only


def test_wildcard_block_and_host_key_alias(config: str) -> None:
    target = resolve_target("ssh://cache.internal", config)
    assert target.user == "ops"
    assert target.known_hosts_name == "internal-alias"


def test_ipv6_url(config: str) -> None:
    target = resolve_target("ssh://me@[::1]:2222", config)
    assert (target.hostname, target.port, target.user) == ("::1", 2222, "me")
    assert target.known_hosts_name == "[::1]:2222"


def test_global_known_hosts_default_when_not_configured(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    empty = tmp_path / "empty_config"
    empty.write_text("")
    assert "/etc/ssh/ssh_known_hosts" in resolve_target("h", str(empty)).known_hosts_files


def test_no_config_file_at_all_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/config
    assert resolve_target("ssh://u@h:23").port == 23


def test_missing_explicit_config_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_target("web", str(tmp_path / "nope"))
    assert "nope" in str(info.value)


@pytest.mark.parametrize("spec", ["http://web", "ssh://web:notaport", "ssh://", "a b",
                                  "-oProxyCommand=x", "user@", "ssh://u@h/path"])
def test_bad_specs_are_config_errors(config: str, spec: str) -> None:
    with pytest.raises(ConfigError):
        resolve_target(spec, config)


def test_bad_port_in_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "c"
    path.write_text("Host x\n  Port banana\n")
    with pytest.raises(ConfigError) as info:
        resolve_target("x", str(path))
    assert "banana" in str(info.value)


def test_proxy_jump_puts_the_jump_host_on_the_route(config: str) -> None:
    target = resolve_target("jumpy", config)
    assert target.proxy == "bastion"
    assert [hop.hostname for hop in target.route] == ["bastion", "jumpy"]


# ------------------------------------------------------------------------ known_hosts


def _keypair(tmp_path: Path, name: str) -> tuple[paramiko.PKey, str]:
    path = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    key = paramiko.PKey.from_path(str(path))
    return key, (tmp_path / f"{name}.pub").read_text().split()[1]


def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    key, _ = _keypair(tmp_path, "k")
    listed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "k.pub")], check=True,
                            capture_output=True, text=True).stdout.split()[1]
    assert fingerprint(key) == listed
    digest = hashlib.sha256(key.asbytes()).digest()
    assert listed == "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def test_known_keys_plain_bracketed_hashed_wildcard_and_negated(tmp_path: Path) -> None:
    _, blob = _keypair(tmp_path, "k")
    hashed = paramiko.HostKeys.hash_host("[10.0.0.9]:2222")
    path = tmp_path / "known_hosts"
    path.write_text(
        "# comment\n\n"
        f"[10.0.0.5]:2200 ssh-ed25519 {blob}\n"
        f"{hashed} ssh-ed25519 {blob}\n"
        f"*.lan,!secret.lan ssh-ed25519 {blob}\n"
        "garbage line\n"
        f"@cert-authority * ssh-ed25519 {blob}\n"
    )
    files = [str(path), str(tmp_path / "missing")]
    assert len(known_keys("[10.0.0.5]:2200", files)) == 1
    assert len(known_keys("10.0.0.5", files)) == 0  # port 22 entry is a different name
    assert len(known_keys("[10.0.0.9]:2222", files)) == 1
    assert len(known_keys("box.lan", files)) == 1
    assert len(known_keys("secret.lan", files)) == 0
    assert len(known_keys("[1.2.3.4]:22", files)) == 0  # brackets are literal, not a class


def test_verify_host_key_ok_unknown_changed_revoked(tmp_path: Path) -> None:
    key, _ = _keypair(tmp_path, "a")
    other, _ = _keypair(tmp_path, "b")
    name = known_hosts_name("10.0.0.5", 2200)
    verify_host_key(name, key, [KnownKey(other, False, "x"), KnownKey(key, False, "y")])
    with pytest.raises(HostKeyUnknown) as unknown:
        verify_host_key(name, key, [])
    assert (unknown.value.host, unknown.value.key_type) == (name, "ssh-ed25519")
    with pytest.raises(HostKeyUnknown) as shown:
        verify_host_key(name, key, [], shown_as="web")
    assert shown.value.host == "web"
    assert unknown.value.fingerprint == fingerprint(key)
    with pytest.raises(HostKeyChanged) as changed:
        verify_host_key(name, key, [KnownKey(other, False, "x")])
    assert changed.value.fingerprint == fingerprint(key)
    with pytest.raises(HostKeyChanged):
        verify_host_key(name, key, [KnownKey(key, False, "x"), KnownKey(key, True, "y")])
