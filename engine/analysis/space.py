"""The case space a policy declares, enumerated as a finite set of representative cases.

Every matter × township × relevant attribute values × date. Values are partitioned so that
each cell behaves alike for every rule: enum and bool attributes take every allowed value
plus "absent"; numbers take every threshold the rules use and a value inside every cell
between and beyond them; township-valued attributes take the townships conditions name,
one other township (every township when a rule leads with `@attribute`), and "absent". Dates
are every day a clause, body or delegation starts or ends (plus one day before the first).

Used by `check` (to prove properties) and `diff` (to show what a change would do).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from engine.lead.decision import Case
from engine.policy.index import Policy
from engine.policy.model import Attribute, AttributeType, Comparison, Scalar

ABSENT = object()


@dataclass(frozen=True)
class Axis:
    """One attribute and the representative values it takes (ABSENT = not given)."""

    attribute: str
    values: tuple[object, ...]


def boundary_dates(policy: Policy) -> list[date]:
    """Every date on which something starts or ends, plus one day before the first."""
    days: set[date] = set()
    clauses = [*policy.matters.values(), *policy.rules, *policy.organizations.values(), *policy.delegations]
    for clause in clauses:
        for day in (clause.valid_from, clause.valid_until):
            if day is not None:
                days.add(day)
    if not days:
        return [date(2000, 1, 1)]
    first = min(days)
    return sorted(days | {first - timedelta(days=1)})


def _tests_on(policy: Policy, attribute: str) -> list[Comparison]:
    return [t for rule in policy.rules for key, t in rule.tests().items() if key == attribute]


def _numeric_values(attr: Attribute, tests: list[Comparison]) -> list[object]:
    """One value per cell of the number line the tests cut: each threshold, a value strictly
    between every two neighbours, one below the lowest and one above the highest (within
    the declared minimum/maximum, which are kept as values too)."""
    cuts: set[float] = set()
    for test in tests:
        _, value = test.operator
        values = value if isinstance(value, tuple) else (value,)
        cuts.update(v for v in values if isinstance(v, int | float) and not isinstance(v, bool))
    lo = attr.minimum if attr.minimum is not None else float("-inf")
    hi = attr.maximum if attr.maximum is not None else float("inf")
    points: set[float] = {p for p in (attr.minimum, attr.maximum) if p is not None}
    if attr.type is AttributeType.int:
        # whole numbers only: the nearest integers on each side of a cut reach every cell
        for cut in cuts:
            points.update({math.floor(cut) - 1, math.floor(cut), math.ceil(cut), math.ceil(cut) + 1})
    else:
        ordered = sorted(cuts)
        points.update(ordered)
        points.update((a + b) / 2 for a, b in itertools.pairwise(ordered))
        if ordered:
            points.update({ordered[0] - 1, ordered[-1] + 1})
    kept = sorted(p for p in points if lo <= p <= hi)
    found: list[object] = [int(p) for p in kept] if attr.type is AttributeType.int else list(kept)
    return found or [lo if lo != float("-inf") else 0]


def _leads_with(policy: Policy, attribute: str) -> bool:
    ref = f"@{attribute}"
    return any(ref in (rule.then.lead, rule.then.coordinator) for rule in policy.rules) or any(
        m.lead == ref for m in policy.matters.values()
    )


def axis(policy: Policy, attr: Attribute) -> Axis:
    """The representative values of one attribute."""
    tests = _tests_on(policy, attr.id)
    values: list[object]
    if attr.type is AttributeType.enum:
        values = [v.id for v in attr.values]
    elif attr.type is AttributeType.bool:
        values = [True, False]
    elif attr.type is AttributeType.township:
        named: list[object] = []
        for test in tests:
            _, value = test.operator
            named += list(value) if isinstance(value, tuple) else [value]
        others = [t.id for t in policy.townships() if t.id not in named]
        # a township the tests don't name behaves like any other for matching; but when a
        # rule leads or coordinates with `@attr`, who leads depends on every value
        values = list(dict.fromkeys(named)) + (others if _leads_with(policy, attr.id) else others[:1])
    else:
        values = _numeric_values(attr, tests)
    if attr.default is None:
        values.append(ABSENT)
    return Axis(attr.id, tuple(values))


def relevant_attributes(policy: Policy, matter_id: str) -> list[str]:
    """Attributes that can change a decision on this matter: declared or tested by a rule."""
    names = list(policy.matters[matter_id].attributes)
    for rule in policy.rules:
        tests = rule.tests()
        matter_test = tests.get("matter")
        if matter_test is not None:
            op, value = matter_test.operator
            named = value if isinstance(value, tuple) else (value,)
            applies = matter_id in named if op in ("eq", "in") else matter_id not in named
            if not applies:
                continue
        names += [k for k in tests if k in policy.attributes]
        names += [ref[1:] for ref in (*rule.then.supports, rule.then.lead or "", rule.then.coordinator or "") if ref[1:] in policy.attributes]
    return list(dict.fromkeys(names))


def cases(policy: Policy, days: list[date] | None = None, matters: Collection[str] | None = None) -> Iterator[Case]:
    """Every representative case of the policy (of `matters` only, when given), in a stable order."""
    days = days or boundary_dates(policy)
    townships = [t.id for t in policy.townships()]
    axes_cache: dict[str, Axis] = {}
    for matter_id in policy.matters:
        if matters is not None and matter_id not in matters:
            continue
        axes = []
        for name in relevant_attributes(policy, matter_id):
            if name not in axes_cache:
                axes_cache[name] = axis(policy, policy.attributes[name])
            axes.append(axes_cache[name])
        for combo in itertools.product(*(a.values for a in axes)):
            attributes: dict[str, Scalar] = {
                a.attribute: v for a, v in zip(axes, combo, strict=True) if v is not ABSENT  # type: ignore[misc]
            }
            for township in townships:
                for day in days:
                    yield Case(township=township, matter=matter_id, attributes=attributes, as_of=day)


def count(policy: Policy, days: list[date] | None = None) -> int:
    """How many cases `cases` yields, without building them."""
    days = days or boundary_dates(policy)
    total = 0
    cache: dict[str, int] = {}
    for matter_id in policy.matters:
        n = 1
        for name in relevant_attributes(policy, matter_id):
            if name not in cache:
                cache[name] = len(axis(policy, policy.attributes[name]).values)
            n *= cache[name]
        total += n
    return total * len(policy.townships()) * len(days)
