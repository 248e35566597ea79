"""A connection of its own to a plain engine endpoint, without the docker SDK.

The stats feeds (:mod:`~opsui.backends.docker_stats`) and the launch's first list
(:mod:`~opsui.backends.engine_glance`) each talk to the engine on a socket they open
themselves: a Unix socket path, or the host and port of a plain-HTTP ``tcp://`` engine.
TLS and SSH engines are not plain; their callers go through the SDK's client.
"""

from __future__ import annotations

import socket

EngineAddress = str | tuple[str, int]
"""A Unix socket path, or (host, port) of a plain-HTTP engine."""


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
