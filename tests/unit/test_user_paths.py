"""The operator's config and theme files are found where the README says.

``$XDG_CONFIG_HOME/opsui/`` when set, ``~/.config/opsui/`` otherwise: moving the path
logic to platformdirs must not move an operator's existing files out of sight.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opsui.config import find_config
from opsui.ui.themes import theme_sources, user_theme_dir


def test_config_and_themes_under_xdg_config_home(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    xdg = tmp_path / "xdg"
    (xdg / "opsui" / "themes").mkdir(parents=True)
    (xdg / "opsui" / "opsui.toml").write_text("")
    (xdg / "opsui" / "themes" / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert find_config(None, cwd=tmp_path) == xdg / "opsui" / "opsui.toml"
    assert user_theme_dir() == xdg / "opsui" / "themes"
    assert any(str(source).endswith("mine.toml") for source, _text in theme_sources())


@pytest.mark.parametrize("xdg_config_home", [None, ""])
def test_config_and_themes_default_to_dot_config(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 xdg_config_home: str | None) -> None:
    home = tmp_path / "home"
    (home / ".config" / "opsui").mkdir(parents=True)
    (home / ".config" / "opsui" / "opsui.toml").write_text("")
    monkeypatch.setenv("HOME", str(home))
    if xdg_config_home is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg_config_home)
    assert find_config(None, cwd=tmp_path) == home / ".config" / "opsui" / "opsui.toml"
    assert user_theme_dir() == home / ".config" / "opsui" / "themes"
