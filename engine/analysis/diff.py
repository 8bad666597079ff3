"""Impact analysis: what changing the policy from `base` to `head` would do.

Two answers, both without side effects beyond evaluating the two policies:
1. `clause_changes`: the clauses (manifest, organizations, attributes, matters, rules,
   delegations) added, removed and changed, each changed one with the fields that differ.
2. `decision_changes`: every case whose lead, supports (as a set) or outcome differs
   between the two policies. The cases are the union of both policies' declared case
   spaces (engine.analysis.space) on the union of their boundary dates, plus any logged requests
   given. A case one policy rejects (unknown matter, value no longer allowed) has the
   outcome `rejected` there.
3. `affected_matters`: the matters whose decisions the change can reach at all. Only
   their cases are decided (unless `exhaustive`): a matter whose own clause, applicable
   rules (and their order), delegations and referenced bodies (through successors) are
   unchanged is decided identically by both policies, so deciding it proves nothing. Any
   change the analysis cannot bound (attributes, dispatch, townships, teams, …) makes
   every matter affected.

`impact` puts both together; `render_table` prints it grouped by matter and township.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Any

from engine.analysis import space
from engine.errors import CaseError
from engine.lead.decision import Case, Decision
from engine.policy.grid import grid_of
from engine.policy.index import Policy
from engine.policy.model import TEAM_REF, TOWNSHIP_REF, Assignment, AttributeType, OrgKind, Rule, Scalar

Decide = Callable[[Case], Decision]
CaseKey = tuple[str | None, str, tuple[tuple[str, Scalar], ...], date]

CHANGE_FIELDS = ("outcome", "lead", "supports")


@dataclass(frozen=True)
class ClauseChange:
    """One clause added, removed or changed; `where` is file:line in the policy that has it."""

    section: str
    id: str
    change: str  # added | removed | changed
    fields: tuple[str, ...] = ()
    where: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section, "id": self.id, "change": self.change}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.where:
            out["where"] = self.where
        return out


@dataclass(frozen=True)
class Summary:
    """What a decision says that impact analysis compares, plus the winning rule for readers."""

    outcome: str
    lead: str | None = None
    lead_name: str | None = None
    supports: tuple[str, ...] = ()
    rule: str | None = None
    error: str | None = None

    @staticmethod
    def of(decision: Decision) -> Summary:
        return Summary(
            outcome=decision.outcome,
            lead=decision.lead.id,
            lead_name=decision.lead.name,
            supports=tuple(s.id for s in decision.supports),
            rule=decision.rule.id,
        )

    @staticmethod
    def rejected(error: CaseError) -> Summary:
        return Summary(outcome="rejected", error=error.code)

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"outcome": self.outcome, "error": self.error}
        return {
            "outcome": self.outcome,
            "lead": self.lead,
            "lead_name": self.lead_name,
            "supports": list(self.supports),
            "rule": self.rule,
        }


def differences(before: Summary, after: Summary) -> tuple[str, ...]:
    """Which of outcome, lead and supports differ (supports compared as sets)."""
    changed = []
    if before.outcome != after.outcome:
        changed.append("outcome")
    if before.lead != after.lead:
        changed.append("lead")
    if set(before.supports) != set(after.supports):
        changed.append("supports")
    return tuple(changed)


@dataclass(frozen=True)
class CaseChange:
    """A case whose decision would change. `decision_id` is set for logged requests."""

    case: Case
    before: Summary
    after: Summary
    changed: tuple[str, ...]
    source: str = "space"  # space | log
    decision_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        if self.decision_id is not None:
            out["decision_id"] = self.decision_id
        out["case"] = self.case.to_dict()
        out["changed"] = list(self.changed)
        out["before"] = self.before.to_dict()
        out["after"] = self.after.to_dict()
        return out


@dataclass(frozen=True)
class Impact:
    base: Mapping[str, str]
    head: Mapping[str, str]
    clauses: tuple[ClauseChange, ...]
    cases_checked: int
    logged_checked: int
    changes: tuple[CaseChange, ...]
    matters_decided: tuple[str, ...] = ()
    matters_unreached: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": dict(self.base),
            "head": dict(self.head),
            "clauses": {
                kind: [c.to_dict() for c in self.clauses if c.change == kind] for kind in ("added", "removed", "changed")
            },
            "matters_decided": list(self.matters_decided),
            "matters_unreached": list(self.matters_unreached),
            "cases_checked": self.cases_checked,
            "logged_checked": self.logged_checked,
            "changed_cases": len([c for c in self.changes if c.source == "space"]),
            "changed_logged": len([c for c in self.changes if c.source == "log"]),
            "decisions": [c.to_dict() for c in self.changes],
        }


def case_key(case: Case) -> CaseKey:
    return (case.matter, case.township, tuple(sorted(case.attributes.items())), case.as_of)


# --- clauses ------------------------------------------------------------------------

def _items(policy: Policy) -> dict[tuple[str, str], dict[str, Any]]:
    items: dict[tuple[str, str], dict[str, Any]] = {("policy", policy.id): policy.manifest.model_dump(mode="json")}
    sections: dict[str, Iterable[Any]] = {
        "organizations": policy.organizations.values(),
        "attributes": policy.attributes.values(),
        "matters": policy.matters.values(),
        "rules": policy.rules,
        "delegations": policy.delegations,
    }
    grid = grid_of(policy)
    if grid is not None:
        items[("grid_admission", "grid_admission")] = grid.settings.model_dump(mode="json", by_alias=True)
        sections["grid_fields"] = grid.fields.values()
        sections["grid_criteria"] = grid.criteria
    for section, values in sections.items():
        for item in values:
            items[(section, item.id)] = item.model_dump(mode="json", by_alias=True)
    rule_ids = [r.id for r in policy.rules]
    for position, rule_id in enumerate(rule_ids):
        # The order of rules breaks ties ("the first-listed lead keeps handling").
        items[("rules", rule_id)]["(position)"] = position
    return items


def _where(policy: Policy, section: str, item_id: str) -> str | None:
    if section in ("policy", "grid_admission"):
        return None
    loc = policy.where(section, item_id)
    return f"{loc.file}:{loc.line}" if loc.line else loc.file


def clause_changes(base: Policy, head: Policy) -> list[ClauseChange]:
    """Clauses added, removed and changed from base to head, in head's section order."""
    old, new = _items(base), _items(head)
    if ("policy", base.id) in old and base.id != head.id:
        old[("policy", head.id)] = old.pop(("policy", base.id))
    # Positions count among the rules both sides have, so one insertion does not move the rest.
    common = [k for k in new if k[0] == "rules" and k in old]
    for items in (old, new):
        ranked = sorted(common, key=lambda k: items[k]["(position)"])
        for rank, key in enumerate(ranked):
            items[key]["(position)"] = rank
    changes: list[ClauseChange] = []
    for key, item in new.items():
        section, item_id = key
        if key not in old:
            changes.append(ClauseChange(section, item_id, "added", where=_where(head, section, item_id)))
            continue
        before = old[key]
        fields = tuple(sorted(k for k in set(before) | set(item) if before.get(k) != item.get(k)))
        fields = tuple("position" if f == "(position)" else f for f in fields)
        if fields:
            changes.append(ClauseChange(section, item_id, "changed", fields, _where(head, section, item_id)))
    changes += [ClauseChange(k[0], k[1], "removed", where=_where(base, k[0], k[1])) for k in old if k not in new]
    return changes


