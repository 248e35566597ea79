"""Swarm service release history in the cluster's ``configs`` (see domain/swarm_history).

A config is written through one manager and replicated by raft to all of them, so the
history reads the same from any manager, and stays when the one opsui used is lost.
Configs are immutable: one per release, never edited; the oldest past KEEP of a
service are removed when a new one is written.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import docker.errors

from opsui.backends.docker_errors import CONNECTION_ERRORS, error_reason
from opsui.backends.docker_fields import mapping_or_empty
from opsui.domain.errors import ActionFailed, EngineUnavailable, OpsuiError
from opsui.domain.sanitize import clean
from opsui.domain.swarm_history import (
    AT_LABEL,
    FORMAT,
    HISTORY_LABEL,
    KEEP,
    RELEASE_LABEL,
    SERVICE_LABEL,
    StoredRelease,
    config_name,
    decode_release,
    encode_release,
    labels_of,
    newest_first,
    to_remove,
)

_T = TypeVar("_T")


class DockerSwarmHistory:
    """:class:`~opsui.domain.swarm_history.ClusterHistory` over docker-py's low-level
    API of a manager."""

    def __init__(self, api: Any, endpoint: str, keep: int = KEEP) -> None:
        self._api = api
        self._endpoint = endpoint
        self._keep = keep

    def _call(self, what: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except OpsuiError:
            raise
        except docker.errors.APIError as exc:
            raise ActionFailed(f"{what} in the swarm's configs: {error_reason(exc)}") from None
        except (*CONNECTION_ERRORS, docker.errors.DockerException) as exc:
            raise EngineUnavailable(f"no Docker engine answers at {self._endpoint}: "
                                    f"{error_reason(exc)}") from None

    def _stored(self, service: str) -> list[StoredRelease]:
        found = self._call("list the release history of " + clean(service, 100),
                           lambda: self._api.configs(filters={"label": [
                               f"{HISTORY_LABEL}={FORMAT}", f"{SERVICE_LABEL}={service}"]}))
        stored: list[StoredRelease] = []
        for config in found or []:
            spec = mapping_or_empty(mapping_or_empty(config).get("Spec"))
            labels = mapping_or_empty(spec.get("Labels"))
            if labels.get(SERVICE_LABEL) != service:
                continue  # the engine's filter, checked: the name is untrusted text
            try:
                data = base64.b64decode(str(spec.get("Data") or ""), validate=True)
            except (binascii.Error, ValueError):
                data = b""
            stored.append(StoredRelease(
                clean(str(spec.get("Name") or config.get("ID") or ""), 100), service,
                clean(str(labels.get(RELEASE_LABEL) or ""), 100),
                clean(str(labels.get(AT_LABEL) or ""), 64), data))
        return stored

    def release_records(self, service: str) -> tuple[Mapping[str, Any], ...]:
        records: list[Mapping[str, Any]] = []
        for stored in reversed(newest_first(self._stored(service))):
            records.extend(decode_release(stored.data, service))
        return tuple(records)

    def publish_release(self, service: str, release_id: str,
                        records: Sequence[Mapping[str, Any]]) -> None:
        began = next((str(r.get("at") or "") for r in records if r.get("type") == "release"),
                     "")
        data = encode_release(service, release_id, records)
        name = config_name(service, release_id, data)

        def create() -> None:
            try:
                self._api.create_config(name, data, labels=labels_of(service, release_id,
                                                                     began))
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # written already (a retry): configs never change
                    raise

        self._call(f"write release {clean(release_id, 100)} of {clean(service, 100)}", create)
        for old in to_remove(self._stored(service), self._keep):
            self._remove(old)

    def _remove(self, old: StoredRelease) -> None:
        def remove() -> None:
            with contextlib.suppress(docker.errors.NotFound):  # another opsui pruned it
                self._api.remove_config(old.name)

        self._call(f"remove {old.name}", remove)
