"""A connection of its own to a plain engine endpoint, without the docker SDK.

The stats feeds (:mod:`~opsui.backends.docker_stats`), the launch's first list
(:mod:`~opsui.backends.engine_glance`) and the log feeds (:mod:`~opsui.backends.engine_logs`)
each talk to the engine on a socket they open
themselves: a Unix socket path, or the host and port of a plain-HTTP ``tcp://`` engine.
TLS and SSH engines are not plain; their callers go through the SDK's client.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

EngineAddress = str | tuple[str, int]
"""A Unix socket path, or (host, port) of a plain-HTTP engine."""

DEFAULT_SOCKET_PATH = "/var/run/docker.sock"


def plain_address(docker_host: str | None) -> EngineAddress | None:
    """The plain endpoint ``docker_host`` (or DOCKER_HOST, or the default socket) names;
    None for the ones that need the SDK (TLS settings, ssh://, named pipes)."""
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CERT_PATH"):
        return None  # TLS settings: the SDK's client, configured from them
    url = docker_host or os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET_PATH}"
    parts = urlsplit(url)
    if parts.scheme == "unix" and parts.path:
        return parts.path
    if parts.scheme in ("tcp", "http") and parts.hostname:
        return (parts.hostname, parts.port or 2375)
    return None


def open_engine_socket(address: EngineAddress, timeout: float) -> socket.socket:
    """A connected socket to ``address``; ``timeout`` bounds connecting and stays set."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET,
                             socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return sock
