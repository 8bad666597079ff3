"""Fingerprints of every decision over a policy's enumerated case space.

Used to prove that two policies decide every case of `engine.space` identically without
holding both sets of decisions in memory: each decision (less the policy digest, which
differs by construction) is reduced to a short hash. `fingerprints` runs in a worker
process so the two policies are decided in parallel.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from engine import space
from engine.decision import Case, Decision
from engine.load import load_policy
from engine.runtime import Runtime


def fingerprint(decision: Decision) -> str:
    return hashlib.sha1(repr(dataclasses.replace(decision, policy={})).encode("utf-8")).hexdigest()[:20]


def space_of(policy_dir: Path | str) -> list[Case]:
    return list(space.cases(load_policy(policy_dir)))


def fingerprints(decide_with: str, cases_of: str) -> list[str]:
    """Decide every case of `cases_of`'s space with the policy in `decide_with`."""
    runtime = Runtime.from_dir(decide_with)
    return [fingerprint(runtime.decide(case)) for case in space_of(cases_of)]
