"""`tiaokuai check`: each finding kind on its fixture, the seed policy clean, the evaluator
equal to durable_rules, structural limits equal to the engine's, activation refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine.analysis import space
from engine.analysis.check import STATIC_CHECKS, _Context, check_dir, gate, prove, static_findings
from engine.errors import PolicyError
from engine.lead.decide import decide
from engine.lead.facts import build_fact
from engine.policy.load import load_policy, policy_from_files
from engine.policy.model import Comparison
from engine.rules.compile import compile_policy
from engine.rules.durable import shared_adapter
from engine.rules.evaluate import PythonRules
from engine.rules.limits import analyse
from engine.runtime import Runtime
from tests.conftest import FIXTURES, ROOT, SEED_POLICY, runtime_for

CHECK = FIXTURES / "check"


def line_of(kind: str, text: str, file: str = "policy.yaml", after: str | None = None) -> int:
    """1-based line of the first `text` in a fixture file (after the line holding `after`)."""
    lines = (CHECK / kind / file).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and text in line) + 1


# kind → every finding expected as (code, id, text on the line it must point at, after which line)
EXPECTED: dict[str, list[tuple[str, str, str, str | None]]] = {
    "conflict": [("conflict", "R-B", "lead: dept-b", "id: R-B")],
    "gap": [("gap", "M1", 'lead: "@enforcement_team"', None), ("gap", "R-EARLY", "when: {matter: M2", None)],
    "shadowed": [("shadowed", "R-LOW", "id: R-LOW", None)],
    "unsatisfiable": [
        ("unsatisfiable", "R-RANGE", "severity: {gte: 5}", None),
        ("unsatisfiable", "R-DELEGATED", "delegated: true", None),
        ("unsatisfiable", "R-COMBO", "when:", "id: R-COMBO"),
    ],
    "lead_and_support": [
        ("lead_and_support", "M1", "supports: [dept-b, dept-a]", None),
        ("lead_and_support", "R-INHERIT", "then: {lead: dept-b}", "id: R-INHERIT"),
        ("lead_and_support", "R-TOWN", "supports: [town-a]", None),
    ],
    "org_not_in_force": [
        ("org_not_in_force", "M1", "lead: dept-old", None),
        ("org_not_in_force", "R-NEW", "supports: [dept-new]", None),
    ],
    "delegation_without_team": [("delegation_without_team", "DEL-1", "townships: [town-a, town-b]", None)],
    "hub_serves_own_team": [("hub_serves_own_team", "town-a", "serves: [town-b, town-c]", None)],
    "expired_reference": [("expired_reference", "R-OLD", "matter: [M1, M2]", None)],
    "structural_limit": [("structural_limit", "R-WIDE", "level: [1, 2, 3", None)],
    "unreachable_state": [("unreachable_state", "fx-life", "id: parked", None)],
    "no_way_out": [("no_way_out", "fx-life", "id: stuck", None)],
    "limit_never_started": [("limit_never_started", "M1", "id: M1", None)],
    "calendar_gap": [("calendar_gap", "fx-cal", "year: 2026", None)],
    "shared_alias": [("shared_alias", "M2", "id: M2", None)],
    "shared_place_name": [("shared_place_name", "town-b", "id: town-b", None)],
    "shared_cue": [("shared_cue", "site", "{id: farmland", None)],
    "example_misassigned": [("example_misassigned", "M1", "id: M1", None)],
    "clean": [],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_finding_kind_is_reported_on_its_fixture(kind: str) -> None:
    report = check_dir(CHECK / kind)
    got = {(f.code, f.id): f for f in report.findings}
    assert set(got) == {(code, ident) for code, ident, _, _ in EXPECTED[kind]}, [f.render() for f in report.findings]
    for code, ident, text, after in EXPECTED[kind]:
        finding = got[(code, ident)]
        assert (finding.file, finding.line) == ("policy.yaml", line_of(kind, text, after=after)), finding.render()
        assert not finding.message[0].isupper() and not finding.message.endswith("."), finding.message
        assert finding.hint, finding.render()


def test_error_kinds_are_found_without_enumerating() -> None:
    # the activation gate sees every error kind: its static pass alone reports them
    for kind in ("org_not_in_force", "delegation_without_team", "structural_limit"):
        codes = {f.code for f in static_findings(load_policy(CHECK / kind)) if f.severity == "error"}
        assert codes == {kind}


def test_load_findings_surface_with_lines() -> None:
    dup = check_dir(CHECK / "duplicate_id")
    assert [(f.code, f.file, f.line, f.id) for f in dup.findings] == [
        ("duplicate_id", "policy.yaml", line_of("duplicate_id", "id: M1"), "M1")
    ]
    assert dup.findings[0].hint == f"first defined at more.yaml:{line_of('duplicate_id', 'id: M1', 'more.yaml')}"
    bad = check_dir(CHECK / "unknown_condition")
    assert [(f.code, f.line) for f in bad.findings] == [
        ("unknown_attribute", line_of("unknown_condition", "sitee: river")),
        ("value_not_allowed", line_of("unknown_condition", "site: lake")),
    ]
    assert bad.findings[0].hint == "did you mean `site`?"
    assert not dup.proved and not bad.proved and dup.policy is None


def test_counter_examples_show_the_finding() -> None:
    policy = load_policy(CHECK / "conflict")
    (finding,) = check_dir(CHECK / "conflict").findings
    compiled = compile_policy(policy)
    for case in finding.examples:
        decision = decide(case, compiled, PythonRules(compiled).fire)
        assert decision.outcome == "conflict" and {c.id for c in decision.candidates} == {"dept-a", "dept-b"}
    (gap, _) = check_dir(CHECK / "gap").findings
    assert gap.examples and all(c.township == "town-b" for c in gap.examples)


def test_python_evaluator_fires_what_durable_rules_fires(seed_runtime: Runtime) -> None:
    """The equivalence `prove` rests on. `decide` is a function of the case and the fired
    rules, so equal fired sets give equal decisions: a seventh of the seed cases (every
    matter, township and date among them) compare the fired sets, every fixture case the
    whole decision; tests/engine/analysis/test_check_properties.py does the same on random policies."""
    compiled = seed_runtime.active.compiled
    names = seed_runtime.active.registration.names
    python = PythonRules(compiled)
    adapter = shared_adapter()
    seen: set[tuple[str | None, str, object]] = set()
    fired_any: set[str] = set()
    for n, case in enumerate(space.cases(seed_runtime.policy)):
        if n % 7:  # 7 is prime to the 20 townships and the dates: all of them are sampled
            continue
        shard = compiled.shard_of_matter[case.matter or ""]
        fact = build_fact(seed_runtime.policy, case)
        hits = python.fire(shard, fact)
        assert hits == sorted(adapter.fire(names[shard], fact), key=python.order), case
        seen.update({(case.matter, "", None), (None, case.township, None), (None, "", case.as_of)})
        fired_any.update(hits)
    policy = seed_runtime.policy
    assert len(seen) == len(policy.matters) + len(policy.townships()) + len(space.boundary_dates(policy))
    assert len(fired_any) > len(policy.matters)  # rules fired too, not only list defaults
    for kind in ("clean", "conflict", "gap", "shadowed", "unsatisfiable", "lead_and_support", "hub_serves_own_team", "expired_reference"):
        runtime = runtime_for(CHECK / kind)
        fixture = PythonRules(runtime.active.compiled)
        for case in space.cases(runtime.policy):
            assert decide(case, runtime.active.compiled, fixture.fire).to_dict() == runtime.decide(case).to_dict(), case


def named_matters(test: Comparison | None) -> set[str]:
    if test is None:
        return set()
    op, value = test.operator
    return {str(v) for v in value} if op == "in" else {str(value)} if op == "eq" else set()  # type: ignore[attr-defined]


def test_memoised_proof_equals_deciding_every_case() -> None:
    """`prove` reuses a decision for cases with the same matter, fired clauses and resolved
    leads: on a seventh of the cases of the seed's matters that rules name, and on fixtures,
    it finds what deciding each case finds."""
    seed = load_policy(SEED_POLICY)
    ruled = {m for r in seed.rules for m in named_matters(r.tests().get("matter"))}
    sample = [c for n, c in enumerate(space.cases(seed)) if c.matter in ruled and n % 7 == 0]
    fast, plain = prove(seed, cases=sample), prove(seed, memo=False, cases=sample)
    assert [(f.render(), f.examples) for f in fast[0]] == [(f.render(), f.examples) for f in plain[0]]
    assert fast[1] == plain[1] == len(sample) > 1000
    for path in (FIXTURES / "haiwan", *(CHECK / k for k in ("conflict", "gap", "shadowed", "lead_and_support"))):
        policy = load_policy(path)
        fast, plain = prove(policy), prove(policy, memo=False)
        assert [(f.render(), f.examples) for f in fast[0]] == [(f.render(), f.examples) for f in plain[0]], path
        assert fast[1] == plain[1]


def test_durable_engine_option_gives_the_same_findings() -> None:
    for kind in ("conflict", "shadowed", "unsatisfiable"):
        python, durable = check_dir(CHECK / kind), check_dir(CHECK / kind, evaluator="durable")
        assert [f.render() for f in durable.findings] == [f.render() for f in python.findings]
        assert durable.cases == python.cases


@pytest.mark.parametrize("kind", ["org_not_in_force", "delegation_without_team", "structural_limit"])
def test_activation_refuses_policies_with_errors(kind: str) -> None:
    with pytest.raises(PolicyError) as info:
        Runtime.from_dir(CHECK / kind)
    assert {f.code for f in info.value.findings} == {kind}


def test_swap_to_a_policy_with_errors_keeps_the_old_one() -> None:
    runtime = Runtime.from_dir(CHECK / "clean")
    before = runtime.active
    # would hang durable_rules' create_ruleset (600 sibling tests) if it got that far
    with pytest.raises(PolicyError, match="R-WIDE"):
        runtime.swap(load_policy(CHECK / "structural_limit"), "test")
    assert runtime.active is before


def test_gate_returns_warnings_and_passes_them() -> None:
    assert [f.code for f in gate(load_policy(CHECK / "hub_serves_own_team"))] == ["hub_serves_own_team"]
    assert gate(load_policy(SEED_POLICY)) == []


def test_gate_points_errors_at_the_key_and_warnings_at_their_item() -> None:
    """The gate does not compose a file again to locate a warning's key (a ×100 policy has
    ~25,000 of them); an error, which refuses the policy, is located as `check` locates it."""
    gated = {f.id: f for f in gate(load_policy(CHECK / "lead_and_support"))}
    checked = {f.id: f for f in static_findings(load_policy(CHECK / "lead_and_support"))}
    assert gated["M1"].line == line_of("lead_and_support", "id: M1")
    assert checked["M1"].line == line_of("lead_and_support", "supports: [dept-b, dept-a]") != gated["M1"].line
    assert [(f.code, f.message) for f in gated.values()] == [(f.code, f.message) for f in checked.values()]
    with pytest.raises(PolicyError) as refused:
        gate(load_policy(CHECK / "org_not_in_force"))
    assert sorted((f.id, f.line) for f in refused.value.findings) == [
        ("M1", line_of("org_not_in_force", "lead: dept-old")),
        ("R-NEW", line_of("org_not_in_force", "supports: [dept-new]")),
    ]


def test_each_static_check_reports_only_the_codes_it_declares() -> None:
    """The activation gate skips the checks whose codes are all warnings (`STATIC_CHECKS`): a
    check that reported an error code it does not declare could let an error through."""
    seen: set[str] = set()
    for fixture in sorted(p for p in CHECK.iterdir() if (p / "policy.yaml").is_file()):
        try:
            policy = load_policy(fixture)
        except PolicyError:
            continue
        ctx = _Context(policy)
        for check, codes in STATIC_CHECKS:
            found = {f.code for f in check(ctx)}
            assert found <= codes, (fixture.name, check.__name__, found - codes)
            seen |= found
    assert seen == set().union(*(codes for _, codes in STATIC_CHECKS))  # every declared code is exercised


def test_gate_without_warnings_refuses_the_same_errors() -> None:
    """Activation's gate (`warnings=False`) runs only the checks that can find an error: on every
    fixture it refuses exactly what the full gate refuses, with the same findings."""
    refused = 0
    for fixture in sorted(p for p in CHECK.iterdir() if (p / "policy.yaml").is_file()):
        try:
            policy = load_policy(fixture)
        except PolicyError:
            continue
        outcomes = []
        for warnings in (True, False):
            try:
                outcomes.append([f for f in gate(policy, warnings=warnings) if f.severity == "error"])
            except PolicyError as exc:
                outcomes.append(exc.findings)
        assert outcomes[0] == outcomes[1], fixture.name
        refused += bool(outcomes[0])
    assert refused >= 3
    assert gate(load_policy(CHECK / "hub_serves_own_team"), warnings=False) == []  # a warning-only check: skipped


def test_intake_self_test_is_checked_but_not_gated() -> None:
    """Ranking every example is `check`'s (warnings only); the activation gate leaves it out."""
    policy = load_policy(CHECK / "example_misassigned")
    assert "example_misassigned" in [f.code for f in static_findings(policy)]
    assert "example_misassigned" not in [f.code for f in gate(policy)]
    assert "example_misassigned" in [f.code for f in check_dir(CHECK / "example_misassigned", full=False).findings]


