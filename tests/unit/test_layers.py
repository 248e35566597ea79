"""Layers import one way (docs/ARCHITECTURE.md, layers): the domain is plain Python that
imports no UI or I/O library and nothing of opsui outside the domain; backends never
import the UI; and no module of opsui imports itself back through others (a cycle makes
import order matter and hides which layer owns what).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

FORBIDDEN_IN_DOMAIN = ("textual", "rich", "docker", "paramiko", "psutil", "httpx")
PACKAGE = Path(__file__).resolve().parents[2] / "opsui"
OUTSIDE_THE_DOMAIN = ("opsui.config", "opsui.backends", "opsui.ui", "opsui.wiring",
                      "opsui.cli")
"""What the domain never imports: the settings it reads are its own types
(opsui.domain.settings); config, backends, UI and wiring import the domain, never back."""


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST, typing_only: bool
                  ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under ``node`` (module level, in functions, in classes),
    with whether it sits in an ``if TYPE_CHECKING:`` block (never run)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, typing_only
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), True)
            for stmt in child.orelse:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]),
                                         typing_only)
        else:
            yield from _import_nodes(child, typing_only)


def _opsui_imports(module: str, *, typing_only_too: bool) -> set[str]:
    """The opsui modules ``module`` imports: ``from X import n`` names X, and X.n when n
    is a module (``from opsui import config``); relative imports are resolved."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node, typing_only in _import_nodes(ast.parse(path.read_text()), False):
        if typing_only and not typing_only_too:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        found.add(base)
        found.update(f"{base}.{alias.name}" for alias in node.names
                     if f"{base}.{alias.name}" in MODULES)
    return {name for name in found if name == "opsui" or name.startswith("opsui.")} - {module}


def _import_graph(*, typing_only_too: bool) -> dict[str, set[str]]:
    return {module: {m for m in _opsui_imports(module, typing_only_too=typing_only_too)
                     if m in MODULES}
            for module in MODULES}


def _a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``a -> b -> a``) when there is one, else None."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(module: str) -> list[str] | None:
        path.append(module)
        on_path.add(module)
        for target in sorted(graph[module]):
            if target in on_path:
                return [*path[path.index(target):], target]
            if target not in done:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        on_path.discard(module)
        done.add(module)
        return None

    for module in sorted(graph):
        if module not in done:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


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
    ui = {module: sorted(m for m in _opsui_imports(module, typing_only_too=True)
                         if m == "opsui.ui" or m.startswith("opsui.ui."))
          for module in MODULES if module.startswith("opsui.backends.")}
    assert {module: names for module, names in ui.items() if names} == {}


def test_ui_never_imports_docker_or_paramiko() -> None:
    sources = "\n".join(p.read_text() for p in Path("opsui/ui").rglob("*.py"))
    for name in ("docker", "paramiko", "opsui.backends"):
        assert f"import {name}" not in sources and f"from {name}" not in sources


def test_domain_imports_nothing_of_opsui_outside_the_domain() -> None:
    """Read from the source, TYPE_CHECKING imports included: a type the domain needs
    from config, a backend or the UI belongs in the domain."""
    outside = {module: sorted(m for m in _opsui_imports(module, typing_only_too=True)
                              if m.startswith(OUTSIDE_THE_DOMAIN))
               for module in MODULES if module.startswith("opsui.domain")}
    assert {module: names for module, names in outside.items() if names} == {}


def test_no_import_cycles_in_opsui() -> None:
    """Imports that run (module level and inside functions) form no cycle; move what two
    modules share into a leaf module (as opsui.ui.sessions, opsui.domain.release_copies)."""
    cycle = _a_cycle(_import_graph(typing_only_too=False))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_import_cycles_through_type_checking_imports() -> None:
    """A type imported back only for annotations is a cycle in the design all the same
    (the UI's release screens once imported their flow for its session types)."""
    cycle = _a_cycle(_import_graph(typing_only_too=True))
    assert cycle is None, "import cycle (with TYPE_CHECKING imports): " + " -> ".join(
        cycle or [])
