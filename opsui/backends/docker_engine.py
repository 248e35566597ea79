"""The Docker engine of one host, through the docker SDK's low-level API.

Only the low-level ``client.api`` calls are used: ``containers(all=True)`` is one round
trip for the whole table, where ``client.containers.list()`` would inspect every
container. This module connects and makes the calls; turning the answers into domain
models lives in :mod:`~opsui.backends.docker_mapping`, :mod:`~opsui.backends.docker_events`
and :mod:`~opsui.backends.docker_stats`. Every docker/requests exception becomes an
:mod:`opsui.domain.errors` type here, so nothing above the backends knows either library.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import docker
import docker.errors
import requests.exceptions
import urllib3.exceptions
from docker.types.daemon import CancellableStream
from docker.utils import convert_filters, version_gte

from opsui.backends.docker_cli_stats import CliStatsFailed
from opsui.backends.docker_clone import clone_request, create_clone
from opsui.backends.docker_credentials import DockerCredentials
from opsui.backends.docker_errors import (
    CONNECTION_ERRORS,
    body_reason,
    engine_unavailable,
    error_reason,
    timed_out,
)
from opsui.backends.docker_events import EVENT_FILTERS, DockerEventStream
from opsui.backends.docker_fields import mapping_or_empty, parse_time
from opsui.backends.docker_front import DockerFront
from opsui.backends.docker_jobs import DockerJobs
from opsui.backends.docker_logs import DockerLogStream, open_log_stream
from opsui.backends.docker_mapping import (
    container_from_inspect,
    container_from_list,
    detail_from_inspect,
)
from opsui.backends.docker_service_logs import DockerServiceLogs
from opsui.backends.docker_stats import (
    FIRST_FRAME_WAIT,
    FeedAddress,
    FeedRefused,
    StatsFeed,
    open_feed,
    stats_from_dict,
)
from opsui.backends.docker_streams import keep_reading
from opsui.backends.docker_swarm import DockerSwarm, registry_auth_headers
from opsui.backends.docker_traffic import DockerTraffic
from opsui.backends.engine_logs import container_path, log_query, open_engine_logs
from opsui.backends.engine_socket import EngineAddress
from opsui.backends.registry import ImageRef, newest_first
from opsui.backends.registry_pull import PullAuth
from opsui.domain.daemon_pool import DaemonThreadPool
from opsui.domain.errors import (
    ActionFailed,
    ContainerGone,
    EngineUnavailable,
    HostError,
    OpsuiError,
)
from opsui.domain.host_clock import HostClock
from opsui.domain.models import Container, ContainerDetail, ContainerStats, split_image
from opsui.domain.ports import LocalImage
from opsui.domain.sanitize import clean

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# Room for the ordinary calls of many threads (and one-shot stats), so urllib3 never
# discards (and logs about) connections while the TUI owns the terminal.
POOL_SIZE = 64
MAX_STATS_FEEDS = 48  # beyond this, stats() makes one-shot requests
BULK_STATS_ATTEMPTS = 3
"""Bulk stats failing this many ticks in a row is given up for the engine's lifetime."""
PULL_STALL_SECONDS = 120.0
"""A pull whose progress stream says nothing this long has failed (the engine reports
progress several times a second while it downloads or extracts)."""
_T = TypeVar("_T")
BulkStats = Callable[[list[str]], dict[str, ContainerStats | None]]
"""Samples (None: not running) of every container asked about, at once."""
log = logging.getLogger(__name__)


def connect_local(docker_host: str | None, timeout: float = 10) -> docker.DockerClient:
    """A client for the engine at ``docker_host`` (or DOCKER_HOST / the default socket).

    Building the client asks the engine for its API version, so a missing engine fails
    here, with the socket or URL named, rather than on the first refresh. ``timeout``
    bounds every request of the client (connect, and each read); streams lift the read
    bound only once the engine has answered.
    """
    endpoint = describe_endpoint(docker_host)
    try:
        if docker_host is None:
            return docker.from_env(
                timeout=_seconds(timeout), version="auto", max_pool_size=POOL_SIZE
            )
        return docker.DockerClient(
            base_url=docker_host, timeout=_seconds(timeout), version="auto",
            max_pool_size=POOL_SIZE,
        )
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise engine_unavailable(endpoint, exc, _seconds(timeout)) from None


