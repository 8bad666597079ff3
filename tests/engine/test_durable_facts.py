"""What reaches durable_rules: only the properties a ruleset's rules test (engine/rules/durable.py)."""

from __future__ import annotations

from engine.analysis import space
from engine.lead.facts import build_fact
from engine.rules.compile import GUARD
from engine.rules.durable import DurableRules, properties_tested
from engine.runtime import Runtime


def _rules(*conditions: dict[str, object]) -> dict[str, dict[str, object]]:
    return {f"r{i}": {"all": [{"m": {"$and": [GUARD, c]}}]} for i, c in enumerate(conditions)}


def test_tested_properties_are_read_from_the_conditions() -> None:
    rules = _rules({"matter": "M1"}, {"$or": [{"$gte": {"severity": 3}}, {"$neq": {"team": "hub"}}]}, {"$nex": {"permit": 1}})
    assert properties_tested(rules) == ("matter", "permit", "severity", "team")  # decision_id is the session's


def test_an_unknown_form_sends_the_whole_fact() -> None:
    assert properties_tested(_rules({"applicant.region": "x"})) is None  # a nested path
    assert properties_tested(_rules({"$gt": {"penalty": {"$mul": {"$l": {"$m": "amount"}, "$r": 0.1}}}})) is None
    assert properties_tested(_rules({"$mt": {"name": ".*x"}})) is None
    assert properties_tested({"r": {"any": [{"m": {"matter": "M1"}}], "run": "x"}}) is None


def test_trimmed_facts_fire_what_whole_facts_fire(seed_runtime: Runtime) -> None:
    compiled = seed_runtime.active.compiled
    trimmed = seed_runtime.active.registration.names
    whole = DurableRules(whole_facts=True)
    whole_names = whole.register(compiled).names
    adapter = seed_runtime._adapter
    compared = 0
    for n, case in enumerate(space.cases(seed_runtime.policy)):
        if n % 11 or case.matter is None:
            continue
        shard = compiled.shard_of_matter[case.matter]
        fact = build_fact(seed_runtime.policy, case)
        assert adapter.fire(trimmed[shard], fact) == whole.fire(whole_names[shard], fact), case
        compared += 1
    assert compared > 1000
