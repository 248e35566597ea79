"""One long-lived ``sh`` on a remote host that runs commands for the host files.

Over SSH every exec costs a new session: 110-130 ms on a stock sshd (fork, PAM, the
login shell), against ~7 ms for the same command locally. A rollback makes 13 host-file
operations (journal appends and reads, lock mkdir and rm), all on its critical path, so
one exec each added over a second (bench/rollback.py). :class:`PersistentShell` opens
ONE exec session running a small driver loop and sends it every command over that
session's stdin, so an operation costs a round trip plus the command itself.

Protocol (the driver is :data:`DRIVER`; everything is length-framed, so any bytes pass):

* start: the driver prints ``opsui-host-shell PID FOLDER`` (lines before it, such as a
  noisy login shell's, are skipped) and then never writes to its stderr again;
* request: ``CMD_LEN STDIN_LEN`` and a newline, then ``shlex.join(argv)`` (CMD_LEN
  bytes), then the stdin bytes. The driver reads exact counts with
  ``dd bs=N count=1 iflag=fullblock`` (``read`` reads a pipe byte by byte), so it never
  reads past a request; ``eval "set -- CMD"`` turns the quoted line back into argv, the
  quoting the one-shot path already trusts to the remote shell;
* reply: ``+`` once the request is read and the command about to start, then
  ``RC OUT_LEN ERR_LEN`` and a newline, then the output bytes. The command's stdout and
  stderr go to files in a private ``mktemp -d`` folder (removed when the driver exits)
  because the lengths must be known before the bytes are sent.

The ``+`` is what makes the fallback safe: a session that dies before it ran nothing,
so the request goes to the one-shot runner; after it, the command may have run (a
journal record may be written), so the request is not repeated and the caller gets a
HostError, as when the link drops under a one-shot exec.

The command's stdin is a pipe fed by one dd that has read the whole payload first, as a
one-shot exec's is fed by sshd: a journal record is still appended by the _APPEND
script's own dd in one write(2), fsynced. Payloads above :data:`MAX_STDIN` go to the
one-shot runner, since that dd holds the payload in memory.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from dataclasses import dataclass

import paramiko

from opsui.backends.ssh import TIMEOUT_EXIT_CODE, SshConnection
from opsui.domain.errors import HostError, HostUnreachable
from opsui.domain.ports import CommandResult, CommandRunner
from opsui.domain.sanitize import clean

DRIVER = r"""
d=$(mktemp -d) || exit 1
trap 'rm -rf -- "$d"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
[ "$(printf ab | dd bs=2 count=1 iflag=fullblock 2>/dev/null)" = ab ] || {
  echo "dd cannot read exact counts here (no iflag=fullblock)" >&2
  exit 3
}
copy() {
  [ "$1" -lt 65536 ] || dd bs=65536 count=$(($1 / 65536)) iflag=fullblock
  [ $(($1 % 65536)) -eq 0 ] || dd bs=$(($1 % 65536)) count=1 iflag=fullblock
}
printf 'opsui-host-shell %s %s\n' "$$" "$d"
exec 2>/dev/null
while read -r c s; do
  a=$(dd bs="$c" count=1 iflag=fullblock) && eval "set -- $a" || exit 1
  rm -f -- "$d/o" "$d/e"
  printf +
  if [ "$s" -eq 0 ]; then
    (exec "$@") </dev/null >"$d/o" 2>"$d/e"
  else
    dd bs="$s" count=1 iflag=fullblock | (exec "$@") >"$d/o" 2>"$d/e"
  fi
  r=$?
  o=0
  e=0
  [ ! -s "$d/o" ] || o=$(($(wc -c <"$d/o")))
  [ ! -s "$d/e" ] || e=$(($(wc -c <"$d/e")))
  printf '%s %s %s\n' "$r" "$o" "$e"
  copy "$o" <"$d/o"
  copy "$e" <"$d/e"
done
"""
"""The driver loop, POSIX sh plus mktemp, wc and a dd with ``iflag=fullblock`` (GNU
coreutils and busybox both have it; the driver refuses to start without it). ``(exec
"$@")`` runs the program in a subshell, so no argv can reach the driver's own state,
and the command's stdin is never the request stream. Output is copied back by counts,
so a background child still writing to the files cannot make the reply longer than
its header says."""

READY = b"opsui-host-shell "
MAX_STDIN = 8 * 1024 * 1024
"""Larger payloads go to the one-shot runner: the driver's dd holds a payload in memory."""
_MAX_PREAMBLE = 64 * 1024
"""Bytes of login-shell chatter tolerated before the driver's ready line."""
_CHUNK = 65536


