"""What ``pip install .`` ships: every package, one version, the licence it names.

An editable install (the tests') imports from the checkout, so a package missing from
``[tool.setuptools] packages`` only breaks a real install, with ModuleNotFoundError at
the user's first ``opsui``; nothing else would notice.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import opsui

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_under_opsui_is_shipped() -> None:
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(ROOT).parts)
               for init in (ROOT / "opsui").rglob("__init__.py")}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"


def test_the_version_is_written_once_in_opsui_init() -> None:
    pyproject = _pyproject()
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "opsui.__version__"}
    assert opsui.__version__.count(".") >= 2


def test_the_licence_file_is_the_one_pyproject_names() -> None:
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "opsui contributors" in text
