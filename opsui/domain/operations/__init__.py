"""Everything that changes a host, and the single gate every such action passes.

Deploy, rollback, recovery, Swarm updates, backups, restores, migrations, the lock and
retention; :class:`~opsui.domain.operations.app_releases.AppReleases` and
:class:`~opsui.domain.operations.app_backups.AppBackups` are the entry points the TUI
and the CLI share. The release state machine (steps, outcomes, what a crash leaves and
how recovery reads it) is described in docs/ARCHITECTURE.md.
"""
