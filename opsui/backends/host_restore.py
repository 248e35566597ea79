"""The host-side script of a restore: the backup file fed to the engine's restore, leased
to a live opsui and stopped when it stalls.

Like a dump (:mod:`opsui.backends.host_backups`), a restore runs *on the host* with the
backup file on its stdin, and a guard beside it stops it when

* the **lease** lapses: opsui touches ``.FILE.restore-RANDOM.lease`` beside the backup about
  twice a second; a killed opsui (or a link gone for good) stops touching it;
* the restore **stalls**: for ``stall_seconds`` it has neither consumed input nor been
  busy in the database. Input consumed is the feed's position in the file
  (``/proc/PID/fdinfo/0`` of the process reading it: the docker CLI stops reading when
  the container stops taking bytes). A restore that has read everything and builds an
  index for an hour consumes nothing, so the engine's ``busy`` probe is asked too
  (PostgreSQL: the restore's session, by its application name, is ``active`` and not
  waiting on a lock or on its client), every quarter of ``stall_seconds`` (at least
  every 2 s) while the position stands still. A paused database refuses the probe's
  exec, so it has made no progress; a restore blocked on a lock has not either;
* the operator **cancels** (a ``.cancelled`` mark).

Stopping kills the host-side process, then runs the engine's ``stop`` (PostgreSQL:
``pg_terminate_backend`` of the restore's session, which rolls its one transaction
back), retried while the container is paused.
"""

from __future__ import annotations

import uuid

REAP_SECONDS = 3600
"""How long the guard retries the engine's stop on a paused container (as a dump's)."""
STATUS = b"opsui-restore"
"""The status line's first word (after the command's own stdout)."""

# $1 the backup file, $2 the lease's base path, $3 lease seconds, $4 stall seconds,
# $5 the engine's stop command, $6 its busy probe (shell-quoted, may be empty), the
# rest: the restore's argv. The last stdout line: "opsui-restore rc N" or
# "opsui-restore fail WHY" (lease, stall, cancelled, or a setup failure).
SCRIPT = r"""
set -u
f=$1; base=$2; lease=$3; stall=$4; stop=$5; busy=$6; shift 6
say() { printf '\nopsui-restore %s\n' "$*"; }
[ -r "$f" ] || { say fail unreadable; exit 1; }
rm -f -- "$base.why" "$base.cancelled"
: > "$base.lease" || { say fail lease-file; exit 1; }
"$@" < "$f" &
pid=$!
to=; command -v timeout >/dev/null 2>&1 && to="timeout 30"
# The engine's stop, once; 2 when the container is paused (it refuses every exec).
stop_once() {
    [ -n "$stop" ] || return 0
    out=$(eval "$to $stop" 2>&1 </dev/null) && return 0
    case $out in *[Pp]aused*) return 2 ;; esac
    return 1
}
# Whether the restore works in the database though it reads nothing (an index build).
working() {
    [ -n "$busy" ] || return 1
    n=$(eval "$to $busy" 2>/dev/null </dev/null) || return 1
    case $n in ''|*[!0-9]*) return 1 ;; esac
    [ "$n" -gt 0 ]
}
every=$((stall / 4)); [ "$every" -ge 2 ] || every=2
guard() {
    last=; since=$(date +%s); probed=0
    while sleep 1; do
        kill -0 "$pid" 2>/dev/null || break
        now=$(date +%s); why=
        touched=$(stat -c %Y -- "$base.lease" 2>/dev/null || echo 0)
        pos=$(sed -n 's/^pos:[[:space:]]*//p' "/proc/$pid/fdinfo/0" 2>/dev/null)
        if [ -e "$base.cancelled" ]; then why=cancelled
        elif [ $((now - touched)) -ge "$lease" ]; then why=lease
        elif [ "$pos" != "$last" ]; then last=$pos; since=$now
        else
            if [ $((now - probed)) -ge "$every" ]; then
                probed=$now
                if working; then since=$(date +%s); fi
            fi
            [ $((now - since)) -lt "$stall" ] || why=stall
        fi
        [ -n "$why" ] || continue
        kill -0 "$pid" 2>/dev/null || break
        echo "$why" > "$base.why"
        kill -TERM "$pid" 2>/dev/null  # the host side first: a stuck stop must not hold it
        stop_once; paused=$?  # then where the work runs: its session, its transaction
        t=0
        while [ "$paused" -eq 2 ] && [ "$t" -lt REAP ]; do
            sleep 2; t=$((t + 2)); stop_once; paused=$?
        done
        kill -KILL "$pid" 2>/dev/null
        break
    done
    rm -f -- "$base.lease"
}
( trap '' HUP INT; guard ) </dev/null >/dev/null 2>&1 &
wait "$pid"
rc=$?
why=$(cat -- "$base.why" 2>/dev/null) || why=
rm -f -- "$base.why" "$base.cancelled" "$base.lease"  # the guard, if alive, leaves
if [ -n "$why" ]; then say fail "$why"; exit 1; fi
say rc "$rc"
exit "$rc"
""".replace("REAP", str(REAP_SECONDS))


def lease_base(backup_path: str) -> str:
    """``FOLDER/.FILE.restore-RANDOM``: beside the backup, in a folder opsui writes
    anyway; one per run, so a guard still leaving never takes the next run's files."""
    folder, _, name = backup_path.rpartition("/")
    return f"{folder or '.'}/.{name}.restore-{uuid.uuid4().hex[:8]}"


def status_of(stdout: bytes) -> tuple[bytes, list[str]]:
    """The command's own stdout and the status line's words after ``opsui-restore``
    (empty when the script was cut off before it)."""
    head, sep, tail = stdout.rpartition(b"\n" + STATUS + b" ")
    if not sep:
        return stdout, []
    return head, tail.decode("utf-8", "replace").split()
