"""Evaluate compiled rule definitions in Python, as durable_rules evaluates them.

The checker decides every case of the enumerated space (10^4–10^5 cases). Asserting each
through durable_rules costs ~100 µs under one process-wide lock; this evaluator reads the
very JSON definitions `engine.rules.durable` registers (not the policy model) and answers the
same question — which rules fire for this fact — for the operators `engine.rules.compile` emits:
equality, `$neq`, `$lt`, `$lte`, `$gt`, `$gte`, `$ex`, `$and`, `$or`.

Semantics kept from durable_rules (docs/durable_rules.md §5): a property the fact
lacks never matches a comparison, not even `$neq`; numbers compare numerically (2 == 2.0).
durable_rules also coerces across types ("42" == 42, 1 == true); facts that passed
`engine.lead.facts.check_case` against a validated policy never mix types, so those paths are
never taken. tests/engine/analysis/test_check.py decides every enumerated case of the seed and fixture
policies both ways and requires identical fired sets and decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.rules.compile import CompiledPolicy

Fact = Mapping[str, Any]
Predicate = Callable[[Fact], bool]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_NUMBERS = (int, float)


def _same(left: Any, right: Any) -> bool:
    """Equality without Python's bool/int mixing (True == 1): kinds must agree."""
    kind = type(left)
    if kind is type(right):
        return bool(left == right)
    # different types: only int and float compare (2 == 2.0); bool is a type of its own
    return kind in _NUMBERS and type(right) in _NUMBERS and bool(left == right)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": lambda a, b: bool(a < b),
    "$lte": lambda a, b: bool(a <= b),
    "$gt": lambda a, b: bool(a > b),
    "$gte": lambda a, b: bool(a >= b),
}


def predicate(term: Mapping[str, Any]) -> Predicate:
    """Compile one durable_rules term into a Python predicate over a fact.

    Raises ValueError for an operator `engine.rules.compile` never emits: the evaluator must not
    guess at semantics it has not been compared against.
    """
    if len(term) != 1:
        raise ValueError(f"a term has exactly one key, got {sorted(term)}")
    ((key, value),) = term.items()
    if key == "$and":
        parts = [predicate(t) for t in value]

        def every(fact: Fact) -> bool:
            for part in parts:  # a loop, not all(): this runs ~10^6 times per check
                if not part(fact):
                    return False
            return True

        return every
    if key == "$or":
        parts = [predicate(t) for t in value]

        def some(fact: Fact) -> bool:
            for part in parts:
                if part(fact):
                    return True
            return False

        return some
    if key == "$ex":
        ((prop, _),) = value.items()
        return lambda fact: prop in fact
    if key == "$neq":
        ((prop, operand),) = value.items()
        return lambda fact: prop in fact and not _same(fact[prop], operand)
    if key in _ORDER:
        ((prop, operand),) = value.items()
        compare = _ORDER[key]
        return lambda fact: prop in fact and _number(fact[prop]) and compare(fact[prop], operand)
    if key.startswith("$"):
        raise ValueError(f"operator `{key}` is not one engine.rules.compile emits")
    return lambda fact: key in fact and _same(fact[key], value)


def _matters_of(term: Mapping[str, Any]) -> frozenset[str] | None:
    """The matters a rule can apply to, read off its top-level terms; None = any matter."""
    ((key, value),) = term.items()
    if key != "$and":
        return None
    for sub in value:
        ((k, v),) = sub.items()
        if k == "matter" and isinstance(v, str):
            return frozenset({v})
        if k == "$or" and all(len(o) == 1 and isinstance(o.get("matter"), str) for o in v):
            return frozenset(o["matter"] for o in v)
    return None


class PythonRules:
    """A drop-in for `DurableRules.fire` over one compiled policy: `fire(shard, fact)`.

    Rules are indexed by the matters they name so a case only evaluates the rules that
    could apply to its matter; the result lists fired rule names in definition order.
    """

    def __init__(self, compiled: CompiledPolicy) -> None:
        self._by_matter: dict[str, dict[str, list[tuple[str, Predicate]]]] = {}
        self._general: dict[str, list[tuple[str, Predicate]]] = {}
        self._order: dict[str, int] = {}
        for shard, rules in compiled.shards.items():
            by_matter = self._by_matter.setdefault(shard, {})
            general = self._general.setdefault(shard, [])
            for name, definition in rules.items():
                self._order.setdefault(name, len(self._order))
                term = definition["all"][0]["m"]
                entry = (name, predicate(term))
                matters = _matters_of(term)
                if matters is None:
                    general.append(entry)
                else:
                    for matter in matters:
                        by_matter.setdefault(matter, []).append(entry)

    def fire(self, shard: str, fact: Fact) -> list[str]:
        """Names of every rule of `shard` whose condition holds for `fact`."""
        # the adapter adds these to every message; the guard `$ex decision_id` tests one
        fact = {**fact, "sid": "check", "id": "check", "decision_id": "check"}
        matter = fact.get("matter")
        candidates = self._general.get(shard, [])
        if isinstance(matter, str):
            candidates = candidates + self._by_matter.get(shard, {}).get(matter, [])
        hits = [name for name, holds in candidates if holds(fact)]
        return sorted(hits, key=self.order)

    def order(self, name: str) -> int:
        """A rule's position in the definitions (the order `fire` lists hits in)."""
        return self._order[name]
