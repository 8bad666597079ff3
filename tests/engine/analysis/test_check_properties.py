"""Property-based tests (hypothesis) over random valid policies.

1. The checker never crashes, whatever the policy (static pass, enumeration, report), and
   its memoised enumeration finds exactly what deciding every case finds.
2. The enumeration covers every rule's conditions: any case at all (any township, date,
   attribute values in the vocabulary) fires a set of clauses that some enumerated case
   fires too; so each satisfiable rule fires in some enumerated case.
3. The Python evaluator `prove` relies on fires what durable_rules fires.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.analysis import space
from engine.analysis.check import check_policy, prove, static_findings
from engine.errors import PolicyError
from engine.lead.decision import Case
from engine.lead.facts import build_fact
from engine.policy.index import Policy
from engine.policy.load import policy_from_files
from engine.rules.compile import compile_policy
from engine.rules.durable import shared_adapter
from engine.rules.evaluate import PythonRules

PROFILE = settings(
    max_examples=40, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DAYS = [None, date(2024, 1, 1), date(2025, 1, 1), date(2026, 7, 1)]
BASIS = [{"document": "随机依据(测试)"}]


def _window(draw: st.DrawFn) -> dict[str, date]:
    start, end = draw(st.sampled_from(DAYS)), draw(st.sampled_from(DAYS))
    out = {}
    if start is not None:
        out["valid_from"] = start
    if end is not None and (start is None or end > start):
        out["valid_until"] = end
    return out


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    """A random policy that loads: a few bodies, townships (teams, a 1+X hub), attributes of
    every type, matters, rules of every kind and operator, delegations, validity dates."""
    depts = [f"dept-{i}" for i in range(draw(st.integers(1, 3)))]
    towns = [f"town-{i}" for i in range(draw(st.integers(1, 3)))]
    orgs: list[dict[str, Any]] = [
        {"id": "centre", "name": "中心", "kind": "centre"},
        {"id": "bb", "name": "编办", "kind": "arbiter"},
    ]
    for i, d in enumerate(depts):
        org = {"id": d, "name": f"部门{i}", "kind": "department", **(_window(draw) if draw(st.integers(0, 3)) == 0 else {})}
        if "valid_until" in org and i + 1 < len(depts) and draw(st.booleans()):
            org["successor"] = depts[i + 1]
        orgs.append(org)
    teams = {t for t in towns if draw(st.booleans())}
    hub = draw(st.sampled_from(sorted(teams))) if teams and draw(st.booleans()) else None
    for i, t in enumerate(towns):
        org = {"id": t, "name": f"镇{i}", "kind": draw(st.sampled_from(["township", "street"]))}
        if t in teams:
            org["enforcement_team"] = f"{t}-team"
            orgs.append({"id": f"{t}-team", "name": f"镇{i}执法队", "kind": "team", "parent": t, **(_window(draw) if draw(st.integers(0, 3)) == 0 else {})})
        if t == hub:
            org["serves"] = [x for x in towns if x != t and draw(st.booleans())]
        orgs.append(org)

    attrs: list[dict[str, Any]] = []
    domains: dict[str, list[Any]] = {}  # attribute → values a case may carry
    if draw(st.booleans()):
        values = ["a", "b", "c"][: draw(st.integers(1, 3))]
        attr: dict[str, Any] = {"id": "site", "name": "现场", "type": "enum", "values": [{"id": v, "name": v} for v in values]}
        if draw(st.booleans()):
            attr["default"] = values[0]
        attrs.append(attr)
        domains["site"] = values
    if draw(st.booleans()):
        attrs.append({"id": "flag", "name": "标志", "type": "bool", **({"default": False} if draw(st.booleans()) else {})})
        domains["flag"] = [True, False]
    if draw(st.booleans()):
        attrs.append({"id": "level", "name": "等级", "type": "int", "minimum": 1, "maximum": 6, **({"default": 1} if draw(st.booleans()) else {})})
        domains["level"] = list(range(1, 7))
    if draw(st.booleans()):
        attrs.append({"id": "amount", "name": "金额", "type": "number", "minimum": 0, "maximum": 10})
        domains["amount"] = [0.0, 10.0]  # a range: cases draw floats in it
    if draw(st.booleans()):
        attrs.append({"id": "other", "name": "另一乡镇", "type": "township"})
        domains["other"] = towns

    leads = [*depts, "@township", "@enforcement_team"] + (["@other"] if "other" in domains else [])
    matters = [
        {
            "id": f"M{i}", "name": f"事项{i}", "domain": draw(st.sampled_from(["d1", "d2"])), "responsibility": "department",
            "township_duties": ["发现报告"], "lead": draw(st.sampled_from(leads)),
            "supports": draw(st.lists(st.sampled_from(depts), max_size=2, unique=True)),
            "attributes": draw(st.lists(st.sampled_from(sorted(domains)), max_size=2, unique=True)) if domains else [],
            "basis": BASIS, **_window(draw),
        }
        for i in range(draw(st.integers(1, 3)))
    ]
    matter_ids = [m["id"] for m in matters]

    def condition(key: str) -> Any:
        if key == "matter":
            op = draw(st.sampled_from(["eq", "in", "ne"]))
            return draw(st.sampled_from(matter_ids)) if op == "eq" else (
                draw(st.lists(st.sampled_from(matter_ids), min_size=1, unique=True)) if op == "in" else {"ne": draw(st.sampled_from(matter_ids))}
            )
        if key == "team":
            return draw(st.lists(st.sampled_from(["own", "hub", "none"]), min_size=1, max_size=2, unique=True))
        if key == "delegated":
            return draw(st.booleans())
        if key == "township":
            return draw(st.sampled_from(towns))
        if key == "domain":
            return draw(st.sampled_from(["d1", "d2"]))
        if key == "township_kind":
            return draw(st.sampled_from(["township", "street"]))
        if key in ("site", "other"):
            values = domains[key]
            op = draw(st.sampled_from(["eq", "in", "ne", "not_in"]))
            if op == "eq":
                return draw(st.sampled_from(values))
            chosen = draw(st.lists(st.sampled_from(values), min_size=1, unique=True))
            return chosen if op == "in" else ({"ne": chosen[0]} if op == "ne" else {"not_in": chosen})
        if key == "flag":
            return draw(st.booleans())
        if key == "level":
            op = draw(st.sampled_from(["gte", "gt", "lt", "lte", "eq", "in"]))
            if op == "in":
                return draw(st.lists(st.integers(0, 7), min_size=1, max_size=3, unique=True))
            return {op: draw(st.integers(0, 7))}
        op = draw(st.sampled_from(["gt", "gte", "lt", "lte"]))  # amount
        return {op: draw(st.sampled_from([2.5, 2.7, 5, 9.9, 10]))}

    keys = ["matter", "team", "delegated", "township", "domain", "township_kind", *domains]
    rules = []
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["escalation", "integrated", "delegation", "amendment"]))
        # attributes twice as likely as derived facts: overlapping thresholds are the hard part
        chosen = draw(st.lists(st.sampled_from(keys + list(domains)), min_size=1, max_size=3, unique=True))
        when = {k: condition(k) for k in chosen}
        then: dict[str, Any] = {"supports": draw(st.lists(st.sampled_from([*depts, "@township"]), max_size=2, unique=True))}
        if kind != "amendment":
            then["lead"] = draw(st.sampled_from(leads))
        rules.append({"id": f"R{i}", "title": f"规则{i}", "kind": kind, "priority": draw(st.sampled_from([0, 0, 0, 10])),
                      "when": when, "then": then, "basis": BASIS, **_window(draw)})
    delegations = [
        {"id": f"D{i}", "title": f"赋权{i}", "townships": draw(st.lists(st.sampled_from(towns), min_size=1, unique=True)),
         "matters": draw(st.lists(st.sampled_from(matter_ids), min_size=1, unique=True)), "basis": BASIS, **_window(draw)}
        for i in range(draw(st.integers(0, 2)))
    ]
    return {
        "policy": {"id": "random", "version": "1", "title": "随机政策", "jurisdiction": "测试县",
                   "domains": [{"id": "d1", "name": "域一"}, {"id": "d2", "name": "域二"}],
                   "dispatch": {"to": "centre", "basis": BASIS}, "disputes": {"arbiter": "bb", "basis": BASIS}},
        "organizations": orgs, "attributes": attrs, "matters": matters, "rules": rules, "delegations": delegations,
        "_domains": domains,
    }


def load(data: dict[str, Any]) -> Policy:
    body = {k: v for k, v in data.items() if not k.startswith("_")}
    try:
        return policy_from_files({"policy.yaml": yaml.safe_dump(body, allow_unicode=True, sort_keys=False)})
    except PolicyError as exc:  # the generator must only make valid policies
        raise AssertionError("\n".join(f.render() for f in exc.findings)) from None


@st.composite
def random_cases(draw: st.DrawFn, data: dict[str, Any], policy: Policy) -> list[Case]:
    thresholds = [float(v) for r in data["rules"] if isinstance(c := r["when"].get("amount"), dict) for v in c.values()]
    cases = []
    for _ in range(draw(st.integers(1, 12))):
        attributes: dict[str, Any] = {}
        for key, values in data["_domains"].items():
            if not draw(st.booleans()):
                continue
            if key == "amount":  # on and just beside the thresholds rules use: cells can be narrow
                near = sorted({0.0, 10.0} | {t + d for t in thresholds for d in (-0.05, 0.0, 0.05) if 0 <= t + d <= 10})
                attributes[key] = draw(st.one_of(st.sampled_from(near), st.floats(0, 10, allow_nan=False)))
            else:
                attributes[key] = draw(st.sampled_from(values))
        cases.append(Case(
            township=draw(st.sampled_from([t.id for t in policy.townships()])),
            matter=draw(st.sampled_from(list(policy.matters))),
            attributes=attributes,
            as_of=date(2023, 1, 1) + timedelta(days=draw(st.integers(0, 5 * 365))),
        ))
    return cases


def fired(policy: Policy, rules: PythonRules, shard_of: dict[str, str], case: Case) -> frozenset[str]:
    assert case.matter is not None
    return frozenset(rules.fire(shard_of[case.matter], build_fact(policy, case)))


@PROFILE
@given(policies())
def test_checker_never_crashes(data: dict[str, Any]) -> None:
    policy = load(data)
    report = check_policy(policy)
    assert all(f.code and f.message and f.file for f in report.findings)
    assert report.proved == (not any(f.severity == "error" for f in static_findings(policy)))
    findings, count = prove(policy)  # even where errors stop `check`, the enumeration runs
    assert count == space.count(policy)
    assert all(f.severity == "warning" for f in findings)
    plain, _ = prove(policy, memo=False)  # the memo reuses decisions: it must change nothing
    assert [(f.render(), f.examples) for f in findings] == [(f.render(), f.examples) for f in plain]


@settings(PROFILE, max_examples=120)
@given(st.data())
def test_enumeration_covers_every_reachable_behaviour(draw: st.DataObject) -> None:
    data = draw.draw(policies())
    policy = load(data)
    compiled = compile_policy(policy)
    rules = PythonRules(compiled)
    enumerated = {fired(policy, rules, compiled.shard_of_matter, c) for c in space.cases(policy)}
    for case in draw.draw(random_cases(data, policy)):
        got = fired(policy, rules, compiled.shard_of_matter, case)
        assert got in enumerated, f"{case} fires {sorted(got)}, which no enumerated case fires"


@settings(PROFILE, max_examples=15)
@given(policies())
def test_python_evaluator_agrees_with_durable_rules(data: dict[str, Any]) -> None:
    policy = load(data)
    compiled = compile_policy(policy)
    python = PythonRules(compiled)
    adapter = shared_adapter()
    registration = adapter.register(compiled)
    try:
        for n, case in enumerate(space.cases(policy)):
            if n >= 400:
                break
            shard = compiled.shard_of_matter[case.matter or ""]
            fact = build_fact(policy, case)
            assert sorted(python.fire(shard, fact)) == sorted(adapter.fire(registration.names[shard], fact)), case
    finally:
        adapter.unregister(registration)
