"""Screens: the dashboard, container detail, logs, deploy, rollback, history, backups,
the live steps of a run, help, and the confirmation modals.

Screens read :class:`~opsui.ui.state.UiState` and call the domain from thread workers;
they watch runs, they never own them (see docs/ARCHITECTURE.md, thread model).
"""
