"""Compile a policy, as data, into durable_rules ruleset definitions.

Each matter's list default and each assignment rule becomes one durable_rules rule whose
condition is a flat `$and` of whitelisted tests. The rulesets are sharded by matter
domain, at most `MAX_MATTERS_PER_SHARD` matters each, so no node has more sibling tests than
the engine can build and a decision walks few of them, and `engine.rules.limits`
refuses any shard that would still cross one of durable_rules' structural limits (more
than 512 siblings makes `create_ruleset` spin forever; docs/durable_rules.md §3).

Nothing here touches durable_rules itself; `engine.rules.durable` registers what this builds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from engine.errors import CompileError
from engine.policy.collector import collector_paused
from engine.policy.index import Policy
from engine.policy.model import Comparison, Dated
from engine.rules import limits

# fire(shard, fact) -> the ids of the rules that fired, in priority order (the adapter, or
# the Python evaluator in proofs).
Fire = Callable[[str, dict[str, Any]], list[str]]

# The guard every rule carries: only case facts have a decision_id, so the per-sid state
# object the engine re-asserts after each action can never match (it would loop forever).
GUARD: dict[str, Any] = {"$ex": {"decision_id": 1}}
LIST_PREFIX = "list."
RULE_PREFIX = "rule."
# A decision's cost in durable_rules grows with its shard: the engine walks every `matter`
# test under the guard node (its alpha hash set is keyed by property name, not value) and
# scans every rule's action slot once per fired rule. Measured side by side (both shard
# sizes registered in one process, 21 rounds): 25 matters per shard instead of 200 took a
# cache miss at ×10 from 1.36× to 1.30× the plain-Python decide; loading ×100 (312 shards
# instead of 40) took the same time. Seed domains have at most 8 matters: same shards there.
MAX_MATTERS_PER_SHARD = 25
MAX_SIBLINGS = limits.MAX_SIBLINGS  # durable_rules hangs above 512 distinct tests under one node
MAX_FACT_PROPERTIES = 200  # durable_rules fails above 255 properties per message

Json = dict[str, Any]


def date_number(day: date) -> int:
    """Dates travel to durable_rules as yyyymmdd integers, compared numerically."""
    return day.year * 10000 + day.month * 100 + day.day


@dataclass(frozen=True)
class CompiledPolicy:
    """The policy with its ruleset definitions; `shards` maps shard name → rule name → rule."""

    policy: Policy
    shards: dict[str, dict[str, Json]]
    shard_of_matter: dict[str, str]
    clause_of_rule: dict[str, str]  # durable rule name → policy clause id (matter or rule id)
    # Lookups derived once per compiled policy by the modules that decide (engine.lead.decide).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def compile_test(key: str, test: Comparison) -> Json:
    """One author test → one durable_rules term. Only these operators are ever emitted."""
    op, value = test.operator
    if op == "eq":
        return {key: value}
    if op == "ne":
        return {"$neq": {key: value}}
    if op == "in":
        options = [{key: v} for v in value]  # type: ignore[attr-defined]
        return options[0] if len(options) == 1 else {"$or": options}
    if op == "not_in":
        terms = [{"$neq": {key: v}} for v in value]  # type: ignore[attr-defined]
        return terms[0] if len(terms) == 1 else {"$and": terms}
    return {f"${op}": {key: value}}  # gt, gte, lt, lte


def _date_terms(clause: Dated) -> list[Json]:
    terms: list[Json] = []
    if clause.valid_from is not None:
        terms.append({"$gte": {"as_of": date_number(clause.valid_from)}})
    if clause.valid_until is not None:
        terms.append({"$lt": {"as_of": date_number(clause.valid_until)}})
    return terms


def _rule(terms: list[Json]) -> Json:
    return {"all": [{"m": {"$and": [GUARD, *terms]}}]}


def _shards_for(policy: Policy) -> dict[str, str]:
    by_domain: dict[str, list[str]] = defaultdict(list)
    for matter in policy.matters.values():
        by_domain[matter.domain].append(matter.id)
    shard_of: dict[str, str] = {}
    for domain, matter_ids in sorted(by_domain.items()):
        for start in range(0, len(matter_ids), MAX_MATTERS_PER_SHARD):
            name = f"{domain}.{start // MAX_MATTERS_PER_SHARD}"
            for matter_id in matter_ids[start : start + MAX_MATTERS_PER_SHARD]:
                shard_of[matter_id] = name
    return shard_of


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Build the ruleset definitions. Raises CompileError when a structural limit is hit."""
    if len(policy.attributes) + 10 > MAX_FACT_PROPERTIES:
        raise CompileError(f"too many attributes ({len(policy.attributes)}): the engine allows {MAX_FACT_PROPERTIES - 10}")
    compiled = build_definitions(policy)
    with collector_paused():
        violations = limits.analyse(compiled.shards)
    if violations:
        first = violations[0]
        rules = ", ".join(f"`{compiled.clause_of_rule[name]}`" for name in first.rules[:3])
        raise CompileError(f"shard `{first.shard}` ({rules}): {first.describe()}")
    return compiled


def build_definitions(policy: Policy) -> CompiledPolicy:
    """The ruleset definitions as data, without the limit check (`engine.analysis.check` reports those)."""
    with collector_paused():
        return _definitions(policy)


def _definitions(policy: Policy) -> CompiledPolicy:
    shard_of = _shards_for(policy)
    shards: dict[str, dict[str, Json]] = {name: {} for name in sorted(set(shard_of.values()))}
    clause_of: dict[str, str] = {}

    for matter in policy.matters.values():
        name = LIST_PREFIX + matter.id
        shards[shard_of[matter.id]][name] = _rule([{"matter": matter.id}, *_date_terms(matter)])
        clause_of[name] = matter.id

    for rule in policy.rules:
        tests = rule.tests()
        terms = []
        if "matter" in tests:  # matter first: rules then share the matter node
            terms.append(compile_test("matter", tests["matter"]))
        terms += [compile_test(k, t) for k, t in sorted(tests.items()) if k != "matter"]
        definition = _rule(terms + _date_terms(rule))
        name = RULE_PREFIX + rule.id
        clause_of[name] = rule.id
        if "matter" in tests:
            _, value = tests["matter"].operator
            named = value if isinstance(value, tuple) else (value,)
            targets = {shard_of[m] for m in named if m in shard_of}
            if tests["matter"].operator[0] in ("ne", "not_in"):
                targets = set(shards)
        else:
            targets = set(shards)
        for shard in targets:
            shards[shard][name] = definition

    return CompiledPolicy(policy, shards, shard_of, clause_of)
