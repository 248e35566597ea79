"""Stats of many containers with ONE command on a remote host: ``docker stats --no-stream``.

Over SSH every HTTP request to the engine is a request through a dial-stdio channel,
and the engine has no call that samples several containers: a stats tick of the rows
on screen was some 36 requests, each waiting for the engine's 1 s sampling tick (so
over several channels at once), and by far the largest part of an idle dashboard's
CPU time over SSH. The docker CLI on the host does that fan-out next to the engine;
opsui runs it once per tick through one exec channel and reads one JSON line per
container. The CLI applies the same formulas as :mod:`opsui.backends.docker_stats`
(CPU delta over system delta times online CPUs; memory usage minus inactive page
cache), and prints them rounded (``0.25%``, ``12.5MiB / 7.7GiB``), which is as precise
as the dashboard shows them.

The parsers are pure functions; :class:`CliStats` raises :class:`CliStatsFailed` when
the command fails (a container removed meanwhile makes the CLI fail as a whole), and
the engine then samples that tick the slower way, one request per container.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from opsui.domain.errors import OpsuiError
from opsui.domain.models import ContainerStats
from opsui.domain.ports import CommandRunner
from opsui.domain.sanitize import clean_block

STATS_ARGV = ("docker", "stats", "--no-stream", "--no-trunc", "--format", "{{json .}}")
"""Followed by the container ids; prints one JSON object per container."""

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "": 1, "b": 1,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4, "pib": 1024**5,
    "eib": 1024**6,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, "pb": 1000**5, "eb": 1000**6,
}


class CliStatsFailed(OpsuiError):
    """``docker stats`` did not answer for every container asked about."""


def parse_size(text: str) -> int | None:
    """``316KiB``, ``23.54GiB``, ``0B`` (the CLI's binary units; decimal ones too) as bytes."""
    match = _SIZE.match(text)
    if match is None:
        return None
    number, unit = match.groups()
    scale = _UNITS.get(unit.lower())
    if scale is None:
        return None
    return round(float(number) * scale)


def parse_percent(text: str) -> float | None:
    """``12.34%`` as 12.34; None for ``--`` (no figure) or anything unexpected."""
    stripped = text.strip().removesuffix("%")
    try:
        return float(stripped)
    except ValueError:
        return None


def parse_stats_line(line: str, sampled_at: datetime) -> tuple[str, ContainerStats | None]:
    """(the container as it was named on the command line, its sample or None).

    None when the container is not running: the CLI then prints ``0B / 0B`` memory
    (a running container always has a limit, the host's memory when no other).
    Raises ValueError on a line that is not one of the CLI's JSON objects.
    """
    raw = json.loads(line)
    if not isinstance(raw, Mapping):
        raise ValueError(f"not a JSON object: {line[:80]!r}")
    asked = str(raw.get("Container") or raw.get("ID") or "")
    if not asked:
        raise ValueError(f"no Container or ID field: {line[:80]!r}")
    cpu = parse_percent(str(raw.get("CPUPerc", "")))
    used_text, _, limit_text = str(raw.get("MemUsage", "")).partition("/")
    used, limit = parse_size(used_text), parse_size(limit_text)
    if cpu is None or used is None or not limit:
        return asked, None
    sample = ContainerStats(container_id=asked, cpu_percent=round(cpu, 2), memory_bytes=used,
                            memory_limit_bytes=limit, sampled_at=sampled_at)
    return asked, sample


class CliStats:
    """Samples containers by running ``docker stats --no-stream`` through ``runner``."""

    def __init__(self, runner: CommandRunner, timeout: float = 20.0) -> None:
        self._runner = runner
        self._timeout = timeout

    def sample(self, container_ids: Sequence[str]) -> dict[str, ContainerStats | None]:
        """A sample (None: not running) for every id asked about, in one command.

        Raises CliStatsFailed when the command fails or leaves an id unanswered; a lost
        link raises the runner's HostUnreachable.
        """
        ids = list(dict.fromkeys(container_ids))
        if not ids:
            return {}
        argv = [*STATS_ARGV, *ids]
        result = self._runner.run(argv, timeout=self._timeout)
        if result.exit_code != 0:
            detail = clean_block(result.stderr, max_chars=300).strip()
            raise CliStatsFailed(f"{shlex.join(STATS_ARGV[:2])} exited {result.exit_code}: "
                                 f"{detail or 'no error output'}")
        now = datetime.now(UTC)
        found: dict[str, ContainerStats | None] = {}
        try:
            for line in result.stdout.decode("utf-8", errors="replace").splitlines():
                if line.strip():
                    asked, sample = parse_stats_line(line, now)
                    found[asked] = sample
        except ValueError as exc:
            raise CliStatsFailed(f"unexpected docker stats output: "
                                 f"{clean_block(str(exc), 200)}") from None
        missing = [cid for cid in ids if cid not in found]
        if missing:
            raise CliStatsFailed(f"docker stats left out {len(missing)} container(s)")
        return {cid: found[cid] for cid in ids}
