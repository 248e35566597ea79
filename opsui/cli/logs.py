"""``opsui logs``: the log pane's tail, headless, for scripts and plain terminals.

The same :class:`~opsui.domain.logtail.LogTail` as the pane (so the same survival
across restarts, replacements and reconnects) and the same sanitiser: lines are
written as plain text, never with the container's escape sequences. opsui's own
markers ("restarted", "replaced by ...") go to stderr, so stdout stays the log.

Several containers are merged in the engine's time order: each stream arrives in its own
bursts (a container's history comes all at once), so lines wait briefly and are
printed sorted by their timestamps.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from opsui.cli.common import UsageError
from opsui.cli.context import Context, single_host
from opsui.domain.errors import OpsuiError
from opsui.domain.logbuffer import LineKind, LogBuffer
from opsui.domain.logfeed import FeedState, LogTarget, LogWindow, TargetKind
from opsui.domain.logtail import LogTail
from opsui.domain.logtime import stamp_of
from opsui.domain.logview import body_offset
from opsui.domain.models import Container
from opsui.domain.ports import ContainerEngine, HostConnection
from opsui.domain.sanitize import sanitize_line
from opsui.domain.service_tail import ServiceTail, service_logs_of
from opsui.wiring import build_connection


def add_logs_command(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """``opsui logs``, on the parser's subparsers (``common``: the global options, whose
    ``-v`` is this command's ``--invert``: ``--verbose`` is spelled out here)."""
    logs = sub.add_parser(
        "logs", parents=common,
        help="print (and follow) logs of a container, service, project or app",
        description="TARGET: a container name or id (followed as its compose service or "
                    "app, across restarts and replacements), PROJECT/SERVICE, project:NAME, "
                    "app:NAME, several container names, or a Swarm service (its name, or "
                    "swarm:NAME) on a manager: every task on every node, merged.")
    logs.add_argument("target", nargs="+", metavar="TARGET")
    logs.add_argument("-f", "--follow", action="store_true", help="keep following")
    logs.add_argument("--since", metavar="WHEN", help="30s, 5m, 1h, 24h, or all")
    logs.add_argument("--tail", type=_count, metavar="N",
                      help="start with the last N lines (default: [logs] tail_lines)")
    logs.add_argument("--grep", metavar="REGEX", help="only lines matching (smart case)")
    logs.add_argument("-v", "--invert", action="store_true", help="only lines NOT matching")
    logs.add_argument("-t", "--timestamps", action="store_true", help="show the engine's time")
    logs.set_defaults(handler=run)


def run(context: Context) -> int:
    args, config = context.args, context.config
    host = single_host(context)
    window = parse_window(args.since, args.tail, config.log_tail_lines)
    engine = ReconnectingEngine(lambda: build_connection(config, host))
    return run_logs(engine, args.target, window, follow=args.follow,
                    timestamps=args.timestamps, grep=grep_pattern(args.grep),
                    invert=args.invert, capacity=config.log_buffer_lines)


