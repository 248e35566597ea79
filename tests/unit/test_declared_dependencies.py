"""Every third-party package that opsui imports is declared in pyproject.toml.

A package that only arrives as somebody else's dependency (rich through textual,
urllib3 through requests) can be dropped or bumped a major version by that other
package's next release, and a user's ``pip install opsui`` then breaks with no
change on our side. So each import in ``opsui/`` must name a distribution listed in
``[project] dependencies``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _normalise(name: str) -> str:
    """PEP 503 name, so ``PyYAML`` and ``pyyaml`` or ``a_b`` and ``a-b`` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project["dependencies"]:
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert match, requirement
        names.add(_normalise(match.group()))
    return names


def _imported_top_level() -> dict[str, list[str]]:
    """Top-level module name -> the opsui files importing it (absolute imports only)."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "opsui").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.partition(".")[0]
                found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_in_opsui_is_a_declared_dependency() -> None:
    declared = _declared()
    distributions = importlib.metadata.packages_distributions()
    problems = []
    for module, files in sorted(_imported_top_level().items()):
        if module in sys.stdlib_module_names or module in ("opsui", "__future__"):
            continue
        provided_by = {_normalise(d) for d in distributions.get(module, [])}
        if not provided_by:
            problems.append(f"{module} (imported by {files[0]}) is not installed at all")
        elif not provided_by & declared:
            problems.append(
                f"{module} (imported by {files[0]}) comes from {sorted(provided_by)}, "
                "which pyproject.toml [project] dependencies does not declare")
    assert not problems, "\n".join(problems)
