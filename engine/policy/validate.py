"""Cross-reference checks that a single file cannot make on its own.

Every finding names the file, line and id, and suggests the nearest known id
("did you mean …") when a reference is unknown.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from engine.errors import Finding
from engine.policy.locate import Locator
from engine.policy.model import (
    TEAM_REF,
    TOWNSHIP_REF,
    AttributeType,
    Comparison,
    Delegation,
    OrgKind,
    Recall,
)

if TYPE_CHECKING:
    from engine.policy.index import Policy

# Facts the engine derives and the values they take (see engine.lead.facts).
TEAM_VALUES = ("own", "hub", "none")
TOWNSHIP_KINDS = ("township", "street")


def suggest(word: str, known: Iterable[str]) -> str | None:
    """A "did you mean" hint for an unknown id or name, or None when nothing is close."""
    return suggest_named(word, {k: (k,) for k in known})


def suggest_named(word: str, labels: Mapping[str, Iterable[str]]) -> str | None:
    """ "Did you mean" over candidates known by several labels: `labels` maps each candidate
    to its id, full name, short name, English name and aliases, so 衢江区公安局 finds the
    body named 衢州市公安局衢江分局 through its short name 公安衢江分局."""
    match = closest(word, labels)
    return f"did you mean `{match}`?" if match else None


def _grams(text: str) -> set[str]:
    text = text.lower()
    return set(text) | {text[i : i + 2] for i in range(len(text) - 1)}


def closest(word: str, candidates: Mapping[str, Iterable[str]], cutoff: float = 0.25) -> str | None:
    """The candidate whose labels are nearest to `word`; None when none is near or two tie.

    Ids (ASCII) are compared by difflib's ratio (`qj-watr` → `qj-water`). Chinese names
    differ by word order and affixes (衢江区公安局 for 衢州市公安局衢江分局), so they are
    compared as sets of characters and character pairs, each weighted by how rare it is
    among all labels: a shared 公安 counts, a shared 衢江 (in every county body) hardly does.
    """
    labels = {key: [label for label in values if label] for key, values in candidates.items()}
    if word.isascii():
        ascii_labels = {label: key for key, values in labels.items() for label in values if label.isascii()}
        match = difflib.get_close_matches(word, list(ascii_labels), n=1, cutoff=0.6)
        return ascii_labels[match[0]] if match else None
    docs = [_grams(label) for values in labels.values() for label in values]
    frequency = Counter(gram for doc in docs for gram in doc)

    def weight(gram: str) -> float:
        return math.log((len(docs) + 1) / (frequency.get(gram, 0) + 0.5))

    target = _grams(word)
    target_weight = sum(weight(g) for g in target)
    scores: dict[str, float] = {}
    for key, values in labels.items():
        for label in values:
            grams = _grams(label)
            total = target_weight + sum(weight(g) for g in grams)
            score = 2 * sum(weight(g) for g in target & grams) / total if total else 0.0
            scores[key] = max(score, scores.get(key, 0.0))
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < cutoff or (len(ranked) > 1 and ranked[1][1] > ranked[0][1] - 0.01):
        return None
    return ranked[0][0]


def org_refs(policy: Policy) -> set[str]:
    """Every string a lead, support or coordinator may be: ids and case-relative refs."""
    refs = set(policy.organizations) | {TOWNSHIP_REF, TEAM_REF}
    refs |= {f"@{a.id}" for a in policy.attributes.values() if a.type is AttributeType.township}
    return refs


def validate_references(policy: Policy) -> list[Finding]:
    return list(_references(policy))


def _references(policy: Policy) -> Iterator[Finding]:
    orgs = policy.organizations
    refs = org_refs(policy)
    locator = Locator(policy.files)  # conditions are reported at their own line
    domains = {d.id for d in policy.manifest.domains}
    allowed = _Allowed(policy, domains)

    def unknown(
        section: str, item_id: str, what: str, value: str, known: Iterable[str], path: Sequence[str | int] = ()
    ) -> Finding:
        """An unknown reference, at the line of the key that holds it (`path` inside the item)."""
        loc = policy.where(section, item_id)
        return Finding(
            f"unknown_{what.replace(' ', '_')}",
            f"unknown {what} `{value}`",
            loc.file,
            locator.line(loc.file, section, item_id, path) or loc.line,
            item_id,
            hint=suggest(value, known),
        )

    manifest_file = next(
        (name for name, text in policy.files.items() if text.lstrip().startswith("policy:")),
        "policy.yaml",
    )
    for key, target in (("dispatch.to", policy.manifest.dispatch.to), ("disputes.arbiter", policy.manifest.disputes.arbiter)):
        if target not in orgs:
            yield Finding(
                "unknown_organization",
                f"`{key}` names unknown organization `{target}`",
                manifest_file,
                id=policy.manifest.id,
                hint=suggest(target, orgs),
            )

    for org in orgs.values():
        for key, ref in (("successor", org.successor), ("parent", org.parent), ("enforcement_team", org.enforcement_team)):
            if ref is not None and ref not in orgs:
                yield unknown("organizations", org.id, "organization", ref, orgs, (key,))
        if org.enforcement_team is not None and org.enforcement_team in orgs and orgs[org.enforcement_team].kind is not OrgKind.team:
            loc = policy.where("organizations", org.id)
            yield Finding("not_a_team", f"enforcement team `{org.enforcement_team}` is not of kind team", loc.file, loc.line, org.id)
        for index, served in enumerate(org.serves):
            if served not in orgs:
                yield unknown("organizations", org.id, "township", served, [t.id for t in policy.townships()], ("serves", index))
        if org.serves and not org.enforcement_team:
            loc = policy.where("organizations", org.id)
            yield Finding("hub_without_team", "a 1+X hub must have an enforcement team", loc.file, loc.line, org.id)

    for matter in policy.matters.values():
        if matter.domain not in domains:
            yield unknown("matters", matter.id, "domain", matter.domain, domains, ("domain",))
        for path, ref in (("lead",), matter.lead), *((("supports", i), s) for i, s in enumerate(matter.supports)):
            if ref not in refs:
                yield unknown("matters", matter.id, "organization", ref, refs, path)
        for variant in matter.variants:
            for ref in (variant.lead, *(variant.supports or ())):
                if ref is not None and ref not in refs:
                    yield unknown("matters", matter.id, "organization", ref, refs)
        for index, attr in enumerate(matter.attributes):
            if attr not in policy.attributes:
                yield unknown("matters", matter.id, "attribute", attr, policy.attributes, ("attributes", index))

    for rule in policy.rules:
        then = rule.then
        then_refs: list[tuple[tuple[str | int, ...], str | None]] = [(("then", "lead"), then.lead), (("then", "coordinator"), then.coordinator)]
        then_refs += [(("then", "supports", i), s) for i, s in enumerate(then.supports)]
        for path, ref in then_refs:
            if ref is not None and ref not in refs:
                yield unknown("rules", rule.id, "organization", ref, refs, path)
        for key, test in rule.tests().items():
            yield from _check_test(policy, rule.id, key, test, allowed, locator)

    # delegations (赋权) and recalls (收回) name townships and matters the same way
    scoped: list[tuple[str, Delegation | Recall]] = [("delegations", d) for d in policy.delegations]
    scoped += [("recalls", r) for r in policy.recalls]
    for section, item in scoped:
        if isinstance(item, Recall) and item.receiver not in orgs:
            yield unknown(section, item.id, "organization", item.receiver, orgs)
        for index, township in enumerate(item.townships):
            if township not in orgs or not orgs[township].is_township:
                yield unknown(section, item.id, "township", township, [t.id for t in policy.townships()], ("townships", index))
        for index, matter_id in enumerate(item.matters):
            if matter_id not in policy.matters:
                yield unknown(section, item.id, "matter", matter_id, policy.matters, ("matters", index))


class _Allowed:
    """The values a condition on each key may name, worked out once per key.

    # NOTE: once per key, not per condition: rebuilding and scanning the matter list for
    # every value made validation grow with matters x rules (×100: 18.7 M steps).
    """

    def __init__(self, policy: Policy, domains: set[str]) -> None:
        self.policy = policy
        self.domains = domains
        self._known: dict[str, tuple[list[object], set[object], bool] | None] = {}

    def values(self, key: str) -> tuple[list[object], set[object], bool] | None:
        """(the allowed values, the same as a set, whether they are booleans); None for a
        numeric attribute (any number)."""
        if key not in self._known:
            found = self._allowed(key)
            self._known[key] = None if found is None else (found, set(found), any(isinstance(k, bool) for k in found))
        return self._known[key]

    def _allowed(self, key: str) -> list[object] | None:
        policy = self.policy
        if key == "matter":
            return list(policy.matters)
        if key in ("township",):
            return [t.id for t in policy.townships()]
        if key == "domain":
            return list(self.domains)
        if key == "team":
            return list(TEAM_VALUES)
        if key == "township_kind":
            return list(TOWNSHIP_KINDS)
        if key == "delegated":
            return [True, False]
        attr = policy.attributes[key]
        if attr.type is AttributeType.enum:
            return [v.id for v in attr.values]
        if attr.type is AttributeType.bool:
            return [True, False]
        if attr.type is AttributeType.township:
            return [t.id for t in policy.townships()]
        return None


KNOWN_KEYS = ("matter", "township", "domain", "team", "township_kind", "delegated")


def _check_test(
    policy: Policy, rule_id: str, key: str, test: Comparison, allowed: _Allowed, locator: Locator
) -> Iterator[Finding]:
    loc = policy.where("rules", rule_id)
    op, value = test.operator
    values: tuple[object, ...] = tuple(value) if isinstance(value, tuple) else (value,)
    numeric = op in ("gt", "gte", "lt", "lte")

    def bad(code: str, message: str, hint: str | None = None) -> Finding:
        line = locator.line(loc.file, "rules", rule_id, ("when", key)) or loc.line
        return Finding(code, message, loc.file, line, rule_id, hint=hint)

    if key not in KNOWN_KEYS and key not in policy.attributes:
        known = [*policy.attributes, *KNOWN_KEYS]
        yield bad("unknown_attribute", f"condition on unknown attribute `{key}`", suggest(key, known))
        return
    found = allowed.values(key)
    if found is None:  # a numeric attribute
        if not numeric and not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            yield bad("wrong_type", f"condition on `{key}` must compare numbers")
        return
    if numeric:
        yield bad("wrong_operator", f"`{op}` compares numbers but `{key}` is not numeric")
        return
    known_values, known_set, booleans = found
    for v in values:
        if isinstance(v, bool) != booleans or v not in known_set:
            yield bad(
                "value_not_allowed",
                f"`{v}` is not an allowed value of `{key}`",
                suggest(str(v), [str(k) for k in known_values]),
            )
