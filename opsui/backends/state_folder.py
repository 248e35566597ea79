"""The user's state folder for opsui: the log and what is remembered between launches."""

from __future__ import annotations

import os
from pathlib import Path


def user_state_folder() -> Path:
    """``$XDG_STATE_HOME/opsui`` (``~/.local/state/opsui``): platformdirs' answer."""
    try:
        from platformdirs import user_state_path
    except ImportError:  # pragma: no cover - platformdirs comes with Textual
        state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        return Path(state) / "opsui"
    return user_state_path("opsui", appauthor=False)
