"""Tags and digests of an image repository, from its registry's v2 API (httpx).

The deploy picker offers a repository's tags, and every release records the digest a
tag pointed at, so a rollback never boots whatever a moving tag means today. Docker
Hub style token auth (a 401 with a Bearer challenge) is followed for anonymous pulls;
pagination follows the ``Link`` header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx

from opsui.domain.errors import ActionFailed
from opsui.domain.models import split_image
from opsui.domain.sanitize import clean

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
DOCKER_HUB = "registry-1.docker.io"
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
MAX_PAGES = 20


@dataclass(frozen=True)
class ImageRef:
    """``[registry/]repository[:tag]`` split the way Docker reads it."""

    registry: str
    repository: str
    tag: str

    @classmethod
    def parse(cls, ref: str) -> ImageRef:
        name, tag = split_image(ref)
        first, _, rest = name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, rest
        else:
            registry, repository = DOCKER_HUB, name
            if "/" not in repository:
                repository = f"library/{repository}"
        return cls(registry, repository, tag)


class RegistryClient:
    """Reads one registry; ``transport`` lets a remote host's view be used (over SSH)."""

    def __init__(self, registry: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 10.0) -> None:
        self.registry = registry
        scheme = "http" if registry.split(":")[0] in ("127.0.0.1", "localhost") else "https"
        self._client = httpx.Client(base_url=f"{scheme}://{registry}", transport=transport,
                                    timeout=timeout, follow_redirects=True)
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self._client.close()

    def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository`` (as the registry lists them)."""
        found: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n=1000"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            response = self._get(url, repository)
            body = response.json()
            found += [clean(str(t), 128) for t in (body.get("tags") or [])]
            link = _NEXT.search(response.headers.get("Link", ""))
            url = link.group(1) if link else None
        return found

    def digest(self, repository: str, tag: str) -> str:
        """The manifest digest ``repository:tag`` points at now."""
        response = self._get(f"/v2/{repository}/manifests/{tag}", repository, method="HEAD",
                             headers={"Accept": MANIFEST_TYPES})
        digest = response.headers.get("Docker-Content-Digest", "")
        if not digest.startswith("sha256:"):
            raise ActionFailed(f"{self.registry}: no digest for {repository}:{tag}")
        return clean(digest, 100)

    def _get(self, url: str, repository: str, method: str = "GET",
             headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._send(method, url, repository, headers or {})
            if response.status_code == 401 and repository not in self._tokens:
                self._tokens[repository] = self._token(response, repository)
                response = self._send(method, url, repository, headers or {})
        except httpx.HTTPError as exc:
            raise ActionFailed(f"registry {self.registry} unreachable: {clean(str(exc), 200)}",
                               hint="Check the registry address and that it is up; nothing "
                                    "was changed.") from None
        if response.status_code == 404:
            raise ActionFailed(f"{self.registry}: {repository} or that tag does not exist")
        if response.status_code >= 400:
            raise ActionFailed(f"{self.registry}: {method} {url} answered "
                               f"HTTP {response.status_code}")
        return response

    def _send(self, method: str, url: str, repository: str,
              headers: dict[str, str]) -> httpx.Response:
        token = self._tokens.get(repository)
        if token:
            headers = {**headers, "Authorization": f"Bearer {token}"}
        return self._client.request(method, url, headers=headers)

    def _token(self, response: httpx.Response, repository: str) -> str:
        """An anonymous pull token from the realm a Bearer challenge names."""
        challenge = response.headers.get("WWW-Authenticate", "")
        if not challenge.lower().startswith("bearer"):
            return ""
        fields = dict(_CHALLENGE.findall(challenge))
        realm = fields.get("realm")
        if not realm:
            return ""
        params = {"service": fields.get("service", ""), "scope": f"repository:{repository}:pull"}
        answer = self._client.get(realm, params=params)
        if answer.status_code != 200:
            return ""
        body = answer.json()
        return str(body.get("token") or body.get("access_token") or "")
