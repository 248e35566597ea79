"""Files on a host through its command runner: the same code locally and over SSH.

The deploy journal and lock live on the target host (see docs/ARCHITECTURE.md), so every
operator sees them. Only POSIX sh, mkdir, cat, tail, rm and dd are assumed there (they
exist on any host that runs Docker, busybox included).
"""

from __future__ import annotations

from opsui.domain.errors import ActionFailed
from opsui.domain.ports import CommandResult, CommandRunner
from opsui.domain.sanitize import clean_block

_MISSING = 3
_EXISTS = 4

# One write per record: dd reads the whole record from stdin (fullblock), appends it in
# one write(2) with O_APPEND and fsyncs. A record written after a crash that tore the
# previous one starts on a new line.
_APPEND = r"""
set -e
mkdir -p -- "$(dirname -- "$1")"
if [ -s "$1" ] && [ -n "$(tail -c 1 -- "$1")" ]; then printf '\n' >> "$1"; fi
dd of="$1" bs=1048576 iflag=fullblock oflag=append conv=notrunc,fsync status=none
"""
_READ = r'if [ -e "$1" ]; then cat -- "$1"; else exit 3; fi'
_CREATE_DIR = r"""
mkdir -p -- "$(dirname -- "$1")"
mkdir -- "$1" 2>/dev/null || exit 4
cat > "$1/$2"
"""
_REMOVE_DIR = r'rm -rf -- "$1"'


class ShellHostFiles:
    """:class:`opsui.domain.ports.HostFiles` as small shell scripts on the host."""

    def __init__(self, runner: CommandRunner, host: str, timeout: float = 30.0) -> None:
        self._runner = runner
        self._host = host
        self._timeout = timeout

    def _sh(self, script: str, *args: str, stdin: bytes | None = None) -> CommandResult:
        return self._runner.run(["sh", "-c", script, "sh", *args], self._timeout, stdin)

    def _failed(self, what: str, result: CommandResult) -> ActionFailed:
        detail = clean_block(result.stderr, 500).strip() or f"exit {result.exit_code}"
        return ActionFailed(f"{self._host}: {what}: {detail}",
                            hint="Check the state folder's permissions and free space on "
                                 "the host ([apps] state_dir in opsui.toml).")

    def read(self, path: str) -> bytes | None:
        result = self._sh(_READ, path)
        if result.exit_code == _MISSING:
            return None
        if result.exit_code != 0:
            raise self._failed(f"cannot read {path}", result)
        return result.stdout

    def append_record(self, path: str, record: bytes) -> None:
        if not record.endswith(b"\n") or b"\n" in record[:-1]:
            raise ValueError("a record is one line ending in a newline")
        result = self._sh(_APPEND, path, stdin=record)
        if result.exit_code != 0:
            raise self._failed(f"cannot append to {path}", result)

    def create_dir_with(self, path: str, name: str, content: bytes) -> bool:
        result = self._sh(_CREATE_DIR, path, name, stdin=content)
        if result.exit_code == _EXISTS:
            return False
        if result.exit_code != 0:
            raise self._failed(f"cannot create {path}", result)
        return True

    def exists(self, path: str) -> bool:
        result = self._sh(r'[ -e "$1" ] || exit 3', path)
        if result.exit_code not in (0, _MISSING):
            raise self._failed(f"cannot look at {path}", result)
        return result.exit_code == 0

    def remove_dir(self, path: str) -> None:
        result = self._sh(_REMOVE_DIR, path)
        if result.exit_code != 0:
            raise self._failed(f"cannot remove {path}", result)
