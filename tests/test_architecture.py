"""The house's rules, checked on the source: imports run one way, api/ goes through the facades,
there is no import cycle, every engine error has an HTTP mapping, the README maps every module.

Layers, lowest first (a module may import its own package and any lower layer, never a higher
one or a sibling package of its own layer):

    errors, version  ←  policy  ←  rules, intake  ←  lead, admission, listing  ←  analysis, log  ←  cases
                     ←  runtime, reload, replay, jurisdictions (engine/*.py)  ←  api
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import engine.errors
from tests.conftest import ROOT

LAYERS: dict[str, int] = {
    "errors": 0, "version": 0,
    "policy": 1,
    "rules": 2, "intake": 2,
    "lead": 3, "admission": 3, "listing": 3,
    "analysis": 4, "log": 4,
    "cases": 5,
    "runtime": 6, "reload": 6, "replay": 6, "impact": 6, "jurisdictions": 6,
}  # fmt: skip
TOP_LEVEL = {"runtime", "reload", "replay", "impact", "jurisdictions"}  # one layer, one "package": they may import each other


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(top: str) -> dict[str, Path]:
    return {_module_name(p): p for p in (ROOT / top).rglob("*.py")}


def _imported(path: Path, module: str) -> Iterator[tuple[str, int]]:
    """Every absolute module an import in `path` names (with `from X import y`, both X and X.y),
    with its line; function-level imports count too."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def _unit(module: str) -> str:
    """The layer unit of an engine module: its subpackage, or the top-level module's name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "facade"


def test_engine_imports_run_down_the_layers() -> None:
    modules = _modules("engine")
    problems = []
    for module, path in modules.items():
        unit = _unit(module)
        if unit == "facade":
            continue  # engine/__init__.py re-exports from every layer
        for target, line in _imported(path, module):
            if target not in modules or _unit(target) in ("facade", unit):
                continue
            other = _unit(target)
            same_top = unit in TOP_LEVEL and other in TOP_LEVEL
            if LAYERS[other] > LAYERS[unit] or (LAYERS[other] == LAYERS[unit] and not same_top):
                problems.append(f"{path.relative_to(ROOT)}:{line}: {unit} imports {target} ({other})")
    assert not problems, "\n".join(problems)


def test_every_engine_package_has_a_layer() -> None:
    units = {_unit(m) for m in _modules("engine")} - {"facade"}
    assert units == set(LAYERS), "give each new engine package a layer in LAYERS (and in the README)"


def test_api_imports_only_the_engine_facades() -> None:
    facades = {m for m, p in _modules("engine").items() if p.name == "__init__.py"}
    problems = []
    for path in _modules("api").values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names] if isinstance(node, ast.Import) else []
            problems += [f"{path.relative_to(ROOT)}:{node.lineno}: imports {t}" for t in names if t.split(".")[0] == "engine" and t not in facades]
    assert not problems, "api/ reaches past the facades:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {}
    for top in ("engine", "api"):
        modules = _modules(top)
        for module, path in modules.items():
            graph[module] = {t for t, _ in _imported(path, module) if t in modules and t != module}
    facades = {m for m in graph if (ROOT / m.replace(".", "/") / "__init__.py").exists()}
    # a package's __init__ importing its own submodules is how a facade works, not a cycle
    edges = {m: {t for t in ts if not (m in facades and t.startswith(m + "."))} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_every_engine_error_has_an_http_mapping() -> None:
    from fastapi import FastAPI

    from api.http import errors as http_errors

    app = FastAPI()
    http_errors.install(app)
    classes = [c for _, c in inspect.getmembers(engine.errors, inspect.isclass) if issubclass(c, Exception) and c.__module__ == "engine.errors"]
    assert len(classes) >= 8
    unmapped = [c.__name__ for c in classes if c not in app.exception_handlers and not issubclass(c, engine.errors.CaseError)]
    assert not unmapped, f"map these in api/http/errors.py: {unmapped}"


def test_error_classes_live_in_the_one_module() -> None:
    found = []
    for module, path in _modules("engine").items():
        if module == "engine.errors":
            continue
        found += [
            f"{path.relative_to(ROOT)}: {node.name}"
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ClassDef) and any(isinstance(b, ast.Name) and b.id.endswith(("Error", "Failure")) for b in node.bases)
        ]
    assert not found, f"engine errors belong in engine/errors.py: {found}"


def test_error_codes_come_from_the_registry() -> None:
    """No snake_case code literal is passed where an error is raised; codes are ErrorCode members."""
    codes = {c.value for c in engine.errors.ErrorCode}
    pattern = re.compile(r'(?:CaseError|ProposalError|ApiError|AuthError|PageError|error_response)\([^)]*?"(' + "|".join(codes) + r')"')
    offenders = []
    for top in ("engine", "api"):
        for path in (ROOT / top).rglob("*.py"):
            offenders += [f"{path.relative_to(ROOT)}: {m.group(1)}" for m in pattern.finditer(path.read_text(encoding="utf-8"))]
    assert not offenders, offenders


def test_readme_module_map_lists_every_module() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Module map", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"`((?:engine|api)/[\w/]+\.py)`", section))
    present = {p.relative_to(ROOT).as_posix() for top in ("engine", "api") for p in (ROOT / top).rglob("*.py")
               if "migrations/versions" not in p.as_posix()}
    missing = sorted(present - listed)
    stale = sorted(listed - present)
    assert not missing and not stale, f"README module map: missing {missing}, stale {stale}"


def test_one_china_time_zone() -> None:
    """China time (UTC+8) is defined once, as engine.cases.CHINA; everything else imports it."""
    pattern = re.compile(r"timezone\(\s*timedelta\(\s*hours\s*=\s*8|ZoneInfo\(\s*[\"']Asia/Shanghai")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for top in ("engine", "api", "bench")
        for path in (ROOT / top).rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == ["engine/cases/clock.py:25"], found
