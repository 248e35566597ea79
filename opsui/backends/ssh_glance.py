"""An SSH host's first list, asked before the docker SDK is loaded (issue 14).

The local launch lists the engine's containers with the standard library before the
SDK loads (:mod:`opsui.backends.engine_glance`); this is the same for a host over SSH.
On the SSH connection the host's client will use, one channel runs the first
``docker system dial-stdio`` (which also names the engine's socket, see
:class:`~opsui.backends.ssh_engine_channel.EngineEndpoint`), and
``GET /containers/json?all=1`` goes over it with ``http.client``. The rows are mapped
by the SDK path's own :func:`~opsui.backends.docker_mapping.container_from_list`; the
connection and the endpoint are handed to the docker client built after the first frame,
so the glance costs no second handshake and no second shell on the host.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping

import paramiko

from opsui.backends.docker_mapping import container_from_list
from opsui.backends.ssh import SshConnection
from opsui.backends.ssh_engine_channel import DISCOVER_AND_DIAL, DialStdioSocket, EngineEndpoint
from opsui.domain.errors import OpsuiError
from opsui.domain.models import Container

GLANCE_TIMEOUT = 2.0
"""Seconds for the list once the channel is open: an engine slower than this gets the
regular path (and its "did not answer" message) instead of a second wait."""


def glance_over(conn: SshConnection,
                timeout: float = GLANCE_TIMEOUT) -> tuple[list[Container], EngineEndpoint] | None:
    """The engine's containers over ``conn``, with the endpoint its first channel names;
    None when this path cannot tell (the caller connects as usual and says why)."""
    try:
        first = DialStdioSocket(conn, timeout, DISCOVER_AND_DIAL)
    except OpsuiError:
        return None
    endpoint = EngineEndpoint()
    endpoint.watch(first, close_after=True)
    try:
        first.sendall(b"GET /containers/json?all=1 HTTP/1.1\r\nHost: docker\r\n\r\n")
        response = http.client.HTTPResponse(first)  # type: ignore[arg-type]
        response.begin()
        body = response.read()
        entries = json.loads(body) if response.status == 200 else None
    except (OSError, EOFError, paramiko.SSHException, http.client.HTTPException,
            ValueError, OpsuiError):
        entries = None
    if not isinstance(entries, list):
        endpoint.discard()
        return None
    rows = [container_from_list(entry) for entry in entries if isinstance(entry, Mapping)]
    return rows, endpoint
