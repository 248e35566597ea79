"""How a registry wants to be asked: its ``WWW-Authenticate`` challenge, and the token
request a Bearer challenge calls for (issue 13).

A v2 registry answers an unauthenticated request with 401 and a challenge:
``Basic realm="..."`` (htpasswd registries: send the credentials on every request) or
``Bearer realm="https://auth.example/token",service="...",scope="repository:R:pull"``
(Docker Hub, GitLab, Harbor...: fetch a token from the realm, with the credentials,
then send the token). An identity token (``docker login`` against an OAuth registry)
is exchanged at the realm with a ``refresh_token`` grant, as the docker CLI does.

Pure functions only: :class:`~opsui.backends.registry.RegistryClient` does the requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from opsui.backends.docker_credentials import RegistryCredentials

_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
CLIENT_ID = "opsui"
"""Sent as ``client_id`` with an identity token grant (the CLI sends "docker")."""


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate``: its scheme (lower case) and parameters."""

    scheme: str
    realm: str = ""
    service: str = ""
    scope: str = ""


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of ``header``; None when it is neither Basic nor Bearer."""
    scheme, _, rest = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("basic", "bearer"):
        return None
    params = {key.lower(): quoted if quoted or not bare else bare
              for key, quoted, bare in _PARAM.findall(rest)}
    return Challenge(scheme, params.get("realm", ""), params.get("service", ""),
                     params.get("scope", ""))


@dataclass(frozen=True)
class TokenRequest:
    """What to send to a Bearer realm: GET with query ``params`` (and Basic credentials
    in ``headers``), or, for an identity token, POST of ``form``."""

    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


def token_request(challenge: Challenge, repository: str,
                  credentials: RegistryCredentials | None, registry_host: str) -> TokenRequest:
    """The token request for a pull of ``repository``. Credentials go only to a realm
    that is https, on the registry's own host, or on loopback: a registry cannot
    have them sent in clear text to a third party."""
    scope = challenge.scope or f"repository:{repository}:pull"
    params = {"scope": scope}
    if challenge.service:
        params["service"] = challenge.service
    usable = credentials if credentials is not None and may_send_to(
        challenge.realm, registry_host) else None
    if usable is not None and usable.identity_token:
        form = {"grant_type": "refresh_token", "refresh_token": usable.identity_token,
                "client_id": CLIENT_ID, **params}
        return TokenRequest("POST", challenge.realm, {}, {}, form)
    headers = {"Authorization": usable.basic()} if usable is not None else {}
    return TokenRequest("GET", challenge.realm, params, headers, {})


def may_send_to(url: str, registry_host: str) -> bool:
    """Whether credentials for the registry at ``registry_host`` may go to ``url``."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    return parts.netloc == registry_host or (parts.hostname or "") in LOOPBACK


def token_of(document: dict[str, object]) -> str:
    """The token in a realm's answer (``token``, or OAuth's ``access_token``)."""
    found = document.get("token") or document.get("access_token") or ""
    return found if isinstance(found, str) else ""
