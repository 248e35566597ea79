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
from collections.abc import Mapping

from opsui.backends.docker_mapping import container_from_list
from opsui.backends.engine_socket import EngineAddress, open_engine_socket, plain_address
from opsui.domain.models import Container

GLANCE_TIMEOUT = 1.0
"""Seconds for the whole glance: an engine slower than this gets the regular path (and
its "did not answer" message) instead of a second wait."""


class _EngineHTTPConnection(http.client.HTTPConnection):
    """HTTP on a socket of its own to a plain engine endpoint."""

    def __init__(self, address: EngineAddress, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self._address = address
        self._seconds = timeout

    def connect(self) -> None:
        self.sock = open_engine_socket(self._address, self._seconds)


def glance_containers(docker_host: str | None,
                      timeout: float = GLANCE_TIMEOUT) -> list[Container] | None:
    """Every container of the engine, as the dashboard's table shows them; None when
    this path cannot tell (the caller connects as usual)."""
    address = plain_address(docker_host)
    if address is None:
        return None
    conn = _EngineHTTPConnection(address, timeout)
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