# --- durable_rules' structural limits: the model against the engine ---------------------------

GUARD = {"$ex": {"decision_id": 1}}


def shard(kind: str, n: int) -> dict[str, dict[str, object]]:
    def rule(terms: list[dict[str, object]]) -> dict[str, object]:
        return {"all": [{"m": {"$and": [GUARD, *terms]}}]}

    if kind == "forwards":  # n rules branching from the same test with the same `in` list
        return {f"r{i}": rule([{"matter": "M"}, {"$or": [{"s": "a"}, {"s": "b"}]}, {"k": i}]) for i in range(n)}
    if kind == "compound":  # one rule with n `in` conditions
        return {"r": rule([{"$or": [{f"a{i}": 1}, {f"a{i}": 2}]} for i in range(n)])}
    if kind == "identical":  # n rules with the same condition
        return {f"r{i}": rule([{"matter": "M"}]) for i in range(n)}
    return {"r": rule([{"$or": [{"x": i} for i in range(n)]}])}  # siblings: one `in` list of n values


# limit → (largest the model accepts, smallest it refuses, durable_rules' error code there, or
# None where durable_rules' answer past the limit is not defined). Past 128 forwards or 256
# identical rules rete.c reads one slot beyond its list before it checks the length, so whether
# it answers error 107/108 or `ok` depends on the heap (docs/durable_rules.md §3): a test must not assert
# that. What we guarantee there is the model's refusal, so compile never hands such a shard
# to durable_rules. Past 512 siblings create_ruleset hangs: only the accepted side is built.
LIMITS = {"forwards": (128, 129, None), "compound": (14, 15, "113"), "identical": (256, 257, None), "siblings": (480, 481, None)}