def _count(text: str) -> int:
    """A line count for --tail: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more lines")
    return value


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_window(since: str | None, tail: int | None, default_tail: int) -> LogWindow:
    """``--since 5m|1h|24h|all|SECONDS`` and ``--tail N`` as a window."""
    if since is None:
        return LogWindow(tail=default_tail if tail is None else tail)
    if since == "all":
        return LogWindow(tail=tail)
    match = _DURATION.match(since)
    if not match:
        raise UsageError(f"--since {since!r}: expected a duration such as 30s, 5m, 1h, 24h "
                         "or 'all'")
    return LogWindow(tail=tail, since_seconds=float(match.group(1)) * _UNITS[match.group(2)])


def grep_pattern(pattern: str | None) -> re.Pattern[bytes] | None:
    """A regex over the sanitised text; case-insensitive unless it has a capital."""
    if pattern is None:
        return None
    flags = 0 if any(ch.isupper() for ch in pattern) else re.IGNORECASE
    try:
        return re.compile(pattern.encode(), flags)
    except re.error as exc:
        raise UsageError(f"--grep {pattern!r}: not a valid regular expression ({exc})") from None


class ReconnectingEngine:
    """The engine of one host, rebuilt when its link died: the tail's engine provider
    for a headless command, which has no monitor to rebuild links for it."""

    def __init__(self, build: Callable[[], HostConnection]) -> None:
        self._build = build
        self._connection: HostConnection | None = None
        self._lock = threading.Lock()

    def __call__(self) -> ContainerEngine:
        with self._lock:
            if self._connection is None or not self._connection.is_alive():
                self.close()
                connection = self._build()
                connection.connect()  # raises HostError: the tail retries with backoff
                self._connection = connection
            return self._connection.engine

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


MANAGER_GIVE_UP_SECONDS = 20.0
"""How long ``opsui logs -f`` of a Swarm service waits for a manager that went away
before it ends saying so (a node's death is no reason: the stream goes on)."""


def resolve_target(engine: ReconnectingEngine, refs: list[str],
                   containers: list[Container]) -> LogTarget:
    """``refs`` as a log target; one plain name that no container has exactly, but a
    Swarm service of the engine (a manager) has, is that service."""
    ref = refs[0]
    plain = len(refs) == 1 and ":" not in ref and "/" not in ref
    if plain and not any(ref in (c.name, c.id) for c in containers) and _is_service(engine, ref):
        return LogTarget(TargetKind.SWARM, (ref,))
    try:
        return LogTarget.parse(refs, containers)
    except ValueError as exc:
        raise OpsuiError(str(exc), hint="Run `opsui ps` to see names; ids may be abbreviated; "
                         "`opsui tasks` lists a manager's Swarm services.") from None


def _is_service(engine: ReconnectingEngine, name: str) -> bool:
    """Whether the engine, as a Swarm manager, has a service ``name`` (a worker or an
    engine outside any swarm has none)."""
    try:
        return engine().swarm.service(name) is not None
    except OpsuiError:
        return False


MERGE_HOLD_SECONDS = 0.5
"""How long merged lines wait for the other streams' lines of the same moment."""


class LinePrinter:
    """Writes buffer entries as sanitised text lines; with ``merge``, in time order."""

    def __init__(self, buffer: LogBuffer, out: BinaryIO, err: BinaryIO, *,
                 timestamps: bool, prefix: bool, grep: re.Pattern[bytes] | None,
                 invert: bool, merge: bool = False, hold: float | None = MERGE_HOLD_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._buffer = buffer
        self._out, self._err = out, err
        self._timestamps = timestamps
        self._prefix = prefix
        self._grep = grep
        self._invert = invert
        self._merge = merge
        self._hold = hold
        """``None``: merged lines wait for the end (a window read once, not followed)."""
        self._clock = clock
        self._held: list[tuple[bytes, int, bytes]] = []
        """Merged lines waiting: (timestamp, sequence, text)."""
        self._held_since = 0.0
        self._last_stamp: dict[int, bytes] = {}
        self.next_seq = 0

    def drain(self, *, final: bool = False) -> None:
        """Print what was appended since the last call (merged lines may wait up to
        :data:`MERGE_HOLD_SECONDS` for lines of the same moment; ``final``: none wait)."""
        if self.next_seq < self._buffer.first:
            skipped = self._buffer.first - self.next_seq
            self._err.write(f"opsui: {skipped} lines dropped (output too slow)\n".encode())
        entries = self._buffer.entries(self.next_seq)
        if entries and not self._held:
            self._held_since = self._clock()
        for seq, (source, kind, raw) in entries:
            self.next_seq = seq + 1
            start = body_offset(raw)
            text = sanitize_line(raw[start:]).text.encode()
            if kind == LineKind.MARKER:
                self._release(everything=True)
                self._err.write(b"opsui: " + text + b"\n")
                self._err.flush()
                continue
            stamp = stamp_of(raw) or self._last_stamp.get(source, b"")
            self._last_stamp[source] = stamp
            if self._grep is not None and bool(self._grep.search(text)) == self._invert:
                continue
            head = b""
            if self._timestamps and start:
                head += raw[:start]
            if self._prefix:
                head += self._buffer.source(source).name.encode() + b" | "
            self._held.append((stamp, seq, head + text))
        waited = self._clock() - self._held_since
        self._release(everything=final or not self._merge
                      or (self._hold is not None and waited >= self._hold))

    def _release(self, *, everything: bool) -> None:
        if not everything or not self._held:
            return
        if self._merge:  # the engine's stamps have fixed width: bytes sort as times
            self._held.sort(key=lambda held: (held[0], held[1]))
        self._out.write(b"\n".join(line for _stamp, _seq, line in self._held) + b"\n")
        self._out.flush()
        self._held.clear()


def run_logs(engine: ReconnectingEngine, refs: list[str], window: LogWindow, *,
             follow: bool, timestamps: bool, grep: re.Pattern[bytes] | None,
             invert: bool, capacity: int) -> int:
    """Print the logs of ``refs``; with ``follow``, until interrupted (or, for a Swarm
    service, until its manager is lost for good)."""
    containers = engine().list_containers()
    target = resolve_target(engine, refs, containers)
    tail: LogTail | ServiceTail
    if target.kind is TargetKind.SWARM:
        tail = ServiceTail(lambda: service_logs_of(engine()), target, window, follow=follow,
                           capacity=capacity, give_up_seconds=MANAGER_GIVE_UP_SECONDS).start()
    else:
        if not follow and not any(target.matches(c) for c in containers):
            raise OpsuiError(f"nothing matches {target.title}")
        tail = LogTail(engine, target, window, follow=follow, capacity=capacity).start()
    several = target.kind is not TargetKind.CONTAINER
    printer = LinePrinter(tail.buffer, sys.stdout.buffer, sys.stderr.buffer,
                          timestamps=timestamps, prefix=several, grep=grep, invert=invert,
                          merge=several, hold=MERGE_HOLD_SECONDS if follow else None)
    last_state: FeedState | None = None
    try:
        while True:
            tail.buffer.wait_beyond(printer.next_seq, 0.25)
            printer.drain()
            status = tail.status()
            if status.state is not last_state and status.state is FeedState.RECONNECTING \
                    and last_state is not None:
                sys.stderr.write(f"opsui: reconnecting: {status.message}\n")
            last_state = status.state
            if tail.wait_closed(0):  # not following, or a service's manager is lost
                printer.drain(final=True)
                if tail.error is not None:
                    raise tail.error
                return 0
    except KeyboardInterrupt:
        printer.drain(final=True)
        return 0
    finally:
        tail.close()
        engine.close()
