"""Channels to a Unix socket on the SSH host (OpenSSH's ``direct-streamlocal``).

A ``docker system dial-stdio`` channel is a session on the host: sshd starts the
user's shell (which may read a .bashrc: a third of a second and more on a loaded
host) and the docker CLI, for every HTTP connection. A streamlocal channel is sshd
connecting to the engine's socket itself, in one round trip, with no process at all,
and with the same rights (sshd connects as the logged-in user). With twenty hosts
those processes are most of the launch, so once a host's engine socket is known
(see :mod:`opsui.backends.ssh_docker`) its further connections come from here.

paramiko opens only the channel types it knows; this sends the open request itself
(RFC 4254 5.1, with OpenSSH's payload: socket path, reserved string, reserved
uint32) and otherwise does what ``Transport.open_channel`` does.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import paramiko
from paramiko.common import cMSG_CHANNEL_OPEN
from paramiko.message import Message

KIND = "direct-streamlocal@openssh.com"


class StreamLocalRefused(Exception):
    """The host would not connect to that socket (forwarding off, no such socket...)."""


def open_streamlocal(transport: paramiko.Transport, path: str,
                     timeout: float) -> paramiko.Channel:
    """A channel connected to the Unix socket ``path`` on the host.

    StreamLocalRefused when sshd refused it; paramiko's SSHException/EOFError when
    the transport failed meanwhile (as for any channel)."""
    t: Any = transport  # paramiko's private channel bookkeeping is not in its stubs
    if not t.active:
        raise paramiko.SSHException("SSH session not active")
    with transport.lock:
        window = t._sanitize_window_size(None)
        packet = t._sanitize_packet_size(None)
        chanid = t._next_channel()
        message = Message()
        message.add_byte(cMSG_CHANNEL_OPEN)
        message.add_string(KIND)
        message.add_int(chanid)
        message.add_int(window)
        message.add_int(packet)
        message.add_string(path)
        message.add_string("")
        message.add_int(0)
        channel: Any = paramiko.Channel(chanid)
        t._channels.put(chanid, channel)
        t.channel_events[chanid] = event = threading.Event()
        t.channels_seen[chanid] = True
        channel._set_transport(transport)
        channel._set_window(window, packet)
    t._send_user_message(message)
    deadline = time.monotonic() + timeout
    while not event.wait(0.1):
        if not t.active:
            raise transport.get_exception() or paramiko.SSHException("channel failed")
        if time.monotonic() > deadline:
            raise paramiko.SSHException("Timeout opening channel.")
    opened = t._channels.get(chanid)
    if opened is None:
        if not t.active:
            raise transport.get_exception() or paramiko.SSHException("channel failed")
        said = transport.get_exception()  # the ChannelException, taken so none reuses it
        reason = f": {said}" if isinstance(said, paramiko.ChannelException) else ""
        raise StreamLocalRefused(f"sshd refused a connection to {path}{reason}")
    return opened  # type: ignore[no-any-return]
