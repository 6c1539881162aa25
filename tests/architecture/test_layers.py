"""The house rules of the code (docs/architecture.md), checked from the package's own imports.

(the floors themselves are import-linter contracts in ``pyproject.toml``, run by ``make lint``);
- no import cycle between modules, deferred (function-level) imports included, so a cycle
  cannot hide behind an import inside a function;
- infantall modules are imported at the top of a module; an import inside a function is kept
  for heavy third-party libraries, and only in commands and web routes (start-up time);
- no ``importlib`` loading of infantall modules outside command discovery in ``cli.py``;
- no module over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "infantall"
MAX_LINES = 500
#: Parts where an import inside a function is allowed (heavy libraries, kept out of start-up).
DEFERRED_OK = ("commands/", "web/", "cli.py")


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("infantall", include_external_packages=False, cache_dir=None)
    # A package's __init__ importing its own submodules is not a cycle of the design.
    for module in list(graph.modules):
        for child in graph.find_children(module):
            if graph.direct_import_exists(importer=module, imported=child):
                graph.remove_import(importer=module, imported=child)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                cycles.append(f"{importer} -> {' -> '.join(back)}")
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def _deferred_infantall_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("infantall"):
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.module}")
            elif isinstance(node, ast.Import) and any(
                a.name.startswith("infantall") for a in node.names
            ):
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    return found


def test_infantall_imports_are_not_deferred_in_lower_parts() -> None:
    found = [
        hit
        for p in _modules()
        if not str(p.relative_to(SRC)).startswith(DEFERRED_OK)
        for hit in _deferred_infantall_imports(p)
    ]
    assert found == [], (
        "imports of infantall inside functions (move them to the top):\n" + "\n".join(found)
    )


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_size(path: Path) -> None:
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(SRC)} has {n} lines (limit {MAX_LINES}): split it"


def test_no_importlib_loading_outside_cli() -> None:
    hits = [
        str(p.relative_to(SRC))
        for p in _modules()
        if p.name != "cli.py" and "import_module(" in p.read_text(encoding="utf-8")
    ]
    assert hits == []
