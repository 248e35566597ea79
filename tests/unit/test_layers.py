"""The domain must stay free of UI and I/O libraries (DESIGN.md layers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FORBIDDEN_IN_DOMAIN = ("textual", "rich", "docker", "paramiko", "psutil", "httpx")


def _loaded_after(import_line: str) -> set[str]:
    code = f"import sys; {import_line or 'pass'}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_domain_imports_no_ui_or_io_library() -> None:
    modules = [p.stem for p in Path("opsui/domain").glob("*.py") if p.stem != "__init__"]
    imports = "; ".join(f"import opsui.domain.{m}" for m in modules)
    loaded = _loaded_after(imports + "; import opsui.domain.operations.gate")
    assert not loaded & set(FORBIDDEN_IN_DOMAIN)


def test_backends_do_not_import_textual() -> None:
    modules = [p.stem for p in Path("opsui/backends").glob("*.py") if p.stem != "__init__"]
    imports = "; ".join(f"import opsui.backends.{m}" for m in modules)
    loaded = _loaded_after(imports)
    assert "textual" not in loaded


def test_ui_never_imports_docker_or_paramiko() -> None:
    sources = "\n".join(p.read_text() for p in Path("opsui/ui").rglob("*.py"))
    for name in ("docker", "paramiko", "opsui.backends"):
        assert f"import {name}" not in sources and f"from {name}" not in sources
