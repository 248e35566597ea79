"""The engine's container events, for refreshing the dashboard without polling.

Which actions matter is decided once here and used twice: as the filter sent to the
engine (so it does not send the exec events of every health check) and when decoding
what arrives. :class:`DockerEventStream` is the port's ``EventStream``, closable from
any thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from opsui.backends.docker_fields import int_or_none, mapping_or_empty, time_from_epoch
from opsui.backends.docker_streams import cancel_stream
from opsui.domain.errors import EngineUnavailable
from opsui.domain.models import ContainerEvent, EventKind
from opsui.domain.sanitize import clean

# Actions that change what a row shows; others (exec_*, attach, top, resize...) are noise.
_CHANGING_ACTIONS = frozenset({
    "create", "start", "restart", "stop", "die", "kill", "pause", "unpause", "rename",
    "health_status", "oom", "update",
})


# Filtered by the engine too: health checks make exec_* events every interval for every
# container, and decoding those only to drop them costs idle CPU.
EVENT_FILTERS = {"type": ["container"], "event": sorted(_CHANGING_ACTIONS | {"destroy"})}


def event_from_dict(raw: Mapping[str, Any]) -> ContainerEvent | None:
    """One decoded engine event, or None when the dashboard has nothing to re-read."""
    if raw.get("Type", "container") != "container":
        return None
    action = str(raw.get("Action") or raw.get("status") or "")
    base = action.split(":", 1)[0].strip()
    if base == "destroy":
        kind = EventKind.REMOVED
    elif base in _CHANGING_ACTIONS:
        kind = EventKind.CHANGED
    else:
        return None
    actor = mapping_or_empty(raw.get("Actor"))
    container_id = actor.get("ID") or raw.get("id")
    if not container_id:
        return None
    nanos = int_or_none(raw.get("timeNano"))
    when = (datetime.fromtimestamp(nanos / 1e9, UTC) if nanos
            else time_from_epoch(raw.get("time")))
    return ContainerEvent(kind=kind, container_id=clean(str(container_id), 128),
                          action=clean(action, 64), time=when)


class DockerEventStream:
    """:class:`opsui.domain.ports.EventStream` over the SDK's ``CancellableStream``.

    ``close()`` shuts the socket down under the blocked reader, so the iterating thread
    wakes at once. The SDK refuses to cancel SSH (paramiko) streams; there the channel is
    closed directly, which ends the read just the same. Iteration that ends without
    ``close()`` means the engine dropped the stream: subscribe again and reconcile.
    """

    def __init__(
        self, raw: Any, unavailable: Callable[[BaseException], EngineUnavailable]
    ) -> None:
        self._raw = raw
        self._unavailable = unavailable
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[ContainerEvent]:
        try:
            for item in self._raw:
                if self._closed.is_set():
                    return
                if isinstance(item, Mapping):
                    event = event_from_dict(item)
                    if event is not None:
                        yield event
        except Exception as exc:
            if self._closed.is_set():
                return
            raise self._unavailable(exc) from None

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        cancel_stream(self._raw)
