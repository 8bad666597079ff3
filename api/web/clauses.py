"""What a clause page shows: a matter, rule or delegation in readable Chinese, and its relations.

The builders here only read the policy; the routes add the scenarios and the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from api.web.render import validity
from engine.lead import TIER_ZH
from engine.listing import PROVENANCE_LABELS, RESPONSIBILITY_LABELS, Listing, render_limit
from engine.policy import (
    FACTS,
    Basis,
    Comparison,
    Delegation,
    GridCriterion,
    Matter,
    Policy,
    Provenance,
    Responsibility,
    Rule,
    RuleKind,
    grid_of,
)

FACT_LABELS = {
    "matter": "事项",
    "township": "乡镇(街道)",
    "domain": "领域",
    "team": "综合执法队",
    "township_kind": "乡镇(街道)类型",
    "delegated": "已获赋权",
}
TEAM_ZH = {"own": "本乡镇(街道)执法队", "hub": "中心镇执法队(1+X)", "none": "无执法队"}
KIND_ZH = {"township": "乡镇", "street": "街道"}
OPERATOR_ZH = {"eq": "=", "ne": "≠", "in": "属于", "not_in": "不属于", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}


@dataclass
class Related:
    id: str
    title: str
    kind: str
    relation: str


@dataclass
class ClauseView:
    """A clause as its page shows it."""

    id: str
    title: str
    kind: str  # "matter", a rule kind, "delegation_grant" or "dispatch"
    basis: tuple[Basis, ...]
    validity: str
    title_en: str | None = None
    location: str | None = None
    facts: list[tuple[str, Any]] = field(default_factory=list)
    conditions: list[tuple[str, str]] = field(default_factory=list)
    outcome: list[tuple[str, Any]] = field(default_factory=list)
    related: list[Related] = field(default_factory=list)
    playground: str | None = None


class Describer:
    """Renders ids, references and conditions of one policy in Chinese."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.listing = Listing(policy)
        self.domains = {d.id: d.name for d in policy.manifest.domains}
        self.labels = dict(policy.manifest.time_limit_labels)

    def org(self, ref: str) -> str:
        if ref.startswith("@") and ref[1:] in self.policy.attributes:
            return f"案件属性「{self.policy.attributes[ref[1:]].name}」所指乡镇(街道)"
        return self.listing.org_label(ref)

    def limits(self, limits: dict[str, str]) -> list[str]:
        return [f"{self.labels.get(k, k)} {render_limit(v)}" for k, v in limits.items()]

    def value(self, key: str, value: object) -> str:
        policy = self.policy
        if isinstance(value, bool):
            return "是" if value else "否"
        if key == "matter" and isinstance(value, str) and value in policy.matters:
            return f"{value} {policy.matters[value].name}"
        if key in ("township",) and isinstance(value, str) and value in policy.organizations:
            return policy.organizations[value].name
        if key == "domain" and isinstance(value, str):
            return self.domains.get(value, value)
        if key == "team" and isinstance(value, str):
            return TEAM_ZH.get(value, value)
        if key == "township_kind" and isinstance(value, str):
            return KIND_ZH.get(value, value)
        attr = policy.attributes.get(key)
        if attr is not None and isinstance(value, str):
            if attr.type.value == "township" and value in policy.organizations:
                return policy.organizations[value].name
            names = {v.id: v.name for v in attr.values}
            return names.get(value, value)
        return str(value)

    def condition(self, key: str, test: Comparison) -> tuple[str, str]:
        attr = self.policy.attributes.get(key)
        label = FACT_LABELS.get(key) or (attr.name if attr else key)
        op, value = test.operator
        if isinstance(value, tuple):
            shown = "、".join(self.value(key, v) for v in value)
            return label, f"{OPERATOR_ZH[op]} {{{shown}}}"
        return label, f"{OPERATOR_ZH[op]} {self.value(key, value)}"


def _named(rule: Rule, key: str) -> tuple[str | None, tuple[object, ...]]:
    test = rule.tests().get(key)
    if test is None:
        return None, ()
    op, value = test.operator
    return op, value if isinstance(value, tuple) else (value,)


