"""The parts of opsui.toml only the UI can judge: ``[keys]`` and ``theme``.

:mod:`opsui.config` checks everything it can without Textual; binding ids, key names
and themes need the UI's classes and theme files. ``opsui check-config`` and the start
of the dashboard both call :func:`ui_config_problems`, so a keymap or theme that
check-config passes is one the dashboard uses, and one it refuses stops both with
exit code 2 (the app itself still only warns, for tests and embedders).
"""

from __future__ import annotations

from pathlib import Path

from textual.dom import DOMNode

from opsui.config import Config
from opsui.domain.errors import ConfigError
from opsui.ui.app import OpsuiApp
from opsui.ui.keys import keymap_problems
from opsui.ui.screens.dashboard import DashboardScreen
from opsui.ui.themes import check_theme
from opsui.ui.widgets.container_table import ContainerTable

HOSTED_IN: dict[type[DOMNode], type[DOMNode]] = {ContainerTable: DashboardScreen}
"""Widgets whose keys share a screen with that screen's own keys."""


def ui_config_problems(config: Config, theme_dir: Path | None = None
                       ) -> tuple[list[ConfigError], list[str]]:
    """(mistakes that stop opsui, warnings about theme files that are skipped)."""
    # Without [keys] there is nothing to check: the classes that bind keys (every
    # screen) are not imported for it on the way to the dashboard's first frame.
    errors = [ConfigError(config.source, f"keys.{p.binding_id}", p.expected,
                          config.keys[p.binding_id])
              for p in keymap_problems(config.keys, list(OpsuiApp.bound_classes()), OpsuiApp,
                                       HOSTED_IN)] if config.keys else []
    theme = check_theme(config.theme, theme_dir)
    if theme.problem is not None:
        errors.append(ConfigError(config.source, "theme", theme.problem, config.theme))
    return errors, list(theme.skipped)
