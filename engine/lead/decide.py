"""Decide who leads a case: collect every matching clause, then apply precedence.

Combining semantics (the contract auditors rely on):
1. durable_rules reports every clause whose conditions hold on `as_of` (facts, not events).
2. Amendment rules never compete: each one that matched adds its supports, coordinator,
   time limits and notes to the result.
3. The other clauses compete for the lead. Order: higher `priority` first, then the
   specificity tier escalation > integrated (一件事) > delegation > list default.
4. Clauses of the winner's rank that name a different lead make the outcome `conflict`:
   every candidate is named, the arbiter (编办) decides, and meanwhile the first-listed
   lead keeps handling the case (部门职责分工协调办法).
5. No matter, or no clause matched → `dispatch` to the county centre (兜底).
A clause whose lead cannot be resolved for this case (e.g. `@enforcement_team` where no
team serves the township) is skipped and reported, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from types import MappingProxyType
from typing import Any

from engine.lead.decision import Case, Decision, DecisionOutcome, Explanation, OrgRef, RuleRef
from engine.lead.facts import build_fact, check_case
from engine.policy.index import Change, Policy
from engine.policy.model import TEAM_REF, TOWNSHIP_REF, Assignment, Basis, Matter, Rule, RuleKind
from engine.rules.compile import CompiledPolicy, Fire

TIERS = ("escalation", "integrated", "delegation", "list")
TIER_ZH = {"escalation": "升级处置", "integrated": "一件事", "delegation": "赋权/1+X", "list": "清单默认"}


@dataclass(frozen=True)
class Clause:
    """A competing clause: a matter's list default or a lead-naming rule."""

    id: str
    title: str
    kind: str
    priority: int
    order: int
    outcome: Assignment
    basis: tuple[Basis, ...]
    layers: tuple[Change, ...] = ()  # the layers that shaped it (engine.policy.layers), when layered

    @cached_property
    def rank(self) -> tuple[int, int]:
        return (-self.priority, TIERS.index(self.kind))

    @cached_property
    def ref(self) -> RuleRef:
        return RuleRef(self.id, self.title, self.kind, self.basis, self.layers)

    def cited(self) -> str:
        """Where the clause comes from, for explanations of a layered policy ("" otherwise)."""
        if not self.layers:
            return ""
        parts = [f"{c.layer} 层" + ("覆盖 " + "、".join(c.fields) if c.action == "override" else "") for c in self.layers]
        return "; 来自 " + ", ".join(parts)


KIND_ZH = {"street": "街道", "township": "乡镇"}


def _list_clause(policy: Policy, matter: Matter, order: int, township_kind: str | None = None) -> Clause:
    variant = matter.variant(township_kind) if township_kind else None
    outcome = Assignment(
        lead=variant.lead if variant and variant.lead else matter.lead,
        supports=variant.supports if variant and variant.supports is not None else matter.supports,
        time_limits=variant.time_limits if variant and variant.time_limits is not None else matter.time_limits,
        township_duties=variant.township_duties if variant and variant.township_duties else matter.township_duties,
    )
    title = f"清单默认: {matter.name}" + (f"({KIND_ZH[variant.township_kind]})" if variant else "")
    basis = matter.basis + (variant.basis if variant else ())
    layers = policy.clause_layers("matters", matter.id, township_kind) if policy.layered else ()
    return Clause(matter.id, title, "list", 0, order, outcome, basis, layers)


def _rule_clause(policy: Policy, rule: Rule, order: int) -> Clause:
    layers = policy.clause_layers("rules", rule.id) if policy.layered else ()
    return Clause(rule.id, rule.title, rule.kind.value, rule.priority, order, rule.then, rule.basis, layers)


# Bound on the memoised (organization, date) resolutions per policy: dates are unbounded
# over a service's life, memory must not be.
MAX_MEMO_ENTRIES = 65536


