"""The commands a backup engine runs on the host: dump, verify and restore.

Each is an argv for the host's command runner. Database engines run their own tools
inside the database container through ``docker exec`` on the host, so a dump streams
from the container to the host's disk at the tool's own speed and never crosses the
operator's link. Verification and restore read the backup file on stdin (``docker exec
-i ... < file``), so nothing is copied into the container. Kept pure so the exact
commands are unit-tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsui.domain.ports import CommandResult
from opsui.domain.sanitize import clean_block
from opsui.domain.settings import BackupConfig

DOCKER = ("docker",)

# sqlite's online backup writes a database file (it needs to seek), so it goes to a
# temporary file inside the container, which is then streamed out and removed.
_SQLITE_DUMP = ('t=$(mktemp) || exit 1; sqlite3 "$1" ".backup \'$t\'" && cat "$t"; '
                'rc=$?; rm -f "$t"; exit $rc')
_SQLITE_CHECK = ('t=$(mktemp) || exit 1; cat > "$t" && sqlite3 "$t" "PRAGMA integrity_check";'
                 ' rc=$?; rm -f "$t"; exit $rc')
_SQLITE_RESTORE = ('t=$(mktemp) || exit 1; cat > "$t" && sqlite3 "$1" ".restore \'$t\'"; '
                   'rc=$?; rm -f "$t"; exit $rc')
# Ends the other sessions that carry this session's application_name (PGAPPNAME, the
# dump's tag): the dump's own session, wherever pg_dump is stuck. No quoting needed.
_PG_STOP = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = current_setting('application_name') "
            "AND pid <> pg_backend_pid()")
# Whether the restore's session (same application_name) is doing work: running a
# statement and not waiting on a lock (blocked) nor on its client (fed nothing). An
# index build reads no input for minutes; this is how its progress is seen.
_PG_BUSY = ("SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = current_setting('application_name') "
            "AND pid <> pg_backend_pid() AND state = 'active' "
            "AND coalesce(wait_event_type, '') NOT IN ('Lock', 'Client')")
# mysqldump ends a complete dump with this comment; a truncated one lacks it.
_MYSQL_CHECK = "tail -c 1024 | grep -q -e '-- Dump completed'"


@dataclass(frozen=True)
class EngineCommands:
    """What one app's backup engine runs (argvs for the host's command runner)."""

    engine: str
    dump: tuple[str, ...]
    """stdout is the backup."""
    verify: tuple[str, ...] | None
    """Reads the backup on stdin; exit 0 (and :func:`check_passed`) means it is whole."""
    restore: tuple[str, ...] | None
    """Reads the backup on stdin and restores it; None: this engine cannot restore."""
    extension: str
    check_name: str
    """What the verification is, in the operator's words."""
    read_back: tuple[str, ...] | None = None
    """Reads the whole backup on stdin, as a restore would, and discards it: a dump cut
    short (which ``pg_restore --list`` alone does not notice: the TOC comes first)
    fails here."""
    stop: tuple[str, ...] | None = None
    """Ends the dump's (or restore's) work inside the database when it is stopped
    (killing the docker CLI on the host leaves the exec'd tool running in the
    container); None: the engine has none, stopping the host-side process is all
    there is."""
    busy: tuple[str, ...] | None = None
    """Prints a positive count while the tagged session works in the database (not
    blocked on a lock): a restore that reads no input but is busy has not stalled.
    None: only the input consumed counts as progress."""


def _exec(docker: tuple[str, ...], container: str, *argv: str,
          stdin: bool = False, env: tuple[str, ...] = ()) -> tuple[str, ...]:
    return (*docker, "exec", *(("-i",) if stdin else ()),
            *(w for pair in env for w in ("-e", pair)), container, *argv)


def _psql(docker: tuple[str, ...], container: str, user: str, database: str, query: str,
          env: tuple[str, ...]) -> tuple[str, ...]:
    return _exec(docker, container, "psql", "-X", "-q", "-A", "-t", "-U", user,
                 "-d", database, "-c", query, env=env)


def engine_commands(config: BackupConfig, docker: tuple[str, ...] = DOCKER,
                    tag: str = "opsui backup") -> EngineCommands:
    """The dump, verify and restore commands of ``config``; ``docker`` is the docker
    CLI on the host (``docker -H URL`` when the engine is not the default one).
    ``tag`` names one dump's or restore's database session (PostgreSQL's
    application_name), so its ``stop`` ends that session and no other."""
    container = config.container or ""
    if config.engine == "postgres":
        user = config.user or "postgres"
        app_name = (f"PGAPPNAME={tag}",)
        return EngineCommands(
            "postgres",
            _exec(docker, container, "pg_dump", "-Fc", "-U", user, "-d", config.database,
                  env=app_name),
            _exec(docker, container, "pg_restore", "--list", stdin=True),
            _exec(docker, container, "pg_restore", "--single-transaction", "--exit-on-error",
                  "--clean", "--if-exists", "-U", user, "-d", config.database, stdin=True,
                  env=app_name),
            "dump", "pg_restore --list",
            _exec(docker, container, "pg_restore", "-f", "/dev/null", stdin=True),
            _psql(docker, container, user, config.database, _PG_STOP, app_name),
            _psql(docker, container, user, config.database, _PG_BUSY, app_name))
    if config.engine == "mysql":
        login: tuple[str, ...] = ("-u", config.user) if config.user else ()
        return EngineCommands(
            "mysql",
            _exec(docker, container, "mysqldump", "--single-transaction", "--quick",
                  "--routines", "--triggers", *login, config.database),
            ("sh", "-c", _MYSQL_CHECK),
            _exec(docker, container, "mysql", *login, config.database, stdin=True),
            "sql", "ends with mysqldump's 'Dump completed'")
    if config.engine == "sqlite":
        return EngineCommands(
            "sqlite",
            _exec(docker, container, "sh", "-c", _SQLITE_DUMP, "sh", config.path),
            _exec(docker, container, "sh", "-c", _SQLITE_CHECK, stdin=True),
            _exec(docker, container, "sh", "-c", _SQLITE_RESTORE, "sh", config.path,
                  stdin=True),
            "sqlite", "PRAGMA integrity_check")
    dump = (_exec(docker, container, *config.command) if container
            else tuple(config.command))
    restore: tuple[str, ...] | None = None
    if config.restore_command:
        restore = (_exec(docker, container, *config.restore_command, stdin=True)
                   if container else tuple(config.restore_command))
    return EngineCommands("command", dump, None, restore, "bak", "none (size and sha256 only)")


def check_passed(engine: str, result: CommandResult) -> tuple[bool, str]:
    """Whether the engine's verification passed, and what it said."""
    text = clean_block(result.stderr, 600).strip()
    if result.exit_code != 0:
        return False, f"{engine} check failed (exit {result.exit_code}): {text or 'no output'}"
    out = result.stdout.decode("utf-8", "replace")
    if engine == "postgres":
        entries = [line for line in out.splitlines() if line.strip() and
                   not line.startswith(";")]
        if not entries:
            return False, "pg_restore --list found no entries"
        return True, f"pg_restore --list: {len(entries)} entries"
    if engine == "sqlite":
        verdict = out.strip()
        return verdict == "ok", f"integrity_check: {clean_block(verdict, 300)}"
    return True, "mysqldump's completion line present" if engine == "mysql" else "ok"
