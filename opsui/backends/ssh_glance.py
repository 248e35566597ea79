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

With the socket remembered from a former launch (:mod:`opsui.backends.engine_socket_memory`)
the list goes over a streamlocal channel to it instead: no shell on the host at all before
the first rows. The host's CLI is asked right after (``SshHost.connect``).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping

import paramiko

from opsui.backends.docker_mapping import container_from_list
from opsui.backends.ssh import SshConnection
from opsui.backends.ssh_engine_channel import DISCOVER_AND_DIAL, DialStdioSocket, EngineEndpoint
from opsui.backends.ssh_streamlocal import StreamLocalRefused, open_streamlocal
from opsui.domain.errors import OpsuiError
from opsui.domain.models import Container

GLANCE_TIMEOUT = 2.0
"""Seconds for the list once the channel is open: an engine slower than this gets the
regular path (and its "did not answer" message) instead of a second wait."""


def glance_over(conn: SshConnection, remembered: str | None = None,
                timeout: float = GLANCE_TIMEOUT) -> tuple[list[Container], EngineEndpoint] | None:
    """The engine's containers over ``conn``, with the endpoint its first channel names;
    None when this path cannot tell (the caller connects as usual and says why).

    ``remembered``: the engine's socket as a former launch found it; the list then goes
    over a streamlocal channel to it (no shell, no CLI on the host), and the endpoint
    returned is that path, not asked (the caller asks before it trusts it further)."""
    if remembered is not None:
        channel = _socket_channel(conn, remembered, timeout)
        if channel is not None:
            try:
                rows = _list_over(channel)
            finally:
                channel.close()  # its one request is done
            if rows is not None:
                return rows, EngineEndpoint(remembered)
    try:
        first = DialStdioSocket(conn, timeout, DISCOVER_AND_DIAL)
    except OpsuiError:
        return None
    endpoint = EngineEndpoint()
    endpoint.watch(first, close_after=True)  # read by the client built after the frame
    rows = _list_over(first)
    if rows is None:
        endpoint.discard()
        return None
    return rows, endpoint


def _socket_channel(conn: SshConnection, path: str, timeout: float) -> DialStdioSocket | None:
    """A streamlocal channel to ``path`` as a socket; None when sshd would not open it
    (the socket is gone, forwarding is off)."""
    try:
        channel = open_streamlocal(conn.transport, path, timeout)
    except (StreamLocalRefused, paramiko.SSHException, EOFError, OSError, OpsuiError):
        return None
    return DialStdioSocket(conn, timeout, None, channel)


def _list_over(channel: DialStdioSocket) -> list[Container] | None:
    """``GET /containers/json?all=1`` over ``channel``; None when it did not answer so."""
    try:
        channel.sendall(b"GET /containers/json?all=1 HTTP/1.1\r\nHost: docker\r\n\r\n")
        response = http.client.HTTPResponse(channel)  # type: ignore[arg-type]
        response.begin()
        body = response.read()
        entries = json.loads(body) if response.status == 200 else None
    except (OSError, EOFError, paramiko.SSHException, http.client.HTTPException,
            ValueError, OpsuiError):
        return None
    if not isinstance(entries, list):
        return None
    return [container_from_list(entry) for entry in entries if isinstance(entry, Mapping)]
