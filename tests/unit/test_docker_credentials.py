"""Finding a registry's credentials in a docker config the way the docker CLI does
(issue 13): auths (auth, username/password, identitytoken), credsStore and
credHelpers, the CLI's key matching, and what is said when a helper is missing or
fails. The helper is a real ``docker-credential-*`` script on PATH, run through the
local runner (what LocalHost uses); over SSH the same code runs it on the host
(tests/integration/test_private_registry.py)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsui.backends.docker_credentials import (
    CredentialsError,
    DockerCredentials,
    LoginPlace,
    RegistryCredentials,
    key_host,
    local_config_dir,
    local_reader,
    server_address,
)
from opsui.backends.local import LocalRunner

PLACE = LoginPlace("web1 (10.0.0.5)", "deploy")
SECRET = "s3cret-Pa55"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A DOCKER_CONFIG folder, and a bin folder first on PATH for helpers."""
    config = tmp_path / "docker"
    config.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    yield config


def write_config(folder: Path, doc: object) -> None:
    (folder / "config.json").write_text(json.dumps(doc))


def helper(folder: Path, name: str, script: str) -> Path:
    """docker-credential-NAME in the bin folder: ``script`` is its sh body."""
    path = folder.parent / "bin" / f"docker-credential-{name}"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def store() -> DockerCredentials:
    return DockerCredentials(local_reader(), LocalRunner(), PLACE)


@pytest.mark.parametrize(("key", "registry"), [
    ("registry.example.com", "registry.example.com"),
    ("https://registry.example.com", "registry.example.com"),
    ("https://registry.example.com/v2/", "registry.example.com"),
    ("http://127.0.0.1:5001", "127.0.0.1:5001"),
    ("https://index.docker.io/v1/", "registry-1.docker.io"),
    ("docker.io", "registry-1.docker.io"),
])
def test_auths_keys_match_the_way_the_cli_matches_them(folder: Path, key: str,
                                                       registry: str) -> None:
    write_config(folder, {"auths": {key: {"auth": b64(f"ci:{SECRET}")}}})
    found = store().get(registry)
    assert found is not None
    assert (found.username, found.password) == ("ci", SECRET)


def test_another_registry_or_port_does_not_match(folder: Path) -> None:
    write_config(folder, {"auths": {"127.0.0.1:5001": {"auth": b64(f"ci:{SECRET}")}}})
    assert store().get("127.0.0.1:5000") is None
    assert store().get("registry-1.docker.io") is None


def test_username_password_and_identity_token_entries(folder: Path) -> None:
    write_config(folder, {"auths": {
        "a.example": {"username": "u", "password": SECRET},
        "b.example": {"auth": b64("<token>:"), "identitytoken": "refresh-xyz"},
    }})
    plain = store().get("a.example")
    assert plain is not None and (plain.username, plain.password) == ("u", SECRET)
    token = store().get("b.example")
    assert token is not None and token.identity_token == "refresh-xyz"
    assert token.password == ""


def test_a_broken_auth_entry_or_file_names_the_file(folder: Path) -> None:
    write_config(folder, {"auths": {"a.example": {"auth": "bm9jb2xvbg=="}}})  # "nocolon"
    with pytest.raises(CredentialsError, match="not base64 of user:password") as bad:
        store().get("a.example")
    assert str(folder / "config.json") in str(bad.value)
    (folder / "config.json").write_text('{"auths": ')
    with pytest.raises(CredentialsError, match="not valid JSON"):
        store().get("a.example")


def test_no_config_file_means_no_credentials(folder: Path) -> None:
    assert store().get("a.example") is None


def test_cred_helpers_come_before_creds_store_and_auths(folder: Path) -> None:
    answer = 'read s; printf \'{"ServerURL":"%%s","Username":"%s","Secret":"%s"}\' "$s"\n'
    helper(folder, "one", answer % ("h1", "S1"))
    helper(folder, "store", answer % ("st", "S2"))
    write_config(folder, {"credHelpers": {"a.example": "one"}, "credsStore": "store",
                          "auths": {"a.example": {"auth": b64("file:S3")},
                                    "b.example": {"auth": b64("file:S3")}}})
    first = store().get("a.example")
    assert first is not None and (first.username, first.password) == ("h1", "S1")
    assert "docker-credential-one" in first.source
    second = store().get("b.example")
    assert second is not None and (second.username, second.password) == ("st", "S2")


def test_the_helper_is_asked_for_the_server_address_on_stdin(folder: Path) -> None:
    asked = folder.parent / "asked"
    helper(folder, "rec", f'cat > {asked}; echo \'{{"Username":"u","Secret":"x"}}\'\n')
    write_config(folder, {"credsStore": "rec"})
    store().get("127.0.0.1:5001")
    assert asked.read_text() == "127.0.0.1:5001"
    store().get("registry-1.docker.io")
    assert asked.read_text() == "https://index.docker.io/v1/"


def test_a_helper_answering_token_user_gives_an_identity_token(folder: Path) -> None:
    helper(folder, "tok", 'echo \'{"Username":"<token>","Secret":"refresh-1"}\'\n')
    write_config(folder, {"credsStore": "tok"})
    found = store().get("a.example")
    assert found is not None and found.identity_token == "refresh-1"