# --- which matters a change can reach -----------------------------------------------

# Manifest fields `decide` never reads for a lead, its supports or the outcome.
MANIFEST_INERT = frozenset({"id", "version", "title", "title_en", "jurisdiction", "illustrative", "notice", "time_limit_labels"})


def _dumps(items: Iterable[Any]) -> dict[str, Any]:
    return {item.id: item.model_dump(mode="json", by_alias=True) for item in items}


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def _rule_matters(rule: Rule, every: set[str]) -> set[str]:
    """The matters a rule can fire for: those its `matter` test names, else all."""
    test = rule.tests().get("matter")
    if test is None:
        return every
    op, value = test.operator
    if op not in ("eq", "in"):
        return every
    named = value if isinstance(value, tuple) else (value,)
    return {str(v) for v in named}


def _refs(outcome: Assignment) -> list[str]:
    return [r for r in (outcome.lead, outcome.coordinator, *outcome.supports) if r]


def _names_townships(ref: str, *policies: Policy) -> bool:
    """Whether an `@` reference can only name a township or its team (unchanged bodies here)."""
    if ref in (TOWNSHIP_REF, TEAM_REF):
        return True
    attrs = [p.attributes.get(ref[1:]) for p in policies]
    return all(a is not None and a.type is AttributeType.township for a in attrs)


