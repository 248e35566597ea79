"""How ssh_config says a host is reached: ProxyJump chains and ProxyCommand sockets.

OpenSSH's rules, because operators already wrote their config for ``ssh``:

* ``ProxyJump`` and ``ProxyCommand`` are one option: whichever a matching stanza sets
  first wins, and ``none`` switches both off (:func:`first_proxy`);
* a ``ProxyJump`` value is ``[user@]host[:port]`` or ``ssh://user@host:port``, several
  separated by commas, each resolved through ssh_config itself (:func:`parse_jumps`);
* ``ProxyCommand`` runs through the shell with ``%h %p %r %n %%`` (ProxyJump takes them
  too) expanded from the *final* target (a port written in ``--host`` wins, as with
  ``ssh -p``), and its stdin/stdout is the connection (:class:`CommandSocket`).

paramiko's own token expansion happens at lookup time with ssh_config's values only and
does not know ``%%``, so :class:`RawProxySSHConfig` leaves these two keys untouched and
:func:`expand_tokens` expands them here.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import subprocess
import threading
from collections.abc import Mapping

import paramiko

from opsui.domain.errors import ConfigError

PROXY_KEYS = ("proxyjump", "proxycommand")
_STDERR_KEEP = 2000


class RawProxySSHConfig(paramiko.SSHConfig):
    """An SSHConfig that hands ProxyJump/ProxyCommand back as written (no %-tokens)."""

    TOKENS_BY_CONFIG_KEY = {key: tokens for key, tokens
                            in paramiko.SSHConfig.TOKENS_BY_CONFIG_KEY.items()
                            if key not in PROXY_KEYS}


def first_proxy(options: Mapping[str, object]) -> tuple[str, str] | None:
    """(``proxyjump`` | ``proxycommand``, value) that ssh would use, or None.

    paramiko's lookup keeps the first value of each key in the order the matching
    stanzas set it, so the first of the two keys in the dict is the one OpenSSH keeps.
    """
    for key, value in options.items():
        if key in PROXY_KEYS:
            text = str(value).strip()
            return None if not text or text.lower() == "none" else (key, text)
    return None


_JUMP = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]\s]+\]|[^:@\s\[\]]+)"
                   r"(?::(?P<port>\d{1,5}))?$")


def parse_jumps(value: str, source: str) -> tuple[str, ...]:
    """The hops of a ProxyJump value, each as a spec :func:`resolve_target` takes.

    ``user@host:port`` is turned into ``ssh://user@host:port`` (the plain ``user@host``
    form has no port); ``ssh://`` URLs and aliases are kept as written.
    """
    hops: list[str] = []
    for raw in value.split(","):
        item = raw.strip()
        if item.startswith("ssh://"):
            hops.append(item)
            continue
        match = _JUMP.fullmatch(item)
        if not match or match["host"].startswith("-"):
            raise ConfigError(source, "ProxyJump",
                              "[user@]host[:port] or ssh://user@host:port, comma separated",
                              value)
        port = match["port"]
        if port is not None and not 0 < int(port) < 65536:
            raise ConfigError(source, "ProxyJump", "a port number", value)
        if port is None:
            hops.append(item)
        else:
            user = f"{match['user']}@" if match["user"] else ""
            hops.append(f"ssh://{user}{match['host']}:{port}")
    return tuple(hops)


def expand_tokens(template: str, *, key: str, host: str, port: int, user: str,
                  alias: str, source: str) -> str:
    """A ProxyCommand/ProxyJump value with OpenSSH's tokens filled in from the final target.

    Unknown tokens are refused (OpenSSH refuses them too) rather than passed to a shell.
    """
    values = {"h": host, "p": str(port), "r": user, "n": alias, "%": "%"}

    def token(match: re.Match[str]) -> str:
        letter = match.group(1)
        if letter not in values:
            raise ConfigError(source, key, "only the tokens %h %p %r %n %%", template)
        return values[letter]

    return re.sub(r"%(.?)", token, template)


class CommandSocket(paramiko.ProxyCommand):
    """A ProxyCommand whose stdin/stdout is the SSH connection, run through ``sh -c``.

    Unlike paramiko's, it starts the command in its own session (a Ctrl-C in opsui's
    terminal is not sent to it), keeps the tail of its stderr for error messages (a
    pipe nobody reads would block a chatty ``ssh -v``), and reaps it on close.
    """

    def __init__(self, command_line: str) -> None:  # own Popen: no super().__init__
        self.cmd = ["/bin/sh", "-c", command_line]
        self.command_line = command_line
        self.process = subprocess.Popen(
            self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            bufsize=0, start_new_session=True)
        self.timeout = None
        self._stderr = bytearray()
        threading.Thread(target=self._drain_stderr, name="ssh-proxycommand-stderr",
                         daemon=True).start()

    def _drain_stderr(self) -> None:
        stream = self.process.stderr
        assert stream is not None
        with contextlib.suppress(OSError, ValueError):
            while chunk := stream.read(4096):
                self._stderr += chunk
                del self._stderr[:-_STDERR_KEEP]

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes; b"" at end of output, which paramiko takes as EOF.

        paramiko's version loops on a pipe at EOF until its timeout and then reports
        a timeout, so a proxy that died would spin a core and never be noticed.
        """
        stdout = self.process.stdout
        assert stdout is not None
        try:
            ready, _, _ = select.select([stdout], [], [], self.timeout)
            if not ready:
                raise TimeoutError
            return os.read(stdout.fileno(), size)
        except (OSError, ValueError) as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise paramiko.ProxyCommandFailure(self.command_line, str(exc)) from None

    def failure(self) -> str:
        """What the command said and how it ended, once it has ended (else "")."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(0.5)
        if self.process.returncode is None:
            return ""
        said = bytes(self._stderr).decode("utf-8", "replace").strip()
        ended = f"exit status {self.process.returncode}"
        return f"{ended}: {said.splitlines()[-1]}" if said else ended

    def close(self) -> None:
        """Stop the command (its whole session) and reap it."""
        process = self.process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