class Prepared:
    """What `decide` needs from a compiled policy, derived once instead of per decision.

    Clauses are built once per matter and rule; organization references are resolved
    (successors followed, OrgRef built) once per (organization, date).
    """

    def __init__(self, compiled: CompiledPolicy) -> None:
        policy = compiled.policy
        self.policy = policy
        self.clause_of_rule = compiled.clause_of_rule
        self.shard_of_matter = compiled.shard_of_matter
        self.list_order = len(policy.rules)
        self.list_clauses = {m.id: _list_clause(policy, m, self.list_order) for m in policy.matters.values()}
        # (matter id, township kind) → the list default for street offices or towns that differ
        self.variant_clauses: dict[tuple[str, str], Clause] = {
            (m.id, v.township_kind): _list_clause(policy, m, self.list_order, v.township_kind)
            for m in policy.matters.values()
            for v in m.variants
        }
        # rule id → (order, clause or None for amendments, rule)
        self.rules: dict[str, tuple[int, Clause | None, Rule]] = {
            r.id: (i, None if r.kind is RuleKind.amendment else _rule_clause(policy, r, i), r)
            for i, r in enumerate(policy.rules)
        }
        self.policy_ref = MappingProxyType({"id": policy.id, "version": policy.version, "digest": policy.digest})
        self._orgs: dict[tuple[str, date], tuple[OrgRef, tuple[str, ...]]] = {}
        self._teams: dict[tuple[str, date], str | None] = {}
        self._facts: dict[tuple[str, str | None, date], dict[str, Any]] = {}
        self.good_values: set[tuple[str, type, object]] = set()  # attribute values that passed check_case

    @staticmethod
    def of(compiled: CompiledPolicy) -> Prepared:
        prepared = compiled.memo.get("decide")
        if prepared is None:
            prepared = compiled.memo.setdefault("decide", Prepared(compiled))
        assert isinstance(prepared, Prepared)
        return prepared

    def org(self, org_id: str, on: date) -> tuple[OrgRef, tuple[str, ...]]:
        """The body in force for `org_id` on that date, and the 机构改革 notes that led to it."""
        key = (org_id, on)
        found = self._orgs.get(key)
        if found is None:
            policy = self.policy
            resolved = policy.resolve_org(org_id, on)
            notes = tuple(
                f"机构改革: {old.name} 自 {old.valid_until} 起由 {policy.organizations[old.successor or ''].name} 承接"
                for old in resolved.via
            )
            found = (OrgRef.of(resolved.org, resolved.via), notes)
            if len(self._orgs) >= MAX_MEMO_ENTRIES:
                self._orgs.clear()
            self._orgs[key] = found
        return found

    def fact(self, case: Case) -> dict[str, Any]:
        """`engine.lead.facts.build_fact` for a checked case: the part that depends on township,
        matter and date (defaults and derived facts) is built once, the attributes laid over
        it. Attribute ids never collide with derived facts (engine.policy.model.DERIVED_FACTS)."""
        key = (case.township, case.matter, case.as_of)
        base = self._facts.get(key)
        if base is None:
            base = build_fact(self.policy, Case(township=case.township, as_of=case.as_of, matter=case.matter))
            if len(self._facts) >= MAX_MEMO_ENTRIES:
                self._facts.clear()
            self._facts[key] = base
        return {**base, **case.attributes}  # a fresh dict: the memoised base is never handed out

    def team(self, township_id: str, on: date) -> str | None:
        key = (township_id, on)
        if key not in self._teams:
            _, team = self.policy.team_for(township_id, on)
            if len(self._teams) >= MAX_MEMO_ENTRIES:
                self._teams.clear()
            self._teams[key] = team.id if team else None
        return self._teams[key]


