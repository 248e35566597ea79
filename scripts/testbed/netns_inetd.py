#!/usr/bin/env python3
"""An inetd whose listening socket is on the host's loopback and whose servers run
inside a network namespace (scripts/testbed/bastion.sh starts it).

    netns_inetd.py LISTEN_ADDR:PORT NETNS COMMAND...

It binds LISTEN_ADDR:PORT (loopback only) in the namespace it was started in, then
enters NETNS (setns(2) on /run/netns/NETNS) and, for every connection, runs COMMAND
with the connection as its stdin and stdout (``sshd -i``). So the command's own
connections (a bastion's direct-tcpip channels) start inside NETNS, where the only
way out is that namespace's own loopback: the bastion can reach the inner sshd,
nothing on the host can. Its children share its process group, which bastion.sh
stops as a whole.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys

CLONE_NEWNET = 0x40000000


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    address, netns, command = argv[1], argv[2], argv[3:]
    host, _, port = address.rpartition(":")
    if not host.startswith("127."):
        print(f"refusing to listen on {host}: loopback only", file=sys.stderr)
        return 2
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, int(port)))
    listener.listen(64)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        print(f"setns {netns}: {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 1
    os.close(fd)
    # Children are never waited for: let the kernel reap them.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        conn, _ = listener.accept()
        try:
            subprocess.Popen(command, stdin=conn, stdout=conn, close_fds=True)
        except OSError as exc:
            print(f"could not start {command[0]}: {exc}", file=sys.stderr)
        finally:
            conn.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
