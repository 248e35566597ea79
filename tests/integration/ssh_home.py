"""An empty home for SSH tests: the operator's own ~/.ssh (keys, known_hosts, config)
and ssh-agent must never decide whether a test passes."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Imported by a test module, it applies to each of its tests: HOME is a fresh
    folder with an empty .ssh, and no agent socket is set."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home