def rule_applies_to(rule: Rule, matter: Matter) -> str | None:
    """How a rule relates to a matter: named for it, for its domain, general, or not at all."""
    op, named = _named(rule, "matter")
    if op is not None:
        if (op in ("eq", "in")) == (matter.id in named):
            return "针对本事项" if op in ("eq", "in") else "适用(排除式条件)"
        return None
    op, named = _named(rule, "domain")
    if op is not None:
        return "适用于本领域" if (op in ("eq", "in")) == (matter.domain in named) else None
    return "通用规则"


def matter_view(policy: Policy, matter: Matter) -> ClauseView:
    d = Describer(policy)
    where = policy.where("matters", matter.id)
    facts: list[tuple[str, Any]] = [
        ("事项名称", matter.name),
        ("领域", d.domains.get(matter.domain, matter.domain)),
        ("主体责任", RESPONSIBILITY_LABELS[Responsibility(matter.responsibility)]),
        ("牵头部门", d.org(matter.lead)),
        ("配合部门", "、".join(d.org(s) for s in matter.supports) or "—"),
        ("乡镇(街道)职责", [f"{n}. {x}" for n, x in enumerate(matter.township_duties, 1)]),
        ("县级部门职责", [f"{n}. {x}" for n, x in enumerate(matter.department_duties, 1)] or "—"),
        ("时限", d.limits(dict(matter.time_limits)) or "—"),
        ("别名", "、".join(matter.aliases) or "—"),
        ("相关案件属性", "、".join(policy.attributes[a].name for a in matter.attributes if a in policy.attributes) or "—"),
        ("来源", f"{PROVENANCE_LABELS[Provenance(matter.provenance)]}{': ' + matter.source if matter.source else ''}"),
    ]
    if matter.note:
        facts.append(("备注", matter.note))
    related = [
        Related(r.id, r.title, r.kind.value, relation)
        for r in policy.rules
        if (relation := rule_applies_to(r, matter)) is not None
    ]
    related += [Related(g.id, g.title, "delegation_grant", "赋权") for g in policy.delegations if matter.id in g.matters]
    return ClauseView(
        id=matter.id,
        title=matter.name,
        title_en=matter.name_en,
        kind="matter",
        basis=matter.basis,
        validity=validity(matter),
        location=f"{where.file}:{where.line}" if where.line else where.file,
        facts=facts,
        related=related,
        playground=f"/playground?matter={matter.id}",
    )


def rule_view(policy: Policy, rule: Rule) -> ClauseView:
    d = Describer(policy)
    where = policy.where("rules", rule.id)
    then = rule.then
    outcome: list[tuple[str, Any]] = []
    if then.lead:
        outcome.append(("牵头单位", d.org(then.lead)))
    if then.supports:
        outcome.append(("配合单位", [d.org(s) for s in then.supports]))
    if then.coordinator:
        outcome.append(("协调单位", d.org(then.coordinator)))
    if then.time_limits:
        outcome.append(("时限", d.limits(dict(then.time_limits))))
    if then.township_duties:
        outcome.append(("乡镇(街道)职责", list(then.township_duties)))
    if then.notes:
        outcome.append(("说明", list(then.notes)))
    tier = TIER_ZH.get(rule.kind.value, "附加规则" if rule.kind is RuleKind.amendment else rule.kind.value)
    facts: list[tuple[str, Any]] = [
        ("类型", tier),
        ("优先级", f"{rule.priority}(数值越大越优先)"),
        ("来源", f"{PROVENANCE_LABELS[Provenance(rule.provenance)]}{': ' + rule.source if rule.source else ''}"),
    ]
    if rule.description:
        facts.append(("说明", rule.description))
    related: list[Related] = []
    op, named = _named(rule, "matter")
    if op in ("eq", "in"):
        related = [
            Related(str(m), policy.matters[str(m)].name, "matter", "适用事项") for m in named if str(m) in policy.matters
        ]
    playground = f"/playground?matter={named[0]}" if op in ("eq", "in") and named else None
    return ClauseView(
        id=rule.id,
        title=rule.title,
        title_en=rule.title_en,
        kind=rule.kind.value,
        basis=rule.basis,
        validity=validity(rule),
        location=f"{where.file}:{where.line}" if where.line else where.file,
        facts=facts,
        conditions=[d.condition(k, t) for k, t in rule.tests().items()],
        outcome=outcome,
        related=related,
        playground=playground,
    )


