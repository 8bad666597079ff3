"""Fingerprints of every decision over a policy's enumerated case space.

Used to prove that two policies decide every case of `engine.analysis.space` identically without
holding both sets of decisions in memory: each decision (less the policy digest, which
differs by construction) is reduced to a short hash.

# NOTE: `fingerprints` decides with the Python evaluator of the compiled rules
# (engine/rules/evaluate.py), not through durable_rules: tests/engine/analysis/test_check.py proves the two fire
# the same rules on this space, and the whole space through durable_rules cost ~2 CPU-minutes
# of the suite per policy.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from engine.analysis import space
from engine.lead.decide import decide
from engine.lead.decision import Case, Decision
from engine.policy.load import load_policy
from engine.rules.compile import compile_policy
from engine.rules.evaluate import PythonRules


def fingerprint(decision: Decision) -> str:
    return hashlib.sha1(repr(dataclasses.replace(decision, policy={})).encode("utf-8")).hexdigest()[:20]


def space_of(policy_dir: Path | str) -> list[Case]:
    return list(space.cases(load_policy(policy_dir)))


def fingerprints(decide_with: Path | str, cases: list[Case]) -> list[str]:
    """Decide every case with the policy in `decide_with`; one fingerprint per case."""
    compiled = compile_policy(load_policy(decide_with))
    rules = PythonRules(compiled)
    return [fingerprint(decide(case, compiled, rules.fire)) for case in cases]