PROBE = """
import json, sys
from engine.rules.compile import CompiledPolicy
from engine.rules.durable import DurableRules
from engine.errors import EngineFailure
from engine.policy.load import load_policy, policy_from_files
policy = load_policy(sys.argv[1])
adapter = DurableRules()
out = []
for name, rules in json.load(sys.stdin):
    try:
        adapter.unregister(adapter.register(CompiledPolicy(policy, {"s": rules}, {}, {})))
        out.append([name, "ok"])
    except EngineFailure as exc:
        out.append([name, str(exc)])
print(json.dumps(out))
"""


def probe(shards: list[list[object]]) -> dict[str, str]:
    """Register each shard with the real adapter in a child process; name → "ok" or the error."""
    run = subprocess.run(
        [sys.executable, "-c", PROBE, str(CHECK / "clean")], input=json.dumps(shards), capture_output=True,
        text=True, timeout=120, cwd=ROOT, check=True,
    )
    return dict(json.loads(run.stdout))


def test_limit_model_matches_durable_rules_at_each_boundary() -> None:
    for kind, (ok, bad, _) in LIMITS.items():
        assert analyse({"s": shard(kind, ok)}) == [], kind
        assert {v.limit for v in analyse({"s": shard(kind, bad)})} == {kind}
    # the siblings boundary (513) hangs forever, so there only the largest accepted size is built
    accepted = probe([[k, shard(k, ok)] for k, (ok, _, _) in LIMITS.items()])
    assert accepted == dict.fromkeys(LIMITS, "ok")
    for kind, (_, bad, code) in LIMITS.items():
        if code:
            (result,) = probe([[kind, shard(kind, bad)]]).values()
            assert f"error code: {code}" in result, (kind, result)


