"""Tags, digests and build times of an image repository, from its registry's v2 API (httpx).

The deploy picker offers a repository's tags, newest first, and every release records
the digest a tag pointed at, so a rollback never boots whatever a moving tag means
today. A 401's challenge is answered the way the host's docker CLI would
(:mod:`~opsui.backends.registry_auth`): Basic with the credentials of its docker config
(:mod:`~opsui.backends.docker_credentials`), or a Bearer token from the realm, fetched
with them (or anonymously when there are none); pagination follows the ``Link`` header.
A refusal names the registry and where to run ``docker login``.

A registry is a remote party: every answer is read with a size cap and a wall-clock
limit, digests are checked before they go into a URL, and whatever it says is passed
through :func:`~opsui.domain.sanitize.clean` before an operator reads it.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from opsui.backends.docker_credentials import DockerCredentials, RegistryCredentials
from opsui.backends.registry_auth import Challenge, parse_challenge, token_of, token_request
from opsui.domain.daemon_pool import DaemonThreadPool
from opsui.domain.errors import ActionFailed
from opsui.domain.models import split_image
from opsui.domain.ports import LocalImage
from opsui.domain.sanitize import clean

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
DOCKER_HUB = "registry-1.docker.io"
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
"""The tag grammar of the distribution spec: anything else would change the URL it goes in."""
MAX_PAGES = 20
MAX_BODY_BYTES = 4 * 1024 * 1024
"""A tags page, a manifest or an image config is far smaller; a bigger answer is refused
rather than held in memory."""
ANSWER_SECONDS = 30.0
"""Wall-clock limit on one answer's body: httpx's timeouts are per read, so a registry
trickling a byte at a time would otherwise hold the picker's worker forever."""
MAX_TAGS = 100
"""Tags the picker offers: the highest by version order."""
MAX_DATED = 30
"""Tags whose build time is fetched (two requests each): the highest by version order."""
DATE_WORKERS = 6
"""Concurrent build-time lookups; below the SSH transport's ten pooled tunnels."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)

TransportFactory = Callable[[], httpx.BaseTransport]
"""Makes a fresh transport per lookup (the client closes it), e.g. a tunnel through SSH."""


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


@dataclass(frozen=True)
class _Answer:
    """A registry's answer, its body read whole within the caps."""

    status_code: int
    headers: httpx.Headers
    body: bytes

    def document(self, what: str) -> dict[str, Any]:
        """The body as a JSON object; ActionFailed when it is not one."""
        try:
            doc = json.loads(self.body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise ActionFailed(f"{what}: the registry did not answer a JSON object")
        return doc


def _read_capped(response: httpx.Response, what: str) -> bytes:
    """The body, refused past MAX_BODY_BYTES or ANSWER_SECONDS."""
    deadline = time.monotonic() + ANSWER_SECONDS
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ActionFailed(f"{what}: answer larger than {MAX_BODY_BYTES // 1024} KiB; "
                               "refused")
        if time.monotonic() > deadline:
            raise ActionFailed(f"{what}: answer took longer than {ANSWER_SECONDS:g} s; "
                               "gave up")
        chunks.append(chunk)
    return b"".join(chunks)


def registry_words(body: bytes) -> str:
    """The registry's own explanation in an error body (``{"errors": [{"code",
    "message"}]}`` per the distribution spec, else the text), sanitised, or ""."""
    try:
        doc = json.loads(body)
    except ValueError:
        return clean(body.decode("utf-8", errors="replace").strip(), 200)
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return ""
    words = [str(e.get("message") or e.get("code") or "") for e in errors[:3]
             if isinstance(e, Mapping)]
    return clean("; ".join(w for w in words if w), 200)


def parse_created(value: object) -> datetime | None:
    """An image config's ``created`` as an aware datetime; None when missing or useless.

    Reproducible builds stamp the epoch (and Go's zero time shows up too): those say
    nothing about when the image was built, so they count as unknown.
    """
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip()[:64])
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when if when > _EPOCH else None