def _seconds(timeout: float) -> int:
    return max(1, math.ceil(timeout))


def _tags_of(entry: Mapping[str, Any], repository: str) -> list[LocalImage]:
    """The ``repository:tag`` names of one image-list entry as LocalImages."""
    prefix = f"{repository}:"
    created = entry.get("Created")
    when = (datetime.fromtimestamp(created, UTC)
            if isinstance(created, int) and created > 0 else None)
    image_id = clean(str(entry.get("Id") or ""), 100)
    return [LocalImage(clean(name[len(prefix):], 128), image_id, when)
            for name in entry.get("RepoTags") or []
            if isinstance(name, str) and name.startswith(prefix)]


def describe_endpoint(docker_host: str | None) -> str:
    """The socket or URL a client built from ``docker_host`` talks to, for messages."""
    return clean(docker_host or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET)


def _repo_digest(image: Mapping[str, Any], repository: str) -> str:
    """The digest the image has in ``repository`` (else in any repository)."""
    digests = [str(d) for d in image.get("RepoDigests") or []]
    wanted = [d for d in digests if d.split("@", 1)[0] == repository]
    return clean((wanted or digests or [""])[0].rpartition("@")[2], 100)


class DockerEngine:
    """:class:`opsui.domain.ports.ContainerEngine` over a ``docker.DockerClient``.

    Blocking; called from worker threads, and safe to share between them.

    Stats: the engine samples every container on one global 1 s tick, and any stats
    request, one-shot included, waits for the next tick (measured on Docker 20.10: a
    one-shot answers in about a second). Asked one container at a time that is up to a
    second each, so by default each container asked about gets a streaming feed (a
    connection of its own, no thread: see :mod:`~opsui.backends.docker_stats`) read
    when asked: the first ``stats()`` waits for one tick, later ones return at once,
    and a feed nobody asks about for ``stats_idle_seconds`` is closed. Feeds need a
    socket opsui can open itself (the local unix socket, plain HTTP); past
    ``max_stats_feeds`` feeds, on other transports (TLS), and where a held connection
    is costly (``max_stats_feeds=0``: one dial-stdio process per connection over SSH),
    a call is a one-shot request with CPU% from the delta to the previous call.
    :meth:`stats_many` overlaps the waits of many containers either way,
    or, given ``bulk_stats`` (over SSH: one ``docker stats`` command on the host, see
    :mod:`~opsui.backends.docker_cli_stats`), asks for all of them at once and falls
    back to the requests above for a tick where that fails.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        endpoint: str | None = None,
        *,
        max_stats_feeds: int = MAX_STATS_FEEDS,
        stats_idle_seconds: float = 30.0,
        bulk_stats: BulkStats | None = None,
        credentials: DockerCredentials | None = None,
    ) -> None:
        self._client = client
        self._credentials = credentials
        """The host's docker config, for pulls of private images (issue 13); None: the
        docker SDK's own lookup in this machine's config."""
        self._api = client.api
        self._endpoint = endpoint or clean(str(client.api.base_url))
        self._one_shot = version_gte(self._api.api_version, "1.41")
        self._max_feeds = max_stats_feeds
        self._stats_idle = stats_idle_seconds
        self._feeds: dict[str, StatsFeed] = {}
        self._feeds_lock = threading.Lock()
        self._cpu: dict[str, tuple[int, int, int]] = {}
        self._cpu_lock = threading.Lock()
        self._pool: DaemonThreadPool | None = None
        """For stats_many; kept, since one per call started up to 16 threads each time.
        Daemon threads: a sample waiting on a frozen engine never holds up quitting."""
        self._bulk = bulk_stats
        self._bulk_failures = 0
        self._clock = HostClock(self.system_time)

    @property
    def endpoint(self) -> str:
        """The socket or URL of this engine, as shown in error messages."""
        return self._endpoint

    def _unavailable(self, exc: BaseException) -> EngineUnavailable:
        return engine_unavailable(self._endpoint, exc, self._api.timeout)

    def _call(self, what: str, call: Callable[[], _T], container_id: str | None = None) -> _T:
        """Run one SDK call, translating its exceptions for ``what`` the operator asked."""
        try:
            return call()
        except OpsuiError:
            raise
        except docker.errors.NotFound:
            short = clean(container_id or "", 12)
            raise ContainerGone(f"container {short} no longer exists") from None
        except docker.errors.APIError as exc:
            if container_id is None:
                raise HostError(f"{self._endpoint}: {what} failed: {error_reason(exc)}") from None
            raise ActionFailed(f"{what} {clean(container_id, 12)}: {error_reason(exc)}") from None
        except (*CONNECTION_ERRORS, docker.errors.DockerException) as exc:
            raise self._unavailable(exc) from None

    def ping(self) -> float:
        started = time.perf_counter()
        self._call("ping", self._api.ping)
        return (time.perf_counter() - started) * 1000.0

    def system_time(self) -> datetime:
        """The engine's clock (``SystemTime`` of ``GET /info``: RFC 3339, nanoseconds).

        Over SSH this is the same API through the tunnel, so it is the remote host's."""
        info = self._call("read the engine's clock", self._api.info)
        when = parse_time(mapping_or_empty(info).get("SystemTime"))
        if when is None:
            raise HostError(f"{self._endpoint}: the engine did not report its time",
                            hint="opsui cannot tell whether this machine's clock agrees "
                                 "with the host's.")
        return when

    @property
    def clock(self) -> HostClock:
        return self._clock

    def list_containers(self) -> list[Container]:
        entries = self._call("list containers", lambda: self._api.containers(all=True))
        return [container_from_list(entry) for entry in entries if isinstance(entry, Mapping)]

    def get_container(self, container_id: str) -> Container | None:
        try:
            data = self._call("inspect", lambda: self._api.inspect_container(container_id),
                              container_id)
        except ContainerGone:
            return None
        return container_from_inspect(data)

    def inspect(self, container_id: str) -> ContainerDetail:
        data = self._call("inspect", lambda: self._api.inspect_container(container_id),
                          container_id)
        return detail_from_inspect(data)

    def stats(self, container_id: str) -> ContainerStats | None:
        with self._feeds_lock:
            feed = self._feeds.get(container_id)
            if feed is not None and feed.finished():
                del self._feeds[container_id]
                feed.close()
                feed = None
            crowded = len(self._feeds) >= self._max_feeds
        if feed is None:
            if crowded or self._feed_address is None:
                return self._sample_once(container_id)
            feed = self._open_feed(container_id)
            if feed is None:
                return None
        return feed.sample(FIRST_FRAME_WAIT)

    def stats_many(self, container_ids: Iterable[str]) -> dict[str, ContainerStats]:
        """Samples of many containers at once (None samples left out), in about one tick."""
        ids = list(dict.fromkeys(container_ids))
        self._forget_others(ids)
        if not ids:
            return {}
        bulk = self._bulk
        if bulk is not None:
            try:
                found = bulk(ids)
            except CliStatsFailed as exc:
                # One tick the slow way (a container removed meanwhile fails the whole
                # command); a host where it keeps failing is asked the slow way for good.
                self._bulk_failures += 1
                if self._bulk_failures >= BULK_STATS_ATTEMPTS:
                    self._bulk = None
                log.info("%s: bulk stats failed (%s); sampling one by one",
                         self._endpoint, exc)
            else:
                self._bulk_failures = 0
                return {cid: sample for cid, sample in found.items() if sample}
        with self._feeds_lock:
            # A feed holding a frame answers at once: read here, no thread hand-off.
            ready = [cid for cid in ids
                     if (feed := self._feeds.get(cid)) is not None and feed.ready()]
            waiting = [cid for cid in ids if cid not in set(ready)]
            if waiting and self._pool is None:
                self._pool = DaemonThreadPool(16, thread_name_prefix="opsui-stats")
            pool = self._pool
        sampled: dict[str, ContainerStats | None] = {cid: self.stats(cid) for cid in ready}
        if waiting and pool is not None:
            sampled.update(zip(waiting, pool.map(self.stats, waiting), strict=True))
        return {cid: sample for cid in ids if (sample := sampled.get(cid)) is not None}

    def _forget_others(self, asked: list[str]) -> None:
        """Drop what is kept for containers no longer asked about: ended feeds (a removed
        or restarted container's) and one-shot CPU counters. Otherwise both grow by one
        entry per container ever shown, for as long as opsui runs, and ended feeds count
        against ``max_stats_feeds`` until every container falls back to one-shot requests
        (issue 16). A live feed not asked about is closed once idle (finished)."""
        wanted = set(asked)
        with self._feeds_lock:
            ended = [cid for cid, feed in self._feeds.items()
                     if cid not in wanted and feed.finished()]
            feeds = [self._feeds.pop(cid) for cid in ended]
        for feed in feeds:
            feed.close()
        with self._cpu_lock:
            for cid in [cid for cid in self._cpu if cid not in wanted]:
                del self._cpu[cid]

    @functools.cached_property
    def _feed_address(self) -> FeedAddress | None:
        """Where a stats feed connects on its own (see :attr:`_plain_address`); None
        when feeds are off (``max_stats_feeds=0``)."""
        return self._plain_address if self._max_feeds > 0 else None

    @functools.cached_property
    def _plain_address(self) -> EngineAddress | None:
        """Where a request can connect on its own: the client's unix socket, or a
        plain-HTTP engine's host and port; None for other transports (TLS, SSH's
        dial-stdio channels, named pipes)."""
        base = str(self._api.base_url)
        if base.startswith("http+docker://"):
            adapter = self._api.adapters.get("http+docker://")
            if type(adapter).__name__ != "UnixHTTPAdapter":
                return None
            path = getattr(adapter, "socket_path", None)
            return path if isinstance(path, str) and path else None
        if base.startswith("http://"):
            parsed = urlsplit(base)
            if parsed.hostname and parsed.port:
                return (parsed.hostname, parsed.port)
        return None

    def _open_feed(self, container_id: str) -> StatsFeed | None:
        """A feed of one container's frames, on a connection of its own."""
        address = self._feed_address
        if address is None:
            return None
        try:
            feed = open_feed(address, str(self._api.api_version), container_id,
                             float(self._api.timeout), self._stats_idle)
        except FeedRefused as exc:
            if exc.status in (404, 409):  # gone, or not running
                return None
            raise ActionFailed(f"stats {clean(container_id, 12)}: {clean(exc.reason)}") from None
        except OSError as exc:
            raise self._unavailable(exc) from None
        with self._feeds_lock:
            current = self._feeds.get(container_id)
            if current is not None and not current.finished():
                feed.close()
                return current
            self._feeds[container_id] = feed
        return feed

    def _sample_once(self, container_id: str) -> ContainerStats | None:
        def sample() -> Any:
            try:
                if self._one_shot:
                    return self._api.stats(container_id, stream=False, one_shot=True)
                return self._api.stats(container_id, stream=False)
            except docker.errors.APIError as exc:
                if exc.status_code in (404, 409):  # gone, or not running
                    return None
                raise

        raw = self._call("stats", sample, container_id)
        with self._cpu_lock:
            previous = self._cpu.get(container_id)
            result = stats_from_dict(container_id, mapping_or_empty(raw), previous)
            if result is None:
                self._cpu.pop(container_id, None)
                return None
            fresh, counters = result
            self._cpu[container_id] = counters
        return fresh

    def events(self) -> DockerEventStream:
        """The engine's container events. Subscribing has the client's deadline like any
        request (docker-py's ``events()`` waits for the engine's answer for ever); the
        stream itself may be quiet for hours, and ends by ``close()`` from any thread."""
        def subscribe() -> Any:
            api: Any = self._api  # docker-py's stream helpers are not in the type stubs
            response = api._get(api._url("/events"),
                                params={"filters": convert_filters(EVENT_FILTERS)},
                                stream=True)
            keep_reading(api, response)
            return CancellableStream(api._stream_helper(response, decode=True), response)

        raw = self._call("watch events", subscribe)
        return DockerEventStream(raw, self._unavailable)

    def logs(self, container_id: str, *, tag: int, since: str | None = None,
             tail: int | None = None, follow: bool = True) -> DockerLogStream:
        """See :meth:`opsui.domain.ports.ContainerEngine.logs`.

        On a plain endpoint (the local socket, plain HTTP) the stream is read on a socket
        of its own with the standard library (:mod:`~opsui.backends.engine_logs`), the
        same path a feed takes before this client exists; elsewhere through the SDK's
        transport. A follow stream has no read timeout: a quiet container may say
        nothing for hours. A dead SSH link is noticed by the connection's watchdog,
        which closes the channel under the reader.
        """
        address = self._plain_address
        if address is not None:
            return self._call("logs", lambda: open_engine_logs(
                address, container_id, tag, since=since, tail=tail, follow=follow,
                timeout=float(self._api.timeout)), container_id)

        def open_stream() -> DockerLogStream:
            tty = bool(mapping_or_empty(
                self._api.inspect_container(container_id).get("Config")).get("Tty"))
            path = (f"/v{self._api.api_version}{container_path(container_id, 'logs')}"
                    f"?{log_query(since, tail, follow)}")
            return open_log_stream(
                self._api, path, self._plain_pool(f"{self._api.base_url}{path}"), tag,
                tty=tty, follow=follow,
                refused=lambda status, body: self._log_error(container_id, status, body))

        return self._call("logs", open_stream, container_id)

    def _plain_pool(self, url: str) -> Any:
        """The urllib3 pool behind ``url`` when it is a unix socket or dial-stdio channel
        (where a new connection per stream is cheap and ours); None otherwise (TCP/TLS
        engines take the chunked path through requests)."""
        try:
            adapter = self._api.get_adapter(url)
        except Exception:
            return None
        if type(adapter).__name__ not in ("UnixHTTPAdapter", "DialStdioAdapter"):
            return None
        return adapter.get_connection(url)  # type: ignore[attr-defined]

    def _log_error(self, container_id: str, status: int, body: bytes) -> None:
        if status == 404:
            raise docker.errors.NotFound(container_id)
        raise ActionFailed(f"logs {clean(container_id, 12)}: {body_reason(status, body)}")

    def start(self, container_id: str) -> None:
        self._call("start", lambda: self._api.start(container_id), container_id)

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._call("stop", lambda: self._api.stop(container_id, timeout=timeout), container_id)

    def restart(self, container_id: str, timeout: int = 10) -> None:
        self._call("restart", lambda: self._api.restart(container_id, timeout=timeout),
                   container_id)

    def pull(self, image: str, timeout: float = 600.0) -> str:
        """Pull ``image`` (``repo:tag``) and return the digest it resolved to.

        The engine streams progress as JSON lines and reports a failed pull (bad tag,
        registry down, auth) as an ``error`` line with HTTP 200, so every line is read.
        Raises ActionFailed with the registry's words; nothing is changed on failure.
        """
        repository, tag = split_image(image)

        hint = "Check the tag and that the registry answers; nothing was changed."
        creds = (PullAuth.lookup(self._credentials, ImageRef.parse(image).registry)
                 if self._credentials else None)
        auth = creds.headers if creds else registry_auth_headers(self._api, repository)

        def failed(said: str) -> ActionFailed:
            words, login = creds.explain(said) if creds else (said, None)
            return ActionFailed(f"pull {clean(image, 200)}: {words}", hint=login or hint)

        def pull() -> str:
            # docker-py's pull() waits for the engine for ever; this is the same request
            # with a deadline for the answer and for each piece of progress after it.
            api: Any = self._api
            try:
                response = api._post(api._url("/images/create"),
                                     params={"fromImage": repository, "tag": tag},
                                     headers=auth,
                                     stream=True, timeout=(api.timeout, PULL_STALL_SECONDS))
                api._raise_for_status(response)
                for event in api._stream_helper(response, decode=True):
                    if isinstance(event, Mapping) and event.get("error"):
                        raise failed(clean(str(event["error"]), 300))
                found = self._api.inspect_image(  # type: ignore[no-untyped-call]
                    f"{repository}:{tag}")
            except docker.errors.APIError as exc:
                raise failed(error_reason(exc)) from None
            except (*CONNECTION_ERRORS, urllib3.exceptions.HTTPError) as exc:
                if not timed_out(exc):  # urllib3's own errors, raised from the stream too
                    raise self._unavailable(exc) from None
                raise ActionFailed(f"pull {clean(image, 200)}: no progress from the engine "
                                   f"for {PULL_STALL_SECONDS:g} s", hint=hint) from None
            return _repo_digest(found, repository)

        return self._call("pull", pull)

    def image_digest(self, image: str) -> str:
        """The registry digest of a local image (``repo:tag`` or id), or "" when it was
        never pushed or pulled: what a release records when opsui did not pull it."""
        def look() -> str:
            try:
                found = self._api.inspect_image(image)  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                return ""
            return _repo_digest(found, split_image(image)[0])

        return self._call("inspect image", look)

    def create_like(self, container_id: str, image: str, name: str,
                    labels: dict[str, str]) -> str:
        def create() -> str:
            old = self._api.inspect_container(container_id)
            old_image = self._api.inspect_image(  # type: ignore[no-untyped-call]
                str(old.get("Image")))
            return create_clone(self._api, clone_request(old, old_image, image, name, labels))

        return self._call("create", create, container_id)

    def copy_container(self, container_id: str, name: str,
                       relabel: Callable[[dict[str, str]], dict[str, str]]) -> str:
        """A stopped copy with the same image id and config, labels ``relabel``-ed:
        how a kept release leaves compose's reach (see operations/compose_keep.py)."""
        def create() -> str:
            old = self._api.inspect_container(container_id)
            image_id = str(old.get("Image"))
            old_image = self._api.inspect_image(image_id)  # type: ignore[no-untyped-call]
            ref = str((old.get("Config") or {}).get("Image") or "")
            body = clone_request(old, old_image, self._same_image(ref, image_id), name)
            raw = (old.get("Config") or {}).get("Labels") or {}
            body["Labels"] = relabel({str(k): str(v) for k, v in raw.items()})
            return create_clone(self._api, body)

        return self._call("copy", create, container_id)

    def _same_image(self, ref: str, image_id: str) -> str:
        """``ref`` (repo:tag, as ``docker ps`` and compose show it) while it still names
        ``image_id``; else the id itself: a copy boots the exact image, never another."""
        try:
            found = self._api.inspect_image(ref) if ref else {}  # type: ignore[no-untyped-call]
        except docker.errors.DockerException:
            return image_id
        return ref if found.get("Id") == image_id else image_id

    def rename(self, container_id: str, name: str) -> None:
        self._call("rename", lambda: self._api.rename(container_id, name), container_id)

    def remove(self, container_id: str) -> None:
        """Remove a stopped container, keeping its volumes: retention prunes old
        releases, and a running one or its data is never collateral (the engine refuses
        a running container, which becomes ActionFailed)."""
        self._call("remove", lambda: self._api.remove_container(
            container_id, v=False, force=False), container_id)

    def image_exists(self, ref: str) -> bool:
        """Whether ``ref`` is on the host, so rollback knows it can boot without a pull."""
        def look() -> bool:
            try:
                self._api.inspect_image(ref)  # type: ignore[no-untyped-call]
            except docker.errors.NotFound:
                return False
            except docker.errors.APIError as exc:  # e.g. an invalid reference
                raise ActionFailed(f"inspect image {clean(ref, 200)}: "
                                   f"{error_reason(exc)}") from None
            return True

        return self._call("inspect image", look)

    def local_tags(self, repository: str) -> list[LocalImage]:
        """Tags of ``repository`` on the host, newest first: the picker offers them
        beside the registry's, since they deploy without a pull."""
        entries = self._call("list images", lambda: self._api.images(name=repository))
        found = [image for entry in entries if isinstance(entry, Mapping)
                 for image in _tags_of(entry, repository)]
        return newest_first(found)

    @property
    def swarm(self) -> DockerSwarm:
        """This engine's Swarm services, over the same client (and so the same link)."""
        return DockerSwarm(self._client, credentials=self._credentials)

    @property
    def service_logs(self) -> DockerServiceLogs:
        """A Swarm service's logs merged across nodes by this manager (issue 15), on
        connections of this engine's own kind (see :meth:`logs`)."""
        return DockerServiceLogs(self._api, self._endpoint, self._plain_pool,
                                 self.swarm.cluster)

    @property
    def traffic(self) -> DockerTraffic:
        """Network aliases and proxy reloads (a switch with drain), same client."""
        return DockerTraffic(self._api, self._call)

    @property
    def front(self) -> DockerFront:
        """Published ports, networks, copies and the front proxy (``opsui front``)."""
        return DockerFront(self._api, self._call)

    @property
    def jobs(self) -> DockerJobs:
        """One-off commands (migrations) over the same client and link."""
        return DockerJobs(self._api, self)

    def close(self) -> None:
        with self._feeds_lock:
            feeds, self._feeds = list(self._feeds.values()), {}
            pool, self._pool = self._pool, None
        for feed in feeds:
            feed.close()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self._client.close()