def test_credentials_not_found_means_none_and_creds_store_falls_back_to_auths(
        folder: Path) -> None:
    helper(folder, "empty", 'echo "credentials not found in native keychain"; exit 1\n')
    write_config(folder, {"credsStore": "empty",
                          "auths": {"b.example": {"auth": b64("file:S3")}}})
    assert store().get("a.example") is None
    fallback = store().get("b.example")
    assert fallback is not None and fallback.password == "S3"


def test_a_missing_helper_is_named_with_what_to_do(folder: Path) -> None:
    write_config(folder, {"credHelpers": {"a.example": "nosuch"}})
    with pytest.raises(CredentialsError) as missing:
        store().get("a.example")
    assert "docker-credential-nosuch is not installed on web1 (10.0.0.5)" in str(missing.value)
    assert "for deploy" in missing.value.hint and "Nothing was changed" in missing.value.hint


def test_a_helper_name_cannot_be_a_path(folder: Path) -> None:
    write_config(folder, {"credsStore": "../../tmp/evil"})
    with pytest.raises(CredentialsError, match="not a program name"):
        store().get("a.example")


def test_a_failing_helper_is_quoted_but_never_its_json(folder: Path) -> None:
    helper(folder, "gpg", 'echo "gpg: decryption failed: No secret key" >&2; exit 1\n')
    write_config(folder, {"credsStore": "gpg"})
    with pytest.raises(CredentialsError, match="decryption failed") as failed:
        store().get("a.example")
    assert "exit 1" in str(failed.value)
    helper(folder, "leaky", f'echo \'{{"Secret":"{SECRET}"}}\' >&2; exit 2\n')
    write_config(folder, {"credsStore": "leaky"})
    with pytest.raises(CredentialsError) as leaky:
        store().get("a.example")
    assert SECRET not in str(leaky.value) and SECRET not in leaky.value.hint


def test_a_helper_that_does_not_speak_the_protocol(folder: Path) -> None:
    helper(folder, "odd", f'echo "user={SECRET}"\n')
    write_config(folder, {"credsStore": "odd"})
    with pytest.raises(CredentialsError, match="did not answer") as odd:
        store().get("a.example")
    assert SECRET not in str(odd.value)


def test_config_dir_override_and_environment(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    assert local_config_dir() == Path.home() / ".docker"
    assert local_config_dir({"DOCKER_CONFIG": "/x"}) == Path("/x")
    (tmp_path / "config.json").write_text(json.dumps(
        {"auths": {"a.example": {"auth": b64("o:p")}}}))
    found = DockerCredentials(local_reader(str(tmp_path)), LocalRunner(), PLACE).get("a.example")
    assert found is not None and found.username == "o"


def test_engine_header_is_what_the_cli_sends() -> None:
    creds = RegistryCredentials("test", "ci", SECRET)
    header = json.loads(base64.urlsafe_b64decode(creds.engine_header("127.0.0.1:5001")))
    assert header == {"serveraddress": "127.0.0.1:5001", "username": "ci",
                      "password": SECRET}
    token = RegistryCredentials("test", identity_token="rt")
    decoded = json.loads(base64.urlsafe_b64decode(token.engine_header("docker.io")))
    assert decoded == {"serveraddress": "https://index.docker.io/v1/", "identitytoken": "rt"}


def test_login_hint_names_registry_host_and_user() -> None:
    assert PLACE.advice("127.0.0.1:5001") == (
        "run `docker login 127.0.0.1:5001` on web1 (10.0.0.5) as deploy")
    assert PLACE.advice("registry-1.docker.io").startswith("run `docker login` on")
    assert key_host("HTTPS://Registry.Example.com/v2/") == "registry.example.com"
    assert server_address("index.docker.io") == "https://index.docker.io/v1/"


def test_the_host_side_reader_finds_the_users_config(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The script an SSH host runs (here through a local sh): a configured folder
    (``~/`` is that user's home), else the session's DOCKER_CONFIG, else ~/.docker."""
    from opsui.backends.docker_credentials import remote_reader

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    for folder in ("dc", ".docker", "env"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "config.json").write_text(f'{{"credsStore": "{folder}"}}')
    configured = remote_reader(LocalRunner(), "web1", "~/dc")()
    assert configured.path == f"{tmp_path}/dc/config.json" and '"dc"' in configured.text
    assert '".docker"' in remote_reader(LocalRunner(), "web1")().text
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "env"))
    assert '"env"' in remote_reader(LocalRunner(), "web1")().text
    missing = remote_reader(LocalRunner(), "web1", str(tmp_path / "none"))()
    assert missing.text == "" and missing.path.endswith("none/config.json")


def test_library_log_lines_never_carry_a_secret_read(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    RegistryCredentials("auths in /x", "ci", "Log-Secret-77")
    basic = base64.b64encode(b"ci:Log-Secret-77").decode()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpcore.http11").debug("headers=%s", [("realm", "Log-Secret-77")])
        logging.getLogger("httpx").info("Authorization: Basic %s", basic)
    assert len(caplog.records) == 2
    assert "Log-Secret-77" not in caplog.text and basic not in caplog.text
    assert caplog.text.count("[hidden]") == 2