def pick_manifest(index: Mapping[str, Any]) -> str | None:
    """The digest to follow in an image index: linux/amd64, else the first real entry.

    BuildKit's attestation manifests (platform unknown/unknown) have no image config
    worth reading, so they are skipped.
    """
    entries = [e for e in index.get("manifests") or []
               if isinstance(e, Mapping) and _DIGEST.fullmatch(str(e.get("digest", "")))]

    def platform(entry: Mapping[str, Any]) -> tuple[str, str]:
        found = entry.get("platform")
        found = found if isinstance(found, Mapping) else {}
        return str(found.get("os", "")), str(found.get("architecture", ""))

    amd64 = [e for e in entries if platform(e) == ("linux", "amd64")]
    real = [e for e in entries if platform(e)[0] != "unknown"]
    return str((amd64 or real)[0]["digest"]) if amd64 or real else None


class RegistryClient:
    """Reads one registry; ``transport`` lets a remote host's view be used (over SSH).

    ``credentials`` is the docker config of the host whose engine pulls (None: ask
    anonymously, as before issue 13). They are looked up at the first 401 only, so a
    public registry never costs a helper run. Safe to share between threads once
    ``tags`` has run for a repository (its token, if any, is then known).
    """

    def __init__(self, registry: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 10.0, credentials: DockerCredentials | None = None) -> None:
        self.registry = registry
        scheme = "http" if registry.split(":")[0] in ("127.0.0.1", "localhost") else "https"
        self._client = httpx.Client(base_url=f"{scheme}://{registry}", transport=transport,
                                    timeout=timeout, follow_redirects=True)
        self._tokens: dict[str, str] = {}
        self._store = credentials
        self._credentials: RegistryCredentials | None = None
        self._looked_up = False
        self._basic = ""
        self._auth_lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository`` (as the registry lists them)."""
        found: list[str] = []
        url: str | None = f"/v2/{repository}/tags/list?n=1000"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            answer = self._get(url, repository)
            listed = answer.document(f"{self.registry}: tags of {repository}").get("tags")
            found += [clean(str(t), 128) for t in (listed if isinstance(listed, list) else [])]
            url = self._next_page(answer.headers.get("Link", ""))
        return found

    def _next_page(self, link: str) -> str | None:
        """The ``Link: <...>; rel="next"`` target, only on this registry: a page must not
        send our token (or the picker) to another host."""
        found = _NEXT.search(link)
        if found is None:
            return None
        target = urlsplit(found.group(1))
        if target.netloc and target.netloc != self._client.base_url.netloc.decode():
            return None
        return target.path + (f"?{target.query}" if target.query else "")

    def digest(self, repository: str, tag: str) -> str:
        """The manifest digest ``repository:tag`` points at now."""
        answer = self._get(f"/v2/{repository}/manifests/{tag}", repository, method="HEAD",
                           headers={"Accept": MANIFEST_TYPES})
        digest = answer.headers.get("Docker-Content-Digest", "")
        if not digest.startswith("sha256:"):
            raise ActionFailed(f"{self.registry}: no digest for {repository}:{tag}")
        return clean(digest, 100)

    def created(self, repository: str, tag: str) -> datetime | None:
        """When ``repository:tag`` was built (its image config's ``created``), if it says."""
        return self.image_config(repository, tag)[1]

    def image_config(self, repository: str, tag: str) -> tuple[str, datetime | None]:
        """The config digest (Docker's image id) and build time of ``repository:tag``.

        An index (multi-platform image) is followed to its linux/amd64 entry, or the
        first one. ``("", None)`` for what has no image config (old schema 1 manifests,
        non-image artifacts). Three small requests: manifest(s), then the config blob.
        """
        manifest = self._manifest(repository, tag)
        if "manifests" in manifest:
            chosen = pick_manifest(manifest)
            if chosen is None:
                return "", None
            manifest = self._manifest(repository, chosen)
        config = manifest.get("config")
        digest = str(config.get("digest", "")) if isinstance(config, Mapping) else ""
        if not _DIGEST.fullmatch(digest):
            return "", None
        blob = self._get(f"/v2/{repository}/blobs/{digest}", repository)
        found = blob.document(f"{self.registry}: config of {repository}:{tag}")
        return digest, parse_created(found.get("created"))

    def _manifest(self, repository: str, reference: str) -> dict[str, Any]:
        answer = self._get(f"/v2/{repository}/manifests/{reference}", repository,
                           headers={"Accept": MANIFEST_TYPES})
        return answer.document(f"{self.registry}: manifest of {repository}:{reference}")

    def _get(self, url: str, repository: str, method: str = "GET",
             headers: dict[str, str] | None = None) -> _Answer:
        try:
            answer = self._send(method, url, repository, headers or {})
            if answer.status_code == 401 and self._authenticate(answer, repository):
                answer = self._send(method, url, repository, headers or {})
        except httpx.HTTPError as exc:
            raise ActionFailed(f"registry {self.registry} unreachable: {clean(str(exc), 200)}",
                               hint="Check the registry address and that it is up; nothing "
                                    "was changed.") from None
        if answer.status_code >= 400:
            raise self._refused(answer, method, url, repository)
        return answer

    def _refused(self, answer: _Answer, method: str, url: str,
                 repository: str) -> ActionFailed:
        words = registry_words(answer.body)
        if self._credentials is not None:  # a registry may quote what it was sent
            words = self._credentials.redact(words)
        said = f": {words}" if words else ""
        if answer.status_code == 404:
            return ActionFailed(f"{self.registry}: {repository} or that tag does not "
                                f"exist{said}")
        if answer.status_code in (401, 403):
            return self._access_refused(repository, answer.status_code, said)
        return ActionFailed(f"{self.registry}: {method} {clean(url, 200)} answered "
                            f"HTTP {answer.status_code}{said}")

    def _access_refused(self, repository: str, status: int, said: str) -> ActionFailed:
        """A 401/403: which registry, with which credentials, and where to log in."""
        what = f"{self.registry}: {repository}: access refused (HTTP {status}){said}"
        if self._store is None:
            return ActionFailed(what, hint="opsui reads registries anonymously; this "
                                           "repository needs credentials.")
        if self._credentials is not None:
            why = f"the credentials from {self._credentials.source} were refused"
        else:
            why = self._store.describe_none(self.registry)
        place = self._store.place
        return ActionFailed(f"{what}; {why}; {place.advice(self.registry)}",
                            hint=place.hint(self.registry))

    def _authenticate(self, answer: _Answer, repository: str) -> bool:
        """Answer a 401's challenge; True when the request is worth sending again."""
        challenge = parse_challenge(answer.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return False
        with self._auth_lock:
            credentials = self._lookup()
            if challenge.scheme == "basic":
                if self._basic or credentials is None or not credentials.password:
                    return False
                self._basic = credentials.basic()
                return True
            if repository in self._tokens or not challenge.realm:
                return False
            self._tokens[repository] = self._token(challenge, repository, credentials)
            return bool(self._tokens[repository])

    def _lookup(self) -> RegistryCredentials | None:
        """The credentials, looked up once (a helper run, or a read over SSH)."""
        if not self._looked_up and self._store is not None:
            self._credentials = self._store.get(self.registry)
            self._looked_up = True
        return self._credentials

    def _send(self, method: str, url: str, repository: str,
              headers: dict[str, str]) -> _Answer:
        token = self._tokens.get(repository)
        if token:
            headers = {**headers, "Authorization": f"Bearer {token}"}
        elif self._basic:
            headers = {**headers, "Authorization": self._basic}
        return self._fetch(method, url, headers=headers)

    def _fetch(self, method: str, url: str, *, headers: dict[str, str] | None = None,
               params: dict[str, str] | None = None,
               form: dict[str, str] | None = None) -> _Answer:
        what = f"{self.registry}: {method} {clean(url.split('?')[0], 200)}"
        with self._client.stream(method, url, headers=headers, params=params,
                                 data=form) as response:
            body = _read_capped(response, what)
        return _Answer(response.status_code, response.headers, body)

    def _token(self, challenge: Challenge, repository: str,
               credentials: RegistryCredentials | None) -> str:
        """A pull token from the realm a Bearer challenge names: with the credentials
        when there are some (a refusal then says so), else anonymous ("" if refused)."""
        netloc = self._client.base_url.netloc.decode()
        request = token_request(challenge, repository, credentials, netloc)
        reply = self._fetch(request.method, request.url, headers=request.headers,
                            params=request.params, form=request.form or None)
        if reply.status_code in (401, 403) and credentials is not None:
            raise self._access_refused(repository, reply.status_code,
                                       " from its token service")
        if reply.status_code != 200:
            return ""
        try:
            body = reply.document("token")
        except ActionFailed:
            return ""
        return token_of(body)


# ------------------------------------------------------------------ tag ordering

VersionKey = tuple[tuple[int, ...], int, tuple[tuple[int, int, str], ...]]
_VERSION = re.compile(r"[vV]?(\d+(?:\.\d+)*)(.*)")
_CHUNK = re.compile(r"\d+|\D+")


def version_key(tag: str) -> VersionKey | None:
    """A key that orders version tags naturally (9.1.0 < 10.0.0), or None for tags that
    are no version (``latest``, ``main``, ``sha-1a2b``).

    A suffix makes a pre-release of the same numbers (``1.0.0-rc1`` < ``1.0.0``), and
    suffixes compare naturally among themselves (``-rc2`` < ``-rc10``).
    """
    match = _VERSION.fullmatch(tag)
    if match is None:
        return None
    numbers = tuple(int(part) for part in match.group(1).split("."))
    suffix = match.group(2)
    chunks = tuple((0, int(c), "") if c.isdigit() else (1, 0, c.lower())
                   for c in _CHUNK.findall(suffix))
    return numbers, 0 if suffix else 1, chunks


def by_version(tags: Iterable[str]) -> list[str]:
    """Tags, once each, highest version first; tags that are no version last, by name."""
    keyed = [(version_key(tag), tag) for tag in dict.fromkeys(tags)]
    versions = sorted(((key, tag) for key, tag in keyed if key is not None), reverse=True)
    return [tag for _, tag in versions] + sorted(tag for key, tag in keyed if key is None)


def newest_first(images: Iterable[LocalImage]) -> list[LocalImage]:
    """Images with a build time first, newest first (same time: higher version first),
    then the rest in :func:`by_version` order. Pure, so the picker's order is testable."""
    items = list(images)
    rank = {tag: place for place, tag in enumerate(by_version(i.tag for i in items))}

    def dated_key(image: LocalImage) -> tuple[float, int]:
        assert image.created is not None
        return -image.created.timestamp(), rank[image.tag]

    dated = sorted((i for i in items if i.created is not None), key=dated_key)
    undated = sorted((i for i in items if i.created is None), key=lambda i: rank[i.tag])
    return dated + undated


# ------------------------------------------------------------------ the port


class RegistryTags:
    """:class:`opsui.domain.ports.ImageTags` over :class:`RegistryClient`.

    Lists a repository's tags, keeps the ``max_tags`` highest by version, and reads the
    build time of the ``max_dated`` highest (two or three requests each, so a few at a
    time on ``workers`` threads). A tag whose date cannot be read is still offered,
    undated: one broken manifest should not hide the others. ``transport_factory``
    makes the network path per lookup; over SSH it tunnels from the remote host, so
    the registry is reached the way that host's engine reaches it. ``credentials`` is
    that host's docker config (its user's, over SSH).
    """

    def __init__(self, transport_factory: TransportFactory | None = None, *,
                 timeout: float = 10.0, max_tags: int = MAX_TAGS, max_dated: int = MAX_DATED,
                 workers: int = DATE_WORKERS,
                 credentials: DockerCredentials | None = None) -> None:
        self._transport_factory = transport_factory
        self._credentials = credentials
        self._timeout = timeout
        self._max_tags = max_tags
        self._max_dated = max_dated
        self._workers = max(1, workers)

    def tags(self, image: str) -> list[LocalImage]:
        ref = ImageRef.parse(image)
        transport = self._transport_factory() if self._transport_factory else None
        client = RegistryClient(ref.registry, transport=transport, timeout=self._timeout,
                                credentials=self._credentials)
        try:
            names = by_version(t for t in client.tags(ref.repository) if _TAG.fullmatch(t))
            names = names[: self._max_tags]
            dated = self._dates(client, ref.repository, names[: self._max_dated])
        finally:
            client.close()
        return newest_first(dated.get(name) or LocalImage(name, "") for name in names)

    def _dates(self, client: RegistryClient, repository: str,
               names: list[str]) -> dict[str, LocalImage]:
        if not names:
            return {}
        # Daemon threads: a lookup waiting on a slow registry never holds up quitting.
        with DaemonThreadPool(min(self._workers, len(names)),
                              thread_name_prefix="opsui-registry") as pool:
            found = pool.map(lambda name: _dated(client, repository, name), names)
            return {image.tag: image for image in found}


def _dated(client: RegistryClient, repository: str, tag: str) -> LocalImage:
    """``tag`` with its config digest and build time; undated when they cannot be read."""
    try:
        digest, created = client.image_config(repository, tag)
    except ActionFailed as exc:
        log.info("%s: no build time for %s:%s: %s", client.registry, repository, tag, exc)
        return LocalImage(tag, "")
    return LocalImage(tag, digest, created)