class _Lost(Exception):
    """The session ended; ``started`` says whether the command may have run."""

    def __init__(self, started: bool, reason: str) -> None:
        super().__init__(reason)
        self.started = started


class _Expired(Exception):
    """The deadline passed before the reply was complete."""


@dataclass
class _Reply:
    exit_code: int
    out_len: int
    err_len: int


class _Session:
    """One exec channel running :data:`DRIVER`, and what it has sent but we have not read.

    Reads block in ``channel.recv`` with a timeout: paramiko wakes it when data, EOF
    or close arrives, so nothing polls.
    """

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self.pid = 0
        self.folder = ""
        self._buffer = bytearray()

    def _fill(self, deadline: float, started: bool) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _Expired
        try:
            self.channel.settimeout(remaining)
            data = self.channel.recv(_CHUNK)
        except TimeoutError:
            raise _Expired from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise _Lost(started, str(exc) or type(exc).__name__) from None
        if not data:
            raise _Lost(started, "the host shell ended")
        self._buffer += data

    def read_exact(self, size: int, deadline: float, started: bool = True) -> bytes:
        while len(self._buffer) < size:
            self._fill(deadline, started)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_line(self, deadline: float, started: bool = True, limit: int = 4096) -> bytes:
        while b"\n" not in self._buffer:
            if len(self._buffer) > limit:
                raise _Lost(started, "the host shell sent garbage")
            self._fill(deadline, started)
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer[:] = rest
        return line

    def wait_ready(self, deadline: float) -> None:
        """Skip login-shell chatter up to the driver's ready line; remember its pid
        and folder."""
        skipped = 0
        while True:
            line = self.read_line(deadline, started=False, limit=_MAX_PREAMBLE)
            pid, _, folder = line.removeprefix(READY).partition(b" ")
            if line.startswith(READY) and pid.isdigit() and folder:
                self.pid = int(pid)
                self.folder = folder.decode(errors="replace")
                return
            skipped += len(line) + 1
            if skipped > _MAX_PREAMBLE:
                raise _Lost(False, "no ready line from the host shell")

    def send(self, command: bytes, stdin: bytes, deadline: float) -> None:
        header = f"{len(command)} {len(stdin)}\n".encode()
        if self.channel.closed or self.channel.eof_received:
            raise _Lost(False, "the host shell ended")
        try:
            self.channel.settimeout(max(deadline - time.monotonic(), 0.001))
            self.channel.sendall(header + command + stdin)
        except TimeoutError:
            raise _Expired from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # The driver reads a request whole before it starts the command: a send
            # that failed part-way left nothing running.
            raise _Lost(False, str(exc) or type(exc).__name__) from None

    def reply(self, deadline: float) -> _Reply:
        if self.read_exact(1, deadline, started=False) != b"+":
            raise _Lost(True, "the host shell is out of step")
        fields = self.read_line(deadline).split()
        if len(fields) != 3 or not all(f.isdigit() for f in fields):
            raise _Lost(True, "the host shell sent a bad reply header")
        code, out_len, err_len = (int(f) for f in fields)
        return _Reply(code, out_len, err_len)

    def error_output(self) -> str:
        """What the driver said on stderr before it gave up (it is silent after)."""
        chunks = []
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            while self.channel.recv_stderr_ready():
                chunks.append(self.channel.recv_stderr(_CHUNK))
        return clean(b"".join(chunks).decode(errors="replace"), 300).strip()

    def close(self) -> None:
        self.channel.close()


