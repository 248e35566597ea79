"""Registry requests with credentials (issue 13): the Basic and Bearer flows a 401's
``WWW-Authenticate`` asks for, identity tokens, what a refusal says (which registry,
where to run ``docker login``), and where the credentials must NOT go (a realm in
clear text elsewhere, a redirect to another host, any message). The registry is an
httpx MockTransport playing the distribution spec's parts; the real htpasswd
registry is in tests/integration/test_private_registry.py."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from opsui.backends.docker_credentials import (
    ConfigFile,
    DockerCredentials,
    LoginPlace,
    RegistryCredentials,
)
from opsui.backends.registry import RegistryClient
from opsui.backends.registry_auth import parse_challenge, token_request
from opsui.backends.registry_pull import PullAuth
from opsui.domain.errors import ActionFailed
from opsui.domain.ports import CommandResult

USER, SECRET = "ci", "s3cret-Pa55"
BASIC = "Basic " + base64.b64encode(f"{USER}:{SECRET}".encode()).decode()
PLACE = LoginPlace("web1 (10.0.0.5)", "deploy")
TAGS = {"name": "team/app", "tags": ["1.0.0", "2.0.0"]}


class NoHelpers:
    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        raise AssertionError(f"no helper expected: {argv}")


class Store(DockerCredentials):
    """A docker config with ``auths`` for registry.test; counts lookups."""

    def __init__(self, entry: dict[str, str] | None) -> None:
        doc = {"auths": {"registry.test": entry}} if entry else {}
        super().__init__(lambda: ConfigFile("/home/deploy/.docker/config.json",
                                            json.dumps(doc)), NoHelpers(), PLACE)
        self.lookups = 0

    def get(self, registry: str) -> RegistryCredentials | None:
        self.lookups += 1
        return super().get(registry)


def password_store(password: str = SECRET) -> Store:
    return Store({"auth": base64.b64encode(f"{USER}:{password}".encode()).decode()})


def client(handler: Callable[[httpx.Request], httpx.Response],
           store: DockerCredentials | None) -> RegistryClient:
    return RegistryClient("registry.test", transport=httpx.MockTransport(handler),
                          credentials=store)


def no_secret(exc: BaseException) -> None:
    text = f"{exc}\n{getattr(exc, 'hint', '')}\n{exc!r}"
    assert SECRET not in text and BASIC.split()[1] not in text


def basic_registry(seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("Authorization") != BASIC:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="reg"'},
                                  json={"errors": [{"code": "UNAUTHORIZED",
                                                    "message": "authentication required"}]})
        return httpx.Response(200, json=TAGS)
    return handle


def test_basic_challenge_is_answered_with_the_config_credentials() -> None:
    seen: list[httpx.Request] = []
    store = password_store()
    reader = client(basic_registry(seen), store)
    assert reader.tags("team/app") == ["1.0.0", "2.0.0"]
    assert reader.tags("team/app") == ["1.0.0", "2.0.0"]
    assert "Authorization" not in seen[0].headers  # asked anonymously first
    assert [r.headers.get("Authorization") for r in seen[1:]] == [BASIC, BASIC]
    assert store.lookups == 1


def test_a_public_registry_never_looks_credentials_up() -> None:
    store = password_store()
    reader = client(lambda r: httpx.Response(200, json=TAGS), store)
    assert reader.tags("team/app") == ["1.0.0", "2.0.0"]
    assert store.lookups == 0


def test_wrong_password_names_registry_source_and_where_to_log_in() -> None:
    reader = client(basic_registry([]), password_store("wrong-" + SECRET))
    with pytest.raises(ActionFailed) as refused:
        reader.tags("team/app")
    message = str(refused.value)
    assert "registry.test: team/app: access refused (HTTP 401)" in message
    assert "credentials from auths in /home/deploy/.docker/config.json were refused" in message
    assert "run `docker login registry.test` on web1 (10.0.0.5) as deploy" in message
    assert "Nothing was changed" in refused.value.hint
    assert "wrong-" + SECRET not in message + refused.value.hint


def test_no_credentials_says_whose_config_has_none() -> None:
    with pytest.raises(ActionFailed) as refused:
        client(basic_registry([]), Store(None)).digest("team/app", "1.0.0")
    assert "no credentials for registry.test in the docker config of deploy on web1" in str(
        refused.value)
    assert "docker login registry.test" in refused.value.hint


def bearer_registry(seen: list[httpx.Request], realm: str = "https://auth.test/token",
                    accept: Callable[[httpx.Request], bool] | None = None,
                    ) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/token":
            if accept is not None and not accept(request):
                return httpx.Response(401, json={"details": "bad credentials"})
            return httpx.Response(200, json={"token": "T0K"})
        if request.headers.get("Authorization") != "Bearer T0K":
            challenge = (f'Bearer realm="{realm}",service="registry.test",'
                         'scope="repository:team/app:pull"')
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(200, json=TAGS)
    return handle


def test_bearer_token_is_fetched_from_the_realm_with_basic_credentials() -> None:
    seen: list[httpx.Request] = []
    reader = client(bearer_registry(seen, accept=lambda r: r.headers.get(
        "Authorization") == BASIC), password_store())
    assert reader.tags("team/app") == ["1.0.0", "2.0.0"]
    token = next(r for r in seen if r.url.path == "/token")
    assert token.url.host == "auth.test"
    assert dict(token.url.params) == {"service": "registry.test",
                                      "scope": "repository:team/app:pull"}
    assert seen[-1].headers["Authorization"] == "Bearer T0K"


def test_bearer_without_credentials_is_anonymous_as_before() -> None:
    seen: list[httpx.Request] = []
    assert client(bearer_registry(seen), Store(None)).tags("team/app") == ["1.0.0", "2.0.0"]
    token = next(r for r in seen if r.url.path == "/token")
    assert "Authorization" not in token.headers


def test_a_token_service_refusing_the_credentials_says_so() -> None:
    reader = client(bearer_registry([], accept=lambda r: False), password_store())
    with pytest.raises(ActionFailed) as refused:
        reader.tags("team/app")
    assert "HTTP 401" in str(refused.value) and "token service" in str(refused.value)
    assert "docker login registry.test" in str(refused.value)
    no_secret(refused.value)


def test_identity_token_is_exchanged_with_a_refresh_token_grant() -> None:
    seen: list[httpx.Request] = []

    def accept(request: httpx.Request) -> bool:
        form = parse_qs(request.content.decode())
        return (request.method == "POST" and form["grant_type"] == ["refresh_token"]
                and form["refresh_token"] == ["refresh-1"]
                and form["scope"] == ["repository:team/app:pull"])

    store = Store({"identitytoken": "refresh-1"})
    assert client(bearer_registry(seen, accept=accept), store).tags("team/app")
    assert any(r.url.path == "/token" and r.method == "POST" for r in seen)


def test_credentials_never_go_in_clear_text_to_another_host() -> None:
    seen: list[httpx.Request] = []
    reader = client(bearer_registry(seen, realm="http://evil.test/token"), password_store())
    reader.tags("team/app")
    token = next(r for r in seen if r.url.path == "/token")
    assert "Authorization" not in token.headers
    challenge = parse_challenge('Bearer realm="http://127.0.0.1:5001/token",service="s"')
    assert challenge is not None
    creds = RegistryCredentials("t", USER, SECRET)
    assert token_request(challenge, "r", creds, "127.0.0.1:5001").headers == {
        "Authorization": BASIC}


def test_a_redirect_to_another_host_does_not_carry_the_credentials() -> None:
    seen: list[httpx.Request] = []
    inner = basic_registry(seen)

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "blobs.test":
            seen.append(request)
            return httpx.Response(200, json={"created": "2026-01-01T00:00:00Z"})
        if "/blobs/" in request.url.path and request.headers.get("Authorization") == BASIC:
            return httpx.Response(307, headers={"Location": "https://blobs.test/x"})
        if "/manifests/" in request.url.path and request.headers.get("Authorization"):
            return httpx.Response(200, json={"config": {"digest": "sha256:" + "a" * 64}})
        return inner(request)

    digest, created = client(handle, password_store()).image_config("team/app", "1.0.0")
    assert digest == "sha256:" + "a" * 64 and created is not None
    blob = next(r for r in seen if r.url.host == "blobs.test")
    assert "Authorization" not in blob.headers


def test_a_registry_quoting_the_credentials_back_is_redacted() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        sent = request.headers.get("Authorization", "")
        decoded = base64.b64decode(sent.split()[-1]).decode() if sent else ""
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'},
                              json={"errors": [{"code": "DENIED",
                                                "message": f"bad {sent} = {decoded}"}]})

    with pytest.raises(ActionFailed) as refused:
        client(handle, password_store()).tags("team/app")
    assert "[hidden]" in str(refused.value)
    no_secret(refused.value)


def test_an_engine_quoting_the_credentials_back_is_redacted_and_explained() -> None:
    auth = PullAuth.lookup(password_store(), "registry.test")
    header = json.loads(base64.urlsafe_b64decode(auth.headers["X-Registry-Auth"]))
    assert header["password"] == SECRET
    words, hint = auth.explain(f"unauthorized: {USER}:{SECRET} refused")
    assert SECRET not in words and hint is not None
    assert "refused the credentials for registry.test" in words
    assert "docker login registry.test" in words and "web1" in hint
    other, none = auth.explain("manifest unknown")
    assert other == "manifest unknown" and none is None


def test_credentials_print_without_their_secret() -> None:
    creds = RegistryCredentials("auths in /x", USER, SECRET, identity_token="rt-9")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert SECRET not in text and "rt-9" not in text
    assert creds.redact(f"a {SECRET} b {BASIC.split()[1]} rt-9") == (
        "a [hidden] b [hidden] [hidden]")


@pytest.mark.parametrize(("header", "expected"), [
    ('Basic realm="registry"', ("basic", "registry", "", "")),
    ('Bearer realm="https://a/t",service="reg",scope="repository:x/y:pull,push"',
     ("bearer", "https://a/t", "reg", "repository:x/y:pull,push")),
    ("bearer realm=https://a/t, service=reg", ("bearer", "https://a/t", "reg", "")),
])
def test_challenges_parse(header: str, expected: tuple[str, str, str, str]) -> None:
    found = parse_challenge(header)
    assert found is not None
    assert (found.scheme, found.realm, found.service, found.scope) == expected
    assert parse_challenge('Negotiate abc') is None
