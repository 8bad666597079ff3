"""Shared fixtures and the rule-coverage gate.

`--rule-coverage` (set by `make test`) fails the session unless every matter, every
rule and every grid admission criterion of the seed policy fired in at least one feature
scenario, and prints the table.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from engine.policy.grid import grid_of
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
SEED_POLICY = ROOT / "policy"
JURISDICTIONS = ROOT / "jurisdictions"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

pytest_plugins = [
    "tests.features.steps.lead", "tests.features.steps.grid", "tests.features.steps.cases", "tests.features.steps.intake", "tests.features.steps.layers",
    "tests.support.logdb", "tests.support.living_report",
]

# clause id → number of feature scenarios in which it fired / won (seed policy only)
FIRED: Counter[str] = Counter()
WON: Counter[str] = Counter()
# "county:clause:action[:township kind]" → scenarios that exercised a county's own change
LAYER_HITS: Counter[str] = Counter()


def layer_key(county: str, clause: str, action: str, township_kind: str | None = None) -> str:
    return ":".join([county, clause, action, *([township_kind] if township_kind else [])])


def record_layer(county: str, clause: str, action: str, township_kind: str | None = None) -> None:
    LAYER_HITS[layer_key(county, clause, action, township_kind)] += 1


def layer_changes() -> list[str]:
    """Every change a served county makes to its template: overrides, removals, additions."""
    from engine.jurisdictions import county_dirs
    from engine.policy.layers import CLAUSE_SECTIONS

    keys: list[str] = []
    for directory in county_dirs(JURISDICTIONS):
        policy = runtime_for(directory).policy
        if not policy.layered:
            continue
        for (section, clause), changes in policy.history.items():
            if section not in CLAUSE_SECTIONS:
                continue
            if changes[0].layer == policy.id:
                keys.append(layer_key(policy.id, clause, "added"))
            keys += [layer_key(c.layer, clause, "override", c.township_kind) for c in changes[1:] if c.layer == policy.id]
        keys += [layer_key(policy.id, clause, "remove") for (_, clause), c in policy.removed.items() if c.layer == policy.id]
    return sorted(set(keys))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--rule-coverage", action="store_true", help="fail unless every seed clause fired in a feature")


_runtimes: dict[str, Runtime] = {}


def runtime_for(path: Path) -> Runtime:
    """One Runtime per policy directory for the whole session (durable_rules is per process)."""
    key = str(path.resolve())
    if key not in _runtimes:
        _runtimes[key] = Runtime.from_dir(path)
    return _runtimes[key]


@pytest.fixture(scope="session")
def seed_runtime() -> Runtime:
    return runtime_for(SEED_POLICY)


@pytest.fixture(scope="session")
def client(seed_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("db") / "log.sqlite3"
    app = create_app(Settings(SEED_POLICY, f"sqlite:///{db}"), runtime=seed_runtime)
    with TestClient(app) as c:
        yield c


def record_decision(policy_dir: Path, decision: dict[str, Any]) -> None:
    if policy_dir.resolve() != SEED_POLICY.resolve():
        return
    FIRED.update(decision["fired"])
    if decision["outcome"] != "dispatch":
        WON[decision["rule"]["id"]] += 1


# A grid criterion "wins" a review when its severity decided the outcome.
DECIDING_SEVERITY = {"rejected": "reject", "returned": "return", "admitted": "note"}


def record_review(policy_dir: Path, review: dict[str, Any]) -> None:
    if policy_dir.resolve() != SEED_POLICY.resolve():
        return
    FIRED.update(review["fired"])
    WON.update(f["criterion"] for f in review["findings"] if f["severity"] == DECIDING_SEVERITY[review["outcome"]])


def _coverage_rows() -> list[tuple[str, str, int, int]]:
    policy = runtime_for(SEED_POLICY).policy
    rows = [("matter", m, FIRED[m], WON[m]) for m in policy.matters]
    rows += [("rule", r.id, FIRED[r.id], WON[r.id]) for r in policy.rules]
    grid = grid_of(policy)
    rows += [("criterion", c.id, FIRED[c.id], WON[c.id]) for c in (grid.criteria if grid else ())]
    rows += [("layer", key, LAYER_HITS[key], LAYER_HITS[key]) for key in layer_changes()]
    return rows


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not session.config.getoption("--rule-coverage"):
        return
    rows = _coverage_rows()
    missing = [r for r in rows if r[2] == 0]
    out = ROOT / "out"
    out.mkdir(exist_ok=True)
    (out / "rule_coverage.json").write_text(
        json.dumps([{"kind": k, "id": i, "fired": f, "won": w} for k, i, f, w in rows], ensure_ascii=False, indent=1)
    )
    session.config.stash[_missing_key] = missing
    if missing and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_missing_key = pytest.StashKey[list[tuple[str, str, int, int]]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if not config.getoption("--rule-coverage"):
        return
    rows = _coverage_rows()
    tr = terminalreporter
    tr.section("rule coverage (seed policy, feature scenarios)")
    tr.write_line(f"{'kind':<9} {'id':<28} {'fired':>5} {'won':>5}")
    for kind, ident, fired, won in rows:
        flag = "" if fired else "   <-- never exercised"
        tr.write_line(f"{kind:<9} {ident:<28} {fired:>5} {won:>5}{flag}")
    covered = sum(1 for r in rows if r[2])
    tr.write_line(f"covered {covered}/{len(rows)} clauses ({100 * covered // max(len(rows), 1)} %)")
    missing = config.stash.get(_missing_key, [])
    if missing:
        tr.write_line("RULE COVERAGE GATE FAILED: " + ", ".join(i for _, i, _, _ in missing), red=True)


# Reading the decision log needs a token with scope decisions:read (api/http/auth.py).
AUDITOR_TOKEN = "auditor-token-for-the-test-suite-0000"
AUDITOR = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
AUDITOR_TOKENS = f'{{"tokens": [{{"name": "auditor", "token": "{AUDITOR_TOKEN}", "scopes": ["decisions:read"]}}]}}'


def auditor_auth() -> Any:
    from api.tokens import AuthConfig

    return AuthConfig.parse(AUDITOR_TOKENS, "tests")

