"""Where opsui's own log lines go: a rotating file for the dashboard, stderr with -v.

The dashboard owns the terminal, so its log goes to ``opsui.log`` in the user's state
folder (``$XDG_STATE_HOME/opsui``, ``~/.local/state/opsui`` by default), rotated at
:data:`MAX_BYTES` with :data:`BACKUPS` old files kept, so a dashboard left open for
weeks cannot fill the disk. Headless commands write nothing there unless asked:
``--verbose`` sends debug lines to stderr (stdout stays the result).

``-v`` is opsui's own debug lines; ``-vv`` every library's too (docker, paramiko,
urllib3: noisy, for a bug report).
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

from opsui.backends.state_folder import user_state_folder

MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_folder() -> Path:
    """The user's state folder for opsui (platformdirs' answer, the same XDG rule)."""
    return user_state_folder()


def file_handler(folder: Path, *, max_bytes: int = MAX_BYTES,
                 backups: int = BACKUPS) -> logging.Handler:
    """``folder/opsui.log``, rotating; a folder that cannot be written logs nowhere
    rather than stopping the dashboard."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            folder / "opsui.log", maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    return handler


def setup_logging(verbose: int, *, dashboard: bool, folder: Path | None = None) -> None:
    """The dashboard: the log file (INFO, or DEBUG with -v). A headless command: stderr
    with -v, else nothing configured (warnings still reach stderr, as Python's default)."""
    if dashboard:
        handlers = [file_handler(folder or log_folder())]
    elif verbose:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setFormatter(logging.Formatter(FORMAT))
        handlers = [stderr]
    else:
        return
    logging.basicConfig(level=logging.DEBUG if verbose >= 2 else logging.INFO,
                        handlers=handlers, force=True)
    logging.getLogger("opsui").setLevel(logging.DEBUG if verbose else logging.NOTSET)
