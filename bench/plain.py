"""The same policy evaluated in plain Python: the baseline the engine is measured against.

The compiled durable_rules conditions (engine.rules.compile) are turned into Python closures and
indexed by matter, so one case scans only the rules that can name its matter, the way
research/perf.md's "dict by matter + scan" floor does. `PlainFire` has the signature of the
engine's `fire`, so `engine.lead.decide.decide` runs unchanged on top of either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.rules.compile import CompiledPolicy

Predicate = Callable[[dict[str, Any]], bool]
_MISSING = object()


def predicate(term: dict[str, Any]) -> Predicate:
    """One durable_rules term (only the operators engine.rules.compile emits) as a closure."""
    (op, arg), = term.items()
    if op == "$and":
        parts = [predicate(t) for t in arg]
        return lambda fact: all(p(fact) for p in parts)
    if op == "$or":
        parts = [predicate(t) for t in arg]
        return lambda fact: any(p(fact) for p in parts)
    if op == "$ex":
        (key, _), = arg.items()
        return lambda fact: key in fact
    if op in ("$neq", "$gt", "$gte", "$lt", "$lte"):
        (key, value), = arg.items()
        compare: Callable[[Any, Any], bool] = {
            "$neq": lambda a, b: a != b,
            "$gt": lambda a, b: a > b,
            "$gte": lambda a, b: a >= b,
            "$lt": lambda a, b: a < b,
            "$lte": lambda a, b: a <= b,
        }[op]
        # A missing attribute matches no comparison in durable_rules (research Q5).
        return lambda fact: (v := fact.get(key, _MISSING)) is not _MISSING and compare(v, value)
    key, value = op, arg
    return lambda fact: fact.get(key, _MISSING) == value


def _matters_named(condition: dict[str, Any]) -> set[str] | None:
    """The matters a rule's condition can match, or None when it does not test `matter`."""
    terms = condition["$and"][1:]
    if not terms:
        return None
    first = terms[0]
    if "matter" in first:
        return {first["matter"]}
    if "$or" in first and all("matter" in t for t in first["$or"]):
        return {t["matter"] for t in first["$or"]}
    return None


class PlainFire:
    """dict by matter → [(rule name, predicate)]; `__call__(shard, fact)` lists the matches."""

    def __init__(self, compiled: CompiledPolicy) -> None:
        self.by_matter: dict[str, list[tuple[str, Predicate]]] = {}
        for matter_id, shard in compiled.shard_of_matter.items():
            rules = []
            for name, rule in compiled.shards[shard].items():
                condition = rule["all"][0]["m"]
                named = _matters_named(condition)
                if named is None or matter_id in named:
                    rules.append((name, predicate(condition)))
            self.by_matter[matter_id] = rules

    def __call__(self, _shard: str, fact: dict[str, Any]) -> list[str]:
        fact = {**fact, "decision_id": "p"}  # the guard every compiled rule carries
        return [name for name, test in self.by_matter[fact["matter"]] if test(fact)]
