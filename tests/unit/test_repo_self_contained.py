"""The repository explains itself: no file points to notes that live outside it.

A new maintainer gets the repository, not the folder it was once developed in; a
reference to a design note or test-bed write-up beside the checkout is a dead link for
them. The architecture lives in docs/ARCHITECTURE.md, the test bed's documentation in
scripts/testbed/up.sh's header.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Spelled in pieces so this file does not match itself.
OUTSIDE_NOTES = (
    "../" + "shared",
    "/work/" + "shared",
    "shared/" + "DESIGN",
    "TESTBED" + ".md",
)


def _repository_files() -> list[Path]:
    """Tracked files, and new ones not ignored (so a reference is caught before commit)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to list the repository's files with")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in sorted(set(listed.decode().split("\0"))) if name]


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary file or one deleted since it was listed."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        return None
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def test_no_file_refers_to_notes_outside_the_repository() -> None:
    found = []
    for path in _repository_files():
        text = _text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(needle in line for needle in OUTSIDE_NOTES):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not found, ("files point outside the repository (use docs/ARCHITECTURE.md):\n"
                       + "\n".join(found))


def test_the_architecture_document_is_in_the_repository() -> None:
    """What the README and the package docstrings point to exists."""
    assert (ROOT / "docs" / "ARCHITECTURE.md").is_file()
