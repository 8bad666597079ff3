"""The zh-CN features as living documentation: scenarios, the clauses they exercise, results.

`load_features(dir)` parses every `*.feature` with the official Gherkin parser (the one
pytest-bdd uses) and `attach_results(features, cucumber_json)` adds the last run's outcome
from the cucumber JSON that `make test` writes (`--cucumberjson=out/cucumber.json`).
A scenario exercises a clause when it carries the tag `@rule:ID` or `@criterion:ID` (on
the scenario, its `规则:` block, its feature or an `例子:` table).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gherkin.errors import CompositeParserException
from gherkin.parser import Parser

# Tags that name the clause a scenario exercises: lead rules and matters, grid criteria.
CLAUSE_TAGS = ("rule:", "criterion:")
# The order in which a group of runs reports: the worst status wins.
SEVERITY = ("failed", "undefined", "pending", "skipped", "not run", "passed")
STATUS_ZH = {
    "passed": "通过",
    "failed": "失败",
    "skipped": "跳过",
    "undefined": "未定义",
    "pending": "待定",
    "not run": "未运行",
}


@dataclass
class StepResult:
    status: str
    error: str | None = None
    duration_ms: float | None = None


@dataclass
class Step:
    keyword: str
    text: str
    line: int
    docstring: str | None = None
    table: list[list[str]] | None = None
    results: list[StepResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        return worst(r.status for r in self.results)


@dataclass
class Examples:
    name: str
    tags: list[str]
    header: list[str]
    rows: list[list[str]]
    row_lines: list[int]
    statuses: list[str] = field(default_factory=list)


@dataclass
class Run:
    """One execution of a scenario (an outline runs once per example row)."""

    status: str
    error: str | None
    duration_ms: float


@dataclass
class Scenario:
    feature_uri: str
    line: int
    keyword: str
    name: str
    description: str
    tags: list[str]  # effective: feature, rule and scenario tags
    steps: list[Step]
    examples: list[Examples]
    rule_block: str | None = None
    runs: list[Run] = field(default_factory=list)

    @property
    def clause_ids(self) -> list[str]:
        tags = [*self.tags, *(t for table in self.examples for t in table.tags)]
        return list(dict.fromkeys(clause_of(t) for t in tags if clause_of(t)))

    @property
    def status(self) -> str:
        return worst(r.status for r in self.runs)

    @property
    def anchor(self) -> str:
        return anchor(self.feature_uri, self.line)

    @property
    def expected_runs(self) -> int:
        return sum(len(e.rows) for e in self.examples) or 1


@dataclass
class Feature:
    uri: str  # relative to the features directory
    name: str
    keyword: str
    description: str
    language: str
    tags: list[str]
    background: list[Step]
    scenarios: list[Scenario]
    error: str | None = None

    @property
    def status(self) -> str:
        return worst(s.status for s in self.scenarios)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(SEVERITY, 0)
        for scenario in self.scenarios:
            out[scenario.status] += 1
        return out


def clause_of(tag: str) -> str:
    """The clause id a tag names (`rule:WAT-01` → `WAT-01`), or "" for other tags."""
    prefix = next((p for p in CLAUSE_TAGS if tag.startswith(p)), None)
    return tag[len(prefix) :] if prefix else ""


def worst(statuses: Any) -> str:
    seen = list(statuses)
    if not seen:
        return "not run"
    return str(min(seen, key=lambda s: SEVERITY.index(s) if s in SEVERITY else 0))


def anchor(uri: str, line: int) -> str:
    """A stable HTML id for a scenario: `s-water-11` for features/water.feature line 11."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", uri.removesuffix(".feature")).strip("-")
    return f"s-{stem}-{line}"


def _tags(node: dict[str, Any]) -> list[str]:
    return [str(t["name"]).lstrip("@") for t in node.get("tags", [])]


def _steps(node: dict[str, Any]) -> list[Step]:
    steps = []
    for raw in node.get("steps", []):
        table = raw.get("dataTable")
        steps.append(
            Step(
                keyword=str(raw["keyword"]).strip(),
                text=str(raw["text"]),
                line=int(raw["location"]["line"]),
                docstring=raw["docString"]["content"] if raw.get("docString") else None,
                table=[[c["value"] for c in r["cells"]] for r in table["rows"]] if table else None,
            )
        )
    return steps


def _scenario(uri: str, node: dict[str, Any], inherited: list[str], rule_block: str | None) -> Scenario:
    examples = [
        Examples(
            name=str(e.get("name", "")),
            tags=_tags(e),
            header=[c["value"] for c in e["tableHeader"]["cells"]] if e.get("tableHeader") else [],
            rows=[[c["value"] for c in r["cells"]] for r in e.get("tableBody", [])],
            row_lines=[int(r["location"]["line"]) for r in e.get("tableBody", [])],
        )
        for e in node.get("examples", [])
    ]
    return Scenario(
        feature_uri=uri,
        line=int(node["location"]["line"]),
        keyword=str(node["keyword"]).strip(),
        name=str(node["name"]),
        description=_dedent(str(node.get("description", ""))),
        tags=list(dict.fromkeys(inherited + _tags(node))),
        steps=_steps(node),
        examples=examples,
        rule_block=rule_block,
    )