class _Resolver:
    """Resolves organization references for one case on its date."""

    def __init__(self, prepared: Prepared, case: Case) -> None:
        self.prepared = prepared
        self.case = case
        self.notes: list[str] = []

    def org(self, ref: str) -> OrgRef | None:
        case = self.case
        if ref == TOWNSHIP_REF:
            org_id: str | None = case.township
        elif ref == TEAM_REF:
            org_id = self.prepared.team(case.township, case.as_of)
        elif ref.startswith("@"):
            value = case.attributes.get(ref[1:])
            org_id = value if isinstance(value, str) else None
        else:
            org_id = ref
        if org_id is None or org_id not in self.prepared.policy.organizations:
            return None
        org, notes = self.prepared.org(org_id, case.as_of)
        for note in notes:
            if note not in self.notes:
                self.notes.append(note)
        return org


def decide(case: Case, compiled: CompiledPolicy, fire: Fire) -> Decision:
    """Decide one case. Pure: the date comes with the case; `fire` runs durable_rules."""
    policy = compiled.policy
    prepared = Prepared.of(compiled)
    check_case(policy, case, prepared.good_values)
    resolver = _Resolver(prepared, case)
    township = resolver.org(case.township)
    assert township is not None  # check_case guarantees it

    matter = policy.matters.get(case.matter) if case.matter else None
    fired_names = fire(prepared.shard_of_matter[matter.id], prepared.fact(case)) if matter else []
    clause_of_rule = prepared.clause_of_rule
    fired_ids = {clause_of_rule[name] for name in fired_names}

    clauses: list[Clause] = []
    amended: list[tuple[int, Rule]] = []
    for clause_id in fired_ids:
        entry = prepared.rules.get(clause_id)
        if entry is None:  # a matter's list default (matter and rule ids never collide)
            if matter is not None and clause_id == matter.id:
                variant = prepared.variant_clauses.get((clause_id, township.kind or ""))
                clauses.append(variant or prepared.list_clauses[clause_id])
        elif entry[1] is None:
            amended.append((entry[0], entry[2]))
        else:
            clauses.append(entry[1])
    clauses.sort(key=lambda c: c.order)
    amendments = [rule for _, rule in sorted(amended, key=lambda a: a[0])]
    fired = tuple(c.id for c in clauses) + tuple(a.id for a in amendments)

    explanation: list[Explanation] = []
    leads: dict[str, OrgRef] = {}
    usable: list[Clause] = []
    for clause in sorted(clauses, key=lambda c: (c.rank, c.order)):
        lead = resolver.org(clause.outcome.lead or "")
        if lead is None:
            explanation.append(
                Explanation(clause.id, "skipped", f"牵头单位 `{clause.outcome.lead}` 对本案无法确定(该乡镇无对应机构)")
            )
            continue
        leads[clause.id] = lead
        usable.append(clause)

    base: dict[str, Any] = {
        "township": township,
        "policy": prepared.policy_ref,
        "as_of": case.as_of,
        "reference": case.reference,
        "fired": fired,
        "matter": {"id": matter.id, "name": matter.name, "domain": matter.domain} if matter else None,
    }
    if not usable:
        return _dispatch(policy, case, matter, resolver, explanation, base)

    winner = usable[0]
    tied = [c for c in usable if c.rank == winner.rank]
    rivals = [c for c in tied if leads[c.id].id != leads[winner.id].id]
    outcome: DecisionOutcome = "conflict" if rivals else "assigned"
    if rivals:  # the first-listed lead keeps handling meanwhile
        winner = min(tied, key=lambda c: c.order)

    for clause in usable:
        if clause is winner:
            reason = f"胜出: 优先级 {clause.priority}, 层级 {TIER_ZH[clause.kind]}, 牵头 {leads[clause.id].name}{clause.cited()}"
            explanation.insert(0, Explanation(clause.id, "won", reason))
        elif clause.rank == winner.rank:
            if leads[clause.id].id == leads[winner.id].id:
                explanation.append(Explanation(clause.id, "tied", f"与 {winner.id} 同级且牵头单位相同"))
            else:
                reason = f"冲突: 与 {winner.id} 同级但牵头单位为 {leads[clause.id].name}"
                explanation.append(Explanation(clause.id, "conflict", reason))
        elif clause.priority != winner.priority:
            reason = f"落选: 优先级 {clause.priority} 低于 {winner.id} 的 {winner.priority}"
            explanation.append(Explanation(clause.id, "lost", reason))
        else:
            reason = f"落选: 同优先级下 {TIER_ZH[clause.kind]} 层级低于 {winner.id} 的 {TIER_ZH[winner.kind]}"
            explanation.append(Explanation(clause.id, "lost", reason))

    lead = leads[winner.id]
    support_refs = list(winner.outcome.supports)
    if winner.kind != "list" and matter is not None and not winner.outcome.supports:
        support_refs = list(matter.supports)
    time_limits = dict(matter.time_limits) if matter else {}
    time_limits.update(winner.outcome.time_limits)
    duties = winner.outcome.township_duties or (matter.township_duties if matter else ())
    coordinator_ref = winner.outcome.coordinator
    notes = list(winner.outcome.notes)
    for amendment in amendments:
        support_refs += amendment.then.supports
        time_limits.update(amendment.then.time_limits)
        coordinator_ref = amendment.then.coordinator or coordinator_ref
        notes += amendment.then.notes
        added = "、".join(amendment.then.supports) or "无"
        explanation.append(Explanation(amendment.id, "applied", f"附加: 配合单位 {added}"))

    supports: list[OrgRef] = []
    support_ids = {lead.id}
    for ref in support_refs:
        org = resolver.org(ref)
        if org is not None and org.id not in support_ids:
            support_ids.add(org.id)
            supports.append(org)
    coordinator = resolver.org(coordinator_ref) if coordinator_ref else None
    candidates: tuple[OrgRef, ...] = ()
    arbiter = None
    if outcome == "conflict":
        seen: dict[str, OrgRef] = {}
        for clause in sorted(tied, key=lambda c: c.order):
            seen.setdefault(leads[clause.id].id, leads[clause.id])
        candidates = tuple(seen.values())
        arbiter = resolver.org(policy.manifest.disputes.arbiter)
        notes.append(f"牵头单位存在争议, 提请 {arbiter.name if arbiter else '编办'} 裁定; 争议期间由首个列明的 {lead.name} 继续办理")
    if matter is not None and winner.kind == "list":
        for ended in policy.delegations_ended(case.township, matter.id, case.as_of):
            notes.append(f"赋权 {ended.id} 已于 {ended.valid_until} 收回")
    return Decision(
        outcome=outcome,
        lead=lead,
        supports=tuple(supports),
        township_duties=tuple(duties),
        time_limits=time_limits,
        rule=winner.ref,
        explanation=tuple(explanation),
        coordinator=coordinator,
        candidates=candidates,
        arbiter=arbiter,
        notes=tuple(notes + resolver.notes),
        **base,
    )


def _dispatch(
    policy: Policy,
    case: Case,
    matter: Matter | None,
    resolver: _Resolver,
    explanation: list[Explanation],
    base: dict[str, Any],
) -> Decision:
    dispatch = policy.manifest.dispatch
    centre = resolver.org(dispatch.to)
    assert centre is not None  # validate_references guarantees it
    if matter is None:
        reason = "未指明事项(清单外), 由县社会治理中心兜底派单"
    elif not matter.in_force(case.as_of):
        reason = f"事项 {matter.id} 于 {case.as_of} 不在清单有效期内, 由县社会治理中心兜底派单"
    else:
        reason = f"事项 {matter.id} 无规则适用, 由县社会治理中心兜底派单"
    explanation.insert(0, Explanation("dispatch", "dispatch", reason))
    return Decision(
        outcome="dispatch",
        lead=centre,
        supports=(),
        township_duties=matter.township_duties if matter else ("发现、报告",),
        time_limits=dict(dispatch.time_limits),
        rule=RuleRef("dispatch", "兜底派单: 县社会治理中心", "dispatch", dispatch.basis),
        explanation=tuple(explanation),
        notes=tuple(resolver.notes),
        **base,
    )
