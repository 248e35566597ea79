"""A container's log stream from a plain engine endpoint, without the docker SDK.

``opsui --open NAME`` shows the container's last lines first; through the SDK they waited
for its import (CPU that competes with Textual's first frame), its ``/version`` round
trip, then the request (issue 14). A plain endpoint (the engine's Unix socket, or a
plain-HTTP ``tcp://`` engine: what :mod:`~opsui.backends.engine_glance` reads) needs none
of that: this module asks ``GET /containers/{id}/json`` whether the container has a TTY
(its log is then raw bytes, not multiplexed frames) and ``GET /containers/{id}/logs`` in
HTTP/1.0 on a socket of its own, and hands the body to the same reader as every other
path (:class:`~opsui.backends.docker_logs.DockerLogStream`).

It is the one follow path for plain endpoints, before and after the SDK connection
(:meth:`~opsui.backends.docker_engine.DockerEngine.logs` uses it too): a stream opened
before the connection keeps its socket for its whole life, nothing is swapped under it.
SSH and TLS engines keep the SDK's transports.

The engine's refusals become :mod:`opsui.domain.errors` types here, worded as the SDK
path words them; a transport failure is left as the OSError, for the caller, which
knows the endpoint's name, to explain.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from opsui.backends.docker_logs import DockerLogStream, request_plain_body, shut
from opsui.backends.engine_socket import EngineAddress, open_engine_socket
from opsui.domain.errors import ActionFailed, ContainerGone
from opsui.domain.sanitize import clean

MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""A longer answer to a plain request is not the engine's (a thousand containers list
in a few MB)."""


class EngineRefused(Exception):
    """The engine answered a request with an error status."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.reason = engine_reason(status, body)


def engine_reason(status: int, body: bytes) -> str:
    """The engine's ``message`` from an error answer's body, else the status code."""
    message = None
    with contextlib.suppress(ValueError, AttributeError):
        message = json.loads(body).get("message")
    return clean(str(message or f"HTTP {status}"), 300)


def engine_get(address: EngineAddress, path: str, timeout: float) -> Any:
    """The decoded JSON answer to ``GET path``; raises :class:`EngineRefused` for an
    error status, OSError when the engine is away or slower than ``timeout``."""
    body = request_plain_body(open_engine_socket(address, timeout), path, timeout, False)
    try:
        data = body.reader.read(MAX_ANSWER_BYTES + 1)
    finally:
        shut(body.sock)
    if body.status >= 400:
        raise EngineRefused(body.status, data)
    if len(data) > MAX_ANSWER_BYTES:
        raise ConnectionError(f"the engine's answer to {path} is too long")
    try:
        return json.loads(data)
    except ValueError:
        raise ConnectionError(f"the engine's answer to {path} is not JSON") from None


def container_path(container_id: str, what: str) -> str:
    return f"/containers/{quote(container_id, safe='')}/{what}"


def log_query(since: str | None, tail: int | None, follow: bool) -> str:
    """The query of a container's ``/logs`` request, for every path that asks it."""
    params: dict[str, str | int] = {
        "stdout": 1, "stderr": 1, "timestamps": 1, "follow": int(follow),
        "tail": "all" if tail is None else str(max(0, tail)), "since": since or "0"}
    return urlencode(params)


def _refused(container_id: str, exc: EngineRefused) -> Exception:
    if exc.status == 404:
        return ContainerGone(f"container {clean(container_id, 12)} no longer exists")
    return ActionFailed(f"logs {clean(container_id, 12)}: {exc.reason}")


def has_tty(address: EngineAddress, container_id: str, timeout: float) -> bool:
    """Whether the container runs with a TTY (``Config.Tty``): its log is then the raw
    bytes it wrote, with no stream headers to undo."""
    try:
        data = engine_get(address, container_path(container_id, "json"), timeout)
    except EngineRefused as exc:
        raise _refused(container_id, exc) from None
    config = data.get("Config") if isinstance(data, Mapping) else None
    return bool(config.get("Tty")) if isinstance(config, Mapping) else False


def open_engine_logs(address: EngineAddress, container_id: str, tag: int, *,
                     since: str | None, tail: int | None, follow: bool,
                     timeout: float) -> DockerLogStream:
    """A started stream of the container's log, on a socket of its own.

    ``timeout`` bounds connecting and each answer's head; a followed body then has no
    read bound. Raises ContainerGone (no such container), ActionFailed (another
    refusal) or OSError (the engine is away, refused, or silent).
    """
    tty = has_tty(address, container_id, timeout)
    path = f"{container_path(container_id, 'logs')}?{log_query(since, tail, follow)}"
    body = request_plain_body(open_engine_socket(address, timeout), path, timeout, follow)
    if body.status >= 400:
        error = body.read_error()
        shut(body.sock)
        raise _refused(container_id, EngineRefused(body.status, error))
    return DockerLogStream(body, body.reader, lambda: shut(body.sock), tag,
                           tty=tty, timestamps=True, chunked=False)
