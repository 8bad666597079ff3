"""The enumerated case space is finite, counted right, and reaches every clause."""

from __future__ import annotations

from engine.analysis import space
from engine.lead.facts import build_fact
from engine.rules.evaluate import PythonRules
from engine.runtime import Runtime


def test_count_matches_enumeration(seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    assert space.count(policy) == sum(1 for _ in space.cases(policy))


def test_numeric_thresholds_are_split(seed_runtime: Runtime) -> None:
    values = space.axis(seed_runtime.policy, seed_runtime.policy.attributes["severity"]).values
    assert {3, 4} <= set(values)  # ESC-SEVERE tests severity >= 4


def test_every_clause_fires_somewhere_in_the_space(seed_runtime: Runtime) -> None:
    # NOTE: fired sets come from the Python evaluator, whose equivalence with durable_rules
    # tests/engine/analysis/test_check.py proves on a sample of this same space; the whole space through
    # durable_rules took ~50 s of the suite.
    policy = seed_runtime.policy
    compiled = seed_runtime.active.compiled
    python = PythonRules(compiled)
    fired: set[str] = set()
    for case in space.cases(policy):
        shard = compiled.shard_of_matter[case.matter or ""]
        fired.update(compiled.clause_of_rule[n] for n in python.fire(shard, build_fact(policy, case)))
    assert fired == set(policy.matters) | {r.id for r in policy.rules}