def affected_matters(base: Policy, head: Policy) -> set[str] | None:
    """The matters whose lead, supports or outcome may differ; None when it may be any.

    Sound by construction: `decide` reads, for a case of matter M, only M's clause, the
    rules that can fire for M in their relative order, the delegations naming M, the
    organizations reached from those clauses' references through successors, the
    townships and their teams, the attributes and the manifest's dispatch and disputes.
    """
    inert = MANIFEST_INERT
    manifests = [{k: v for k, v in p.manifest.model_dump(mode="json").items() if k not in inert} for p in (base, head)]
    if manifests[0] != manifests[1] or _changed(_dumps(base.attributes.values()), _dumps(head.attributes.values())):
        return None
    every = set(base.matters) | set(head.matters)
    affected = _changed(_dumps(base.matters.values()), _dumps(head.matters.values()))
    rules = ({r.id: r for r in base.rules}, {r.id: r for r in head.rules})
    for rule_id in _changed(_dumps(base.rules), _dumps(head.rules)):
        for side in rules:
            if rule_id in side:
                affected |= _rule_matters(side[rule_id], every)
    orders = [{m: [r.id for r in p.rules if m in _rule_matters(r, every)] for m in every} for p in (base, head)]
    affected |= {m for m in every if orders[0][m] != orders[1][m]}
    delegations = ({d.id: d for d in base.delegations}, {d.id: d for d in head.delegations})
    for delegation_id in _changed(_dumps(base.delegations), _dumps(head.delegations)):
        for delegated in delegations:
            if delegation_id in delegated:
                affected |= set(delegated[delegation_id].matters)

    orgs = _changed(_dumps(base.organizations.values()), _dumps(head.organizations.values()))
    if not orgs:
        return affected & every
    both = [*base.organizations.values(), *head.organizations.values()]
    teams = {o.enforcement_team for o in both if o.enforcement_team}
    special = (OrgKind.team, OrgKind.centre, OrgKind.arbiter)
    if any(o.id in orgs and (o.is_township or o.kind in special or o.serves or o.enforcement_team) for o in both) or orgs & teams:
        return None  # townships, teams, the centre, 编办: they reach every case

    def reach(ids: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(ids)
        while todo:
            org_id = todo.pop()
            if org_id in seen:
                continue
            seen.add(org_id)
            todo += [p.organizations[org_id].successor or "" for p in (base, head) if org_id in p.organizations]
        return seen - {""}

    fixed = [p.manifest.dispatch.to for p in (base, head)] + [p.manifest.disputes.arbiter for p in (base, head)]
    if reach(fixed) & orgs:
        return None
    for matter_id in every - affected:
        refs: list[str] = []
        for policy, side in zip((base, head), rules, strict=True):
            matter = policy.matters.get(matter_id)
            if matter is not None:
                refs += [matter.lead, *matter.supports]
            refs += [ref for r in side.values() if matter_id in _rule_matters(r, every) for ref in _refs(r.then)]
        if any(ref.startswith("@") and not _names_townships(ref, base, head) for ref in refs) or reach(
            r for r in refs if not r.startswith("@")
        ) & orgs:
            affected.add(matter_id)  # an attribute may name any body; or a changed body is reached
    return affected & every


# --- decisions ----------------------------------------------------------------------

def _summary(decide: Decide, case: Case) -> Summary:
    try:
        return Summary.of(decide(case))
    except CaseError as exc:
        return Summary.rejected(exc)


def space_cases(base: Policy, head: Policy, matters: Collection[str] | None = None) -> list[Case]:
    """Both policies' representative cases on both policies' boundary dates, each once
    (only those of `matters` when given)."""
    days = sorted(set(space.boundary_dates(base)) | set(space.boundary_dates(head)))
    seen: dict[CaseKey, Case] = {}
    for policy in (base, head):
        for case in space.cases(policy, days, matters):
            seen.setdefault(case_key(case), case)
    return list(seen.values())


def decision_changes(
    base: Decide,
    head: Decide,
    cases: Iterable[Case],
    source: str = "space",
    ids: Iterable[str | None] | None = None,
) -> tuple[int, list[CaseChange]]:
    """Decide every case under both policies; return how many were checked and the changes."""
    checked = 0
    changes: list[CaseChange] = []
    id_list = list(ids) if ids is not None else None
    for index, case in enumerate(cases):
        checked += 1
        before, after = _summary(base, case), _summary(head, case)
        changed = differences(before, after)
        if changed:
            decision_id = id_list[index] if id_list is not None else None
            changes.append(CaseChange(case, before, after, changed, source, decision_id))
    return checked, changes


def _names(base: Policy, head: Policy) -> dict[str, str]:
    names: dict[str, str] = {}
    for policy in (base, head):
        names.update({o.id: o.name for o in policy.organizations.values()})
        names.update({m.id: m.name for m in policy.matters.values()})
    return names


def impact(
    base_policy: Policy,
    base: Decide,
    head_policy: Policy,
    head: Decide,
    logged: Iterable[tuple[str, Case]] = (),
    with_space: bool = True,
    matters: Collection[str] | None = None,
    exhaustive: bool = False,
) -> Impact:
    """Clause changes plus every changed decision over the case space and the logged cases
    (restricted to `matters` when given). Only the matters the change can reach are
    decided, unless `exhaustive`."""
    every = set(base_policy.matters) | set(head_policy.matters)
    wanted = every if matters is None else every & set(matters)
    reach = None if exhaustive else affected_matters(base_policy, head_policy)
    scope = wanted if reach is None else wanted & reach
    checked, changes = 0, list[CaseChange]()
    if with_space:
        checked, changes = decision_changes(base, head, space_cases(base_policy, head_policy, scope))
    logged_all = [(i, c) for i, c in logged if matters is None or c.matter in matters]
    # a logged case of an unreachable matter (or of none: 清单外) is decided alike by both
    logged_list = [(i, c) for i, c in logged_all if reach is None or c.matter in scope]
    _, logged_changes = decision_changes(
        base, head, [c for _, c in logged_list], "log", [i for i, _ in logged_list]
    )
    ordered = sorted(changes, key=_order) + sorted(logged_changes, key=_order)
    return Impact(
        base=_ref(base_policy),
        head=_ref(head_policy),
        clauses=tuple(clause_changes(base_policy, head_policy)),
        cases_checked=checked,
        logged_checked=len(logged_all),
        matters_decided=tuple(sorted(scope)),
        matters_unreached=tuple(sorted(wanted - scope)),
        changes=tuple(ordered),
        names=_names(base_policy, head_policy),
    )


def _ref(policy: Policy) -> dict[str, str]:
    return {"id": policy.id, "version": policy.version, "digest": policy.digest}


def _order(change: CaseChange) -> tuple[str, str, date, str]:
    case = change.case
    return (case.matter or "", case.township, case.as_of, repr(sorted(case.attributes.items())))


# --- rendering ----------------------------------------------------------------------

def _lead(summary: Summary, names: Mapping[str, str]) -> str:
    if summary.error is not None:
        return f"rejected ({summary.error})"
    return names.get(summary.lead or "", summary.lead or "-")


def _change_text(change: CaseChange, names: Mapping[str, str]) -> str:
    """Only what changed: `outcome a → b; lead X → Y; supports +Z -W [rule → rule]`."""
    before, after = change.before, change.after
    parts: list[str] = []
    if "outcome" in change.changed:
        parts.append(f"outcome {before.outcome} → {after.outcome}")
    if "lead" in change.changed:
        parts.append(f"lead {_lead(before, names)} → {_lead(after, names)}")
    if "supports" in change.changed:
        added = [f"+{names.get(s, s)}" for s in after.supports if s not in before.supports]
        removed = [f"-{names.get(s, s)}" for s in before.supports if s not in after.supports]
        parts.append(f"supports {' '.join(added + removed)}")
    rule = before.rule if before.rule == after.rule else f"{before.rule or '-'} → {after.rule or '-'}"
    return f"{'; '.join(parts)}  [{rule}]"


def _value(value: Scalar) -> str:
    return value if isinstance(value, str) else json.dumps(value)


DETAIL_LIMIT = 50


def render_table(result: Impact, limit: int = DETAIL_LIMIT) -> str:
    """The impact as text: a summary first (per matter and township: how many cases change,
    from what to what), then the clause changes, then at most `limit` changed cases one
    per line (0: all of them; `--json` always has everything)."""
    names = result.names
    base, head = result.base, result.head
    space_changes = [c for c in result.changes if c.source == "space"]
    log_changes = [c for c in result.changes if c.source == "log"]
    lines = [
        f"base {base['id']} {base['version']} ({base['digest'][:12]}) → head {head['id']} {head['version']} ({head['digest'][:12]})",
        "",
    ]
    counted = [f"{len(space_changes)} of {result.cases_checked} enumerated cases"] if result.cases_checked else []
    if result.logged_checked:
        counted.append(f"{len(log_changes)} of {result.logged_checked} logged decisions")
    lines.append(f"summary: {len(result.clauses)} clause{'' if len(result.clauses) == 1 else 's'} changed; " + ("; ".join(counted) or "no case enumerated") + " change")
    lines += _summary_lines(result.changes, names)
    lines += ["", "clauses:"]
    if not result.clauses:
        lines.append("  (none changed)")
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for clause in result.clauses:
        fields = f" ({', '.join(clause.fields)})" if clause.fields else ""
        where = f"  {clause.where}" if clause.where else ""
        lines.append(f"  {marks[clause.change]} {clause.section}/{clause.id}{fields}{where}")
    lines.append("")
    if result.cases_checked:
        lines.append(f"case space: {len(space_changes)} of {result.cases_checked} cases change")
    else:
        lines.append("case space: no case enumerated")
    if result.matters_unreached:
        lines.append(
            f"  ({len(result.matters_decided)} matter{'' if len(result.matters_decided) == 1 else 's'} decided; the change cannot reach the other"
            f" {len(result.matters_unreached)}: their clauses, rules, delegations and bodies are unchanged)"
        )
    budget = limit if limit > 0 else len(result.changes)
    shown = _grouped(space_changes[:budget], names)
    lines += shown
    budget -= min(budget, len(space_changes))
    if result.logged_checked:
        lines.append("")
        lines.append(f"logged decisions: {len(log_changes)} of {result.logged_checked} would change")
        lines += _grouped(log_changes[:budget], names)
    hidden = len(result.changes) - min(len(result.changes), limit if limit > 0 else len(result.changes))
    if hidden:
        lines.append("")
        lines.append(f"… {hidden} more changed case{'' if hidden == 1 else 's'} not listed (--limit 0 lists all; --json has everything)")
    return "\n".join(lines) + "\n"


def _summary_lines(changes: Sequence[CaseChange], names: Mapping[str, str]) -> list[str]:
    """One line per matter × township × kind of change, with its count, in case order."""
    counts: dict[tuple[str, str, str, str], int] = {}
    for change in changes:
        key = (change.source, change.case.matter or "", change.case.township, _change_text(change, names))
        counts[key] = counts.get(key, 0) + 1
    lines = []
    for (source, matter, township, text), count in counts.items():
        matter_name = names.get(matter, "清单外") if matter else "清单外"
        what = "case" if source == "space" else "logged decision"
        lines.append(f"  {matter or '-'} {matter_name} × {township} {names.get(township, '')}: {count} {what}{'' if count == 1 else 's'}  {text}")
    return lines


def _grouped(changes: list[CaseChange], names: Mapping[str, str]) -> list[str]:
    lines: list[str] = []
    for (matter, township), group_iter in groupby(changes, key=lambda c: (c.case.matter, c.case.township)):
        group = list(group_iter)
        matter_name = names.get(matter or "", "清单外") if matter else "清单外"
        lines.append(f"  {matter or '-'} {matter_name} × {township} {names.get(township, '')}: {len(group)}")
        for change in group:
            attrs = " ".join(f"{k}={_value(v)}" for k, v in sorted(change.case.attributes.items())) or "-"
            ident = f"{change.decision_id}  " if change.decision_id else ""
            lines.append(f"    {ident}{change.case.as_of}  {attrs}  {_change_text(change, names)}")
    return lines