class PersistentShell:
    """:class:`opsui.domain.ports.CommandRunner` through one kept ``sh`` on the host.

    Meant for short commands with small payloads (the host files): requests are
    serialised, one at a time through the one session (ShellHostFiles is called from
    several threads). A caller that cannot have the session within ``busy_wait`` seconds
    uses the one-shot ``fallback`` instead of queueing behind a slow command.

    The session opens at the first request. If it cannot be opened, or dies, requests go
    to ``fallback`` for ``retry_after`` seconds before a new session is tried, so a host
    without a usable ``sh``/``dd`` costs one failed attempt per interval, not one per call.
    A request that outlives its timeout closes the session (the next request opens a new
    one) and gives what :meth:`SshConnection.run` gives then: exit 124 with a note on
    stderr. The session holds one of sshd's MaxSessions for as long as the host is open.
    """

    def __init__(self, conn: SshConnection, fallback: CommandRunner, *,
                 retry_after: float = 5.0, busy_wait: float = 1.0,
                 open_timeout: float | None = None) -> None:
        self._conn = conn
        self._fallback = fallback
        self._retry_after = retry_after
        self._busy_wait = busy_wait
        self._open_timeout = open_timeout or conn.connect_timeout
        self._busy = threading.Lock()
        self._session: _Session | None = None
        self._retry_at = 0.0
        self._closed = False
        self.sessions_opened = 0
        """How many driver sessions this shell opened (each one exec on the host)."""
        self.last_failure = ""
        """Why the last session could not be opened or ended, for diagnostics."""

    @property
    def remote_pid(self) -> int | None:
        """The driver's pid on the host while a session is open."""
        session = self._session
        return session.pid if session is not None else None

    @property
    def remote_folder(self) -> str | None:
        """The driver's private folder on the host (output files) while a session is open."""
        session = self._session
        return session.folder if session is not None else None

    def run(self, argv: list[str], timeout: float = 30.0,
            stdin: bytes | None = None) -> CommandResult:
        """Run ``argv`` through the session; through ``fallback`` when there is none."""
        payload = stdin or b""
        if argv and len(payload) <= MAX_STDIN and self._busy.acquire(
                timeout=min(timeout, self._busy_wait)):
            try:
                result = self._run_in_session(argv, payload, timeout)
            finally:
                self._busy.release()
            if result is not None:
                return result
        return self._fallback.run(argv, timeout, stdin)

    def _run_in_session(self, argv: list[str], payload: bytes,
                        timeout: float) -> CommandResult | None:
        """The result, or None when the request must go to the fallback (nothing ran).

        The timeout counts from a ready session: opening one is bounded on its own
        (``open_timeout``), and must not leave a short request no time to run."""
        session = self._ready_session()
        if session is None:
            return None
        deadline = time.monotonic() + timeout
        command = shlex.join(argv)
        try:
            session.send(command.encode(errors="surrogateescape"), payload, deadline)
            return self._collect(session, deadline)
        except _Expired:
            self._drop(session, "")
            note = f"\n{argv[0]}: timed out after {timeout:g} s\n"
            return CommandResult(TIMEOUT_EXIT_CODE, b"", note.encode())
        except _Lost as lost:
            self._drop(session, str(lost), backoff=True)
            if lost.started:
                raise self._lost_while_running(command, str(lost)) from None
            return None

    @staticmethod
    def _collect(session: _Session, deadline: float) -> CommandResult:
        reply = session.reply(deadline)
        out = session.read_exact(reply.out_len, deadline)
        err = session.read_exact(reply.err_len, deadline)
        return CommandResult(reply.exit_code, out, err)

    def _lost_while_running(self, command: str, reason: str) -> HostError:
        what = clean(command, 120)
        if not self._conn.is_alive():
            return HostUnreachable(f"{self._conn.label}: SSH connection lost while running "
                                   f"{what}")
        return HostError(f"{self._conn.label}: the host shell ended ({clean(reason, 120)}) "
                         f"while running {what}; it may or may not have run",
                         hint="Look at the host (the state folder) before retrying.")

    def _ready_session(self) -> _Session | None:
        """The open session, a newly opened one, or None (closed, or backing off)."""
        if self._closed:
            return None
        if self._session is not None:
            return self._session
        if time.monotonic() < self._retry_at:
            return None
        try:
            session = self._open()
        except (HostError, _Lost, _Expired) as exc:
            self.last_failure = str(exc) or "the host shell did not start in time"
            self._retry_at = time.monotonic() + self._retry_after
            return None
        self._session = session
        if self._closed:  # close() ran while we were opening
            self._drop(session, "")
            return None
        return session

    def _open(self) -> _Session:
        channel = self._conn.exec_channel(shlex.join(["exec", "sh", "-c", DRIVER]),
                                          self._open_timeout)
        session = _Session(channel)
        try:
            session.wait_ready(time.monotonic() + self._open_timeout)
        except _Lost as lost:
            said = session.error_output()
            session.close()
            raise _Lost(False, said or str(lost)) from None
        except BaseException:
            session.close()
            raise
        self.sessions_opened += 1
        return session

    def _drop(self, session: _Session, reason: str, backoff: bool = False) -> None:
        if self._session is session:
            self._session = None
        session.close()
        if reason:
            self.last_failure = reason
        if backoff:
            self._retry_at = time.monotonic() + self._retry_after

    def close(self) -> None:
        """End the session (the driver sees EOF, removes its folder and exits); later
        requests go to the fallback. Does not wait for a request in flight."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            session.close()

