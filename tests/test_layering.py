"""Imports run one way: api → engine → durable_rules, and only engine/rules/durable.py imports durable."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

FORBIDDEN_IN_ENGINE = ("api", "fastapi", "starlette", "uvicorn", "typer")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_never_imports_the_edges() -> None:
    for path in (ROOT / "engine").rglob("*.py"):
        bad = _imports(path) & set(FORBIDDEN_IN_ENGINE)
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_only_the_adapter_imports_durable_rules() -> None:
    users = {p.relative_to(ROOT).as_posix() for p in (ROOT / "engine").rglob("*.py") if "durable" in _imports(p)}
    assert users == {"engine/rules/durable.py"}
