"""The dashboard's first list, asked before the docker SDK is loaded (issue 14).

Loading the docker SDK (requests, urllib3, the SDK) costs more CPU than loading Textual,
and building its client asks the engine for its API version before anything else. The
first frame needs one thing from the engine: its container list. So a local launch asks
``GET /containers/json?all=1`` itself, with the standard library, over the engine's Unix
socket (or plain-HTTP ``tcp://``), maps the rows with the same code as the SDK path
(:func:`~opsui.backends.docker_mapping.container_from_list`), and the SDK loads after the
first frame, on the monitor's thread.

Anything this path does not handle (TLS, SSH, an error, a slow answer) returns None and
the monitor connects as always: it is a shortcut, never the only way in, and it says
nothing itself (the regular connection explains a missing engine).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
from collections.abc import Mapping
from urllib.parse import urlsplit

from opsui.backends.docker_mapping import container_from_list
from opsui.domain.models import Container

DEFAULT_SOCKET_PATH = "/var/run/docker.sock"
GLANCE_TIMEOUT = 1.0
"""Seconds for the whole glance: an engine slower than this gets the regular path (and
its "did not answer" message) instead of a second wait."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over the engine's Unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _connection(docker_host: str | None, timeout: float) -> http.client.HTTPConnection | None:
    """A connection to the engine ``docker_host`` (or DOCKER_HOST, or the default
    socket) names, when it is one this module can speak to without the SDK."""
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return None  # TLS settings: the SDK's client, configured from them
    url = docker_host or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET_PATH}"
    parts = urlsplit(url)
    if parts.scheme == "unix" and parts.path:
        return _UnixHTTPConnection(parts.path, timeout)
    if parts.scheme in ("tcp", "http") and parts.hostname:
        return http.client.HTTPConnection(parts.hostname, parts.port or 2375, timeout=timeout)
    return None


def glance_containers(docker_host: str | None,
                      timeout: float = GLANCE_TIMEOUT) -> list[Container] | None:
    """Every container of the engine, as the dashboard's table shows them; None when
    this path cannot tell (the caller connects as usual)."""
    conn = _connection(docker_host, timeout)
    if conn is None:
        return None
    try:
        conn.request("GET", "/containers/json?all=1", headers={"Host": "docker"})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return None
        entries = json.loads(body)
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()
    if not isinstance(entries, list):
        return None
    return [container_from_list(entry) for entry in entries if isinstance(entry, Mapping)]