def _dedent(text: str) -> str:
    return "\n".join(line.strip() for line in text.strip().splitlines())


def parse_feature(uri: str, text: str) -> Feature:
    """One feature file; a file the parser rejects becomes a Feature carrying the error."""
    try:
        document: Any = Parser().parse(text)
    except CompositeParserException as exc:
        return Feature(uri, uri, "", "", "", [], [], [], error=str(exc))
    node = document.get("feature")
    if not node:
        return Feature(uri, uri, "", "", "", [], [], [], error="no feature in file")
    feature_tags = _tags(node)
    background: list[Step] = []
    scenarios: list[Scenario] = []
    for child in node.get("children", []):
        if "background" in child:
            background = _steps(child["background"])
        elif "scenario" in child:
            scenarios.append(_scenario(uri, child["scenario"], feature_tags, None))
        elif "rule" in child:
            rule = child["rule"]
            scenarios.extend(
                _scenario(uri, grandchild["scenario"], feature_tags + _tags(rule), str(rule["name"]))
                for grandchild in rule.get("children", [])
                if "scenario" in grandchild
            )
    return Feature(
        uri=uri,
        name=str(node["name"]),
        keyword=str(node["keyword"]),
        description=_dedent(str(node.get("description", ""))),
        language=str(node.get("language", "en")),
        tags=feature_tags,
        background=background,
        scenarios=scenarios,
    )


def load_features(root: Path) -> list[Feature]:
    """Every feature under `root`, sorted by path (uri relative to root)."""
    if not root.is_dir():
        return []
    return [
        parse_feature(path.relative_to(root).as_posix(), path.read_text(encoding="utf-8"))
        for path in sorted(root.rglob("*.feature"))
    ]


def read_cucumber(path: Path | None) -> list[dict[str, Any]] | None:
    """The cucumber JSON of the last run, or None when it is absent or unreadable."""
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, list) else None


def _same_file(uri: str, feature_uri: str) -> bool:
    uri = uri.replace("\\", "/")
    return uri == feature_uri or uri.endswith("/" + feature_uri)


def attach_results(features: list[Feature], cucumber: list[dict[str, Any]] | None) -> None:
    """Add each run in the cucumber JSON to its scenario (matched by file and line)."""
    if not cucumber:
        return
    for entry in cucumber:
        uri = str(entry.get("uri", ""))
        feature = next((f for f in features if _same_file(uri, f.uri)), None)
        if feature is None:
            continue
        by_line = {s.line: s for s in feature.scenarios}
        for element in entry.get("elements", []):
            scenario = by_line.get(int(element.get("line", -1)))
            if scenario is None:
                continue
            results = {int(s.get("line", -1)): s.get("result", {}) for s in element.get("steps", [])}
            statuses = [str(r.get("status", "undefined")) for r in results.values()]
            errors = [str(r["error_message"]) for r in results.values() if r.get("error_message")]
            duration = sum(float(r.get("duration", 0) or 0) for r in results.values()) / 1e6
            # pytest-bdd omits the steps after a failed one; the scenario status is the worst seen.
            scenario.runs.append(Run(worst(statuses) if statuses else "undefined", errors[0] if errors else None, duration))
            for step in [*feature.background, *scenario.steps]:
                if step.line in results:
                    r = results[step.line]
                    step.results.append(StepResult(str(r.get("status", "undefined")), r.get("error_message"), float(r.get("duration", 0) or 0) / 1e6))
        for scenario in feature.scenarios:
            rows = [row for table in scenario.examples for row in table.rows]
            statuses = [run.status for run in scenario.runs]
            flat = iter(statuses + ["not run"] * (len(rows) - len(statuses)))
            for table in scenario.examples:
                table.statuses = [next(flat) for _ in table.rows]


_cache: dict[tuple[str, str], tuple[tuple[object, ...], list[Feature], bool]] = {}
_cache_lock = threading.Lock()


def _signature(root: Path, cucumber: Path | None) -> tuple[object, ...]:
    paths = sorted(root.rglob("*.feature")) if root.is_dir() else []
    if cucumber is not None:
        paths.append(cucumber)
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.is_file())


def features_with_results(root: Path, cucumber: Path | None) -> tuple[list[Feature], bool]:
    """The features under `root` with the last run's results attached, and whether there were any.

    Parsed once per change of the files (by mtime and size); callers must not modify the result.
    """
    key = (str(root), str(cucumber))
    signature = _signature(root, cucumber)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == signature:
            return hit[1], hit[2]
    features = load_features(root)
    results = read_cucumber(cucumber)
    attach_results(features, results)
    with _cache_lock:
        _cache[key] = (signature, features, results is not None)
    return features, results is not None


def by_clause(features: list[Feature]) -> dict[str, list[Scenario]]:
    """Clause id → the scenarios tagged with it, in feature order."""
    index: dict[str, list[Scenario]] = {}
    for feature in features:
        for scenario in feature.scenarios:
            for clause_id in scenario.clause_ids:
                index.setdefault(clause_id, []).append(scenario)
    return index


def summary(features: list[Feature]) -> dict[str, int]:
    out = dict.fromkeys(SEVERITY, 0)
    for feature in features:
        for status, n in feature.counts().items():
            out[status] += n
    return out