def test_compile_refuses_what_the_model_refuses() -> None:
    from engine.errors import CompileError

    with pytest.raises(CompileError, match="R-WIDE"):
        compile_policy(load_policy(CHECK / "structural_limit"))


def test_fixture_dirs_match_the_catalogue() -> None:
    from engine.analysis.findings import KINDS

    dirs = {p.name for p in CHECK.iterdir() if p.is_dir()}
    assert set(KINDS) <= dirs and set(KINDS) <= set(EXPECTED)
    assert Path(CHECK / "clean" / "policy.yaml").is_file()


def test_enumeration_reaches_cells_narrower_than_a_unit() -> None:
    """Thresholds 2.5 and 2.7 leave a cell (2.5, 2.7) where both rules fire: it must be enumerated."""
    data = yaml.safe_load((CHECK / "clean" / "policy.yaml").read_text(encoding="utf-8"))
    data["attributes"].append({"id": "amount", "name": "金额", "type": "number", "minimum": 0, "maximum": 10})
    basis = [{"document": "测试依据(虚构)"}]
    data["rules"] += [
        {"id": "R-ABOVE", "title": "金额高于2.5", "kind": "amendment", "when": {"amount": {"gt": 2.5}}, "then": {"supports": ["dept-a"]}, "basis": basis},
        {"id": "R-BELOW", "title": "金额低于2.7", "kind": "amendment", "when": {"amount": {"lt": 2.7}}, "then": {"supports": ["dept-b"]}, "basis": basis},
    ]
    policy = policy_from_files({"policy.yaml": yaml.safe_dump(data, allow_unicode=True)})
    compiled = compile_policy(policy)
    python = PythonRules(compiled)
    both = [c for c in space.cases(policy) if {"R-ABOVE", "R-BELOW"} <= set(decide(c, compiled, python.fire).fired)]
    assert both and all(2.5 < c.attributes["amount"] < 2.7 for c in both)  # type: ignore[operator]