def delegation_view(policy: Policy, grant: Delegation) -> ClauseView:
    where = policy.where("delegations", grant.id)
    names = [policy.organizations[t].name for t in grant.townships if t in policy.organizations]
    related = [Related(m, policy.matters[m].name, "matter", "赋权事项") for m in grant.matters if m in policy.matters]
    related += [Related(r.id, r.title, r.kind.value, "依赖赋权") for r in policy.rules if "delegated" in r.when]
    facts: list[tuple[str, Any]] = [("获赋权乡镇(街道)", "、".join(names)), ("来源", PROVENANCE_LABELS[Provenance(grant.provenance)])]
    if grant.note:
        facts.append(("备注", grant.note))
    return ClauseView(
        id=grant.id,
        title=grant.title,
        kind="delegation_grant",
        basis=grant.basis,
        validity=validity(grant).replace("止", "止(收回)") if grant.valid_until else validity(grant),
        location=f"{where.file}:{where.line}" if where.line else where.file,
        facts=facts,
        related=related,
    )


def dispatch_view(policy: Policy) -> ClauseView:
    d = Describer(policy)
    dispatch = policy.manifest.dispatch
    return ClauseView(
        id="dispatch",
        title="兜底派单: 清单外或无规则适用的案件",
        kind="dispatch",
        basis=dispatch.basis,
        validity="长期有效",
        facts=[("派单至", d.org(dispatch.to)), ("时限", d.limits(dict(dispatch.time_limits)) or "—")],
    )


SEVERITY_ZH = {"reject": "不予准入", "return": "退回修改", "note": "提示"}


def criterion_view(policy: Policy, criterion: GridCriterion) -> ClauseView:
    """A grid admission criterion (事务进网格准入审查标准): what it tests and what it finds."""
    where = policy.where("grid_criteria", criterion.id)
    conditions = []
    for key, test in criterion.tests().items():
        op, value = test.operator
        shown = "、".join(_fact_value(v) for v in value) if isinstance(value, tuple) else _fact_value(value)
        label = FACTS[key].label if key in FACTS else key
        conditions.append((label, f"{OPERATOR_ZH[op]} {{{shown}}}" if isinstance(value, tuple) else f"{OPERATOR_ZH[op]} {shown}"))
    facts: list[tuple[str, Any]] = [
        ("结论", SEVERITY_ZH.get(criterion.severity.value, criterion.severity.value)),
        ("提示语", criterion.message),
        ("来源", f"{PROVENANCE_LABELS[Provenance(criterion.provenance)]}{': ' + criterion.source if criterion.source else ''}"),
    ]
    return ClauseView(
        id=criterion.id,
        title=criterion.title,
        title_en=criterion.title_en,
        kind="criterion",
        basis=criterion.basis,
        validity=validity(criterion),
        location=f"{where.file}:{where.line}" if where.line else where.file,
        facts=facts,
        conditions=conditions,
    )


def _fact_value(value: object) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)


def criteria(policy: Policy) -> tuple[GridCriterion, ...]:
    grid = grid_of(policy)
    return grid.criteria if grid is not None else ()


def clause_view(policy: Policy, clause_id: str) -> ClauseView | None:
    """The view of a matter, rule, delegation or grid criterion id (or `dispatch`); None when unknown."""
    if clause_id in policy.matters:
        return matter_view(policy, policy.matters[clause_id])
    if clause_id in policy.rules_by_id:
        return rule_view(policy, policy.rules_by_id[clause_id])
    grant = next((g for g in policy.delegations if g.id == clause_id), None)
    if grant is not None:
        return delegation_view(policy, grant)
    if clause_id == "dispatch":
        return dispatch_view(policy)
    criterion = next((c for c in criteria(policy) if c.id == clause_id), None)
    if criterion is not None:
        return criterion_view(policy, criterion)
    return None


def clause_titles(policy: Policy) -> dict[str, str]:
    """Every clause id with a page, and its title (for "是否要找 …?")."""
    titles = {m.id: m.name for m in policy.matters.values()}
    titles |= {r.id: r.title for r in policy.rules}
    titles |= {g.id: g.title for g in policy.delegations}
    return titles | {c.id: c.title for c in criteria(policy)}
