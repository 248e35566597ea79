"""The dashboard's log file: in the user's state folder, rotated at its size, DEBUG
lines only with --verbose."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opsui.cli.logfile import MAX_BYTES, file_handler, log_folder


def test_the_log_file_rotates_at_its_size_keeping_a_few_old_ones(tmp_path: Path) -> None:
    handler = file_handler(tmp_path, max_bytes=2000, backups=2)
    logger = logging.getLogger("opsui.test.rotation")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for n in range(200):
            logger.info("line %03d %s", n, "x" * 60)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["opsui.log", "opsui.log.1", "opsui.log.2"]
    assert all((tmp_path / name).stat().st_size <= 2000 for name in files)
    assert "line 199" in (tmp_path / "opsui.log").read_text()


def test_the_default_size_is_a_few_megabytes() -> None:
    assert 1_000_000 <= MAX_BYTES <= 20_000_000


def test_the_folder_is_the_xdg_state_folder(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert log_folder() == tmp_path / "opsui"


def _dashboard_logging(tmp_path: Path, verbose: int) -> str:
    """What one process that set up the dashboard's logging wrote to the file."""
    code = ("import logging; from opsui.cli.logfile import setup_logging; "
            f"setup_logging({verbose}, dashboard=True); "
            "logging.getLogger('opsui.ui').debug('a debug line'); "
            "logging.getLogger('opsui.ui').info('an info line'); "
            "logging.getLogger('urllib3').debug('a library debug line')")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "XDG_STATE_HOME": str(tmp_path)})
    return (tmp_path / "opsui" / "opsui.log").read_text()


@pytest.mark.parametrize(("verbose", "expected"), [
    (0, ["INFO opsui.ui: an info line"]),
    (1, ["DEBUG opsui.ui: a debug line", "INFO opsui.ui: an info line"]),
    (2, ["DEBUG opsui.ui: a debug line", "INFO opsui.ui: an info line",
         "DEBUG urllib3: a library debug line"]),
])
def test_verbose_writes_debug_lines_to_the_dashboards_log(tmp_path: Path, verbose: int,
                                                          expected: list[str]) -> None:
    written = _dashboard_logging(tmp_path, verbose)
    assert [line.split(" ", 2)[2] for line in written.splitlines()] == expected
