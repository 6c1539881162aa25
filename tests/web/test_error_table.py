"""The registry's error table (issue 14): README, OpenAPI and the code agree, and every
top-level error code the registry services and the web layer raise is in the table."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from infantall.registry.error_codes import REGISTRY_ERROR_CODES

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "infantall"
#: Calls whose code argument is a top-level problem code: name -> position of the code.
_CODE_ARG = {
    "RegistryError": 1,
    "ConflictError": 1,
    "PermissionDeniedError": 1,
    "AuthenticationError": 1,
    "NotFoundError": 1,
    "problem": 2,
    "_Reject": 2,
}
#: Module-level constants that name a code (``RECORD_LOCKED = "record_locked"``).
_CONSTANT = re.compile(r"^[A-Z_]+$")


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else None


def _literal(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name | ast.Attribute):
        return constants.get(_name(node) or "")
    return None


def _codes_in(tree: ast.Module, constants: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in _CODE_ARG:
            at = _CODE_ARG[_name(node.func) or ""]
            arg = node.args[at] if len(node.args) > at else None
            keyword = next((k.value for k in node.keywords if k.arg == "code"), None)
            code = _literal(arg if arg is not None else keyword, constants)
            if code is not None:
                found.add(code)
        if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
            for item in node.body:
                if isinstance(item, ast.Assign) and [ast.unparse(t) for t in item.targets] == [
                    "code"
                ]:
                    code = _literal(item.value, constants)
                    if code is not None:
                        found.add(code)
    return found


def _raised_codes() -> set[str]:
    files = [*(SRC / "registry").rglob("*.py"), *(SRC / "web").rglob("*.py")]
    files += list((SRC / "services").rglob("*.py"))
    trees = {f: ast.parse(f.read_text(encoding="utf-8")) for f in files}
    constants: dict[str, str] = {}
    for tree in trees.values():
        for node in tree.body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target, value = node.targets[0], node.value
            named = isinstance(target, ast.Name) and _CONSTANT.match(target.id)
            if named and isinstance(value, ast.Constant) and isinstance(value.value, str):
                constants[ast.unparse(target)] = value.value
    found: set[str] = set()
    for tree in trees.values():
        found |= _codes_in(tree, constants)
    return found


def test_every_raised_code_is_in_the_table() -> None:
    raised = _raised_codes()
    assert {"record_locked", "pooled_only", "totp_enrolment_code_invalid"} <= raised
    assert raised - set(REGISTRY_ERROR_CODES) == set()


def test_the_readme_table_equals_the_code() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- registry-error-codes:start -->")[1]
    block = block.split("<!-- registry-error-codes:end -->")[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| (\d{3}) \| (.+) \|$", block, flags=re.M)
    assert {c: (int(s), m) for c, s, m in rows} == REGISTRY_ERROR_CODES
    assert len(rows) == len(REGISTRY_ERROR_CODES)


def test_openapi_carries_the_table(app: Any) -> None:
    problem = app.openapi()["components"]["schemas"]["Problem"]
    table = problem["x-error-codes"]
    assert table == {c: {"status": s, "meaning": m} for c, (s, m) in REGISTRY_ERROR_CODES.items()}
    assert "x-error-codes" in problem["properties"]["code"]["description"]
