"""A township's three lists (乡镇(街道)履职事项清单): 基本, 配合 and 上级部门收回.

Contract (`three_lists(policy, township_id, as_of)`), for the matters in force that day:
- 收回 (recalled): a `recalls:` clause in force covers the matter for this township (all
  townships, those of its kind, or those named), or a delegation (赋权) that covered it was
  taken back (`valid_until` passed). Each entry names the 承接部门 (receiver) and the 工作方式
  (method): from the recall clause, or for a delegation taken back the matter's lead.
- 基本 (basic): otherwise, the township is principally responsible (主体责任 township) or a
  delegation in force gives its enforcement team the matter.
- 配合 (cooperative): otherwise; the entry names the county department that is principal
  (the matter's lead for this township's kind, successors followed) and both sides' duties.
Each matter is on exactly one list. The lists follow the policy's matter order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from engine.errors import CaseError, ErrorCode
from engine.policy.index import Policy
from engine.policy.model import TEAM_REF, TOWNSHIP_REF, Basis, Matter, Recall, Responsibility

ListName = Literal["basic", "cooperative", "recalled"]
LIST_NAMES: tuple[ListName, ...] = ("basic", "cooperative", "recalled")
LIST_ZH: dict[ListName, str] = {"basic": "基本履职事项", "cooperative": "配合履职事项", "recalled": "上级部门收回事项"}


@dataclass(frozen=True)
class ListEntry:
    """One matter on one of a township's lists."""

    list: ListName
    matter: Matter
    township_duties: tuple[str, ...]
    department: str | None = None  # 对应上级部门 (cooperative) or 承接部门 (recalled): an organization id
    department_duties: tuple[str, ...] = ()
    method: str | None = None  # 工作方式 (recalled)
    clause: str | None = None  # the recall or delegation that put it there
    basis: tuple[Basis, ...] = ()

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        out: dict[str, Any] = {
            "matter": {"id": self.matter.id, "name": self.matter.name, "domain": self.matter.domain},
            "township_duties": list(self.township_duties),
        }
        if self.department is not None:
            org = policy.organizations[self.department]
            key = "receiver" if self.list == "recalled" else "department"
            out[key] = {"id": org.id, "name": org.name}
            out["department_duties"] = list(self.department_duties)
        if self.method is not None:
            out["method"] = self.method
        if self.clause is not None:
            out["clause"] = self.clause
        out["basis"] = [b.model_dump(exclude_none=True) for b in self.basis]
        return out


@dataclass(frozen=True)
class ThreeLists:
    township: str
    as_of: date
    entries: tuple[ListEntry, ...] = field(default=())

    def of(self, name: ListName) -> list[ListEntry]:
        return [e for e in self.entries if e.list == name]

    def to_dict(self, policy: Policy) -> dict[str, Any]:
        town = policy.organizations[self.township]
        return {
            "township": {"id": town.id, "name": town.name, "kind": town.kind.value},
            "as_of": self.as_of.isoformat(),
            **{name: [e.to_dict(policy) for e in self.of(name)] for name in LIST_NAMES},
            "counts": {name: len(self.of(name)) for name in LIST_NAMES},
        }


def _recall_for(policy: Policy, township_id: str, kind: str, matter_id: str, on: date) -> Recall | None:
    for recall in policy.recalls:
        if matter_id not in recall.matters or not recall.in_force(on):
            continue
        if recall.townships and township_id not in recall.townships:
            continue
        if recall.township_kind and recall.township_kind != kind:
            continue
        return recall
    return None


def _principal(policy: Policy, matter: Matter, kind: str, on: date) -> str | None:
    """The county department principally responsible for the matter in a township of that kind."""
    variant = matter.variant(kind)
    lead = variant.lead if variant and variant.lead else matter.lead
    if lead in (TOWNSHIP_REF, TEAM_REF) or lead.startswith("@") or lead not in policy.organizations:
        return None
    return policy.resolve_org(lead, on).org.id


def three_lists(policy: Policy, township_id: str, as_of: date) -> ThreeLists:
    """The township's 基本 / 配合 / 收回 lists on `as_of`; CaseError for an unknown township."""
    town = policy.organizations.get(township_id)
    if town is None or not town.is_township:
        raise CaseError(ErrorCode.UNKNOWN_TOWNSHIP, f"unknown township `{township_id}`", "township")
    kind = town.kind.value
    entries: list[ListEntry] = []
    for matter in policy.matters.values():
        if not matter.in_force(as_of):
            continue
        variant = matter.variant(kind)
        duties = variant.township_duties if variant and variant.township_duties else matter.township_duties
        recall = _recall_for(policy, township_id, kind, matter.id, as_of)
        if recall is not None:
            entries.append(
                ListEntry("recalled", matter, duties, recall.receiver, matter.department_duties, recall.method, recall.id, recall.basis)
            )
            continue
        ended = policy.delegations_ended(township_id, matter.id, as_of)
        if ended and not policy.delegations_for(township_id, matter.id, as_of):
            receiver = _principal(policy, matter, kind, as_of)
            if receiver is not None:
                method = f"赋权于 {ended[0].valid_until} 收回, 由承接部门直接履职, 乡镇(街道)发现报告、配合查处"
                entries.append(ListEntry("recalled", matter, duties, receiver, matter.department_duties, method, ended[0].id, ended[0].basis))
                continue
        if matter.responsibility is Responsibility.township or policy.delegations_for(township_id, matter.id, as_of):
            delegated = policy.delegations_for(township_id, matter.id, as_of)
            entries.append(
                ListEntry("basic", matter, duties, clause=delegated[0].id if delegated else None,
                          basis=matter.basis + (delegated[0].basis if delegated else ()))
            )
            continue
        entries.append(
            ListEntry("cooperative", matter, duties, _principal(policy, matter, kind, as_of), matter.department_duties, basis=matter.basis)
        )
    return ThreeLists(township_id, as_of, tuple(entries))
