"""A case as the API and the pages show it: state, running deadlines, dispute, history.

`case_view(state, chapter, policy, now)` is the one rendering: `GET /v1/cases/{id}`, the
answers to events and rulings, and the case page all use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from engine.cases.chapter import CaseChapter
from engine.cases.clock import Limit, add, china_time, iso
from engine.cases.machine import CaseState, ClockRun, allowed_events
from engine.policy.index import Policy

CALENDAR_OFFICIAL, CALENDAR_ASSUMED = "official", "weekdays_assumed"


def org(policy: Policy, org_id: str | None) -> dict[str, Any] | None:
    if org_id is None:
        return None
    found = policy.organizations.get(org_id)
    if found is None:
        return {"id": org_id, "name": org_id}
    out: dict[str, Any] = {"id": found.id, "name": found.name}
    if found.name_en:
        out["name_en"] = found.name_en
    return out


def limit_name(policy: Policy, limit: str) -> str:
    return policy.manifest.time_limit_labels.get(limit, limit)


def deadline_view(run: ClockRun, chapter: CaseChapter, policy: Policy, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "limit": run.limit,
        "name": limit_name(policy, run.limit),
        "length": run.length,
        "started_at": iso(run.started_at),
        "due_at": iso(run.due.at),
        "warn_at": iso(run.warn.at),
        "status": run.status(now),
        "colour": run.colour(now),
        "calendar": CALENDAR_ASSUMED if run.due.assumed else CALENDAR_OFFICIAL,
        "lead": run.lead,
    }
    if run.extensions:
        out["extended_by"] = list(run.extensions)
    if run.stopped_at is not None:
        out["stopped_at"] = iso(run.stopped_at)
        out["stopped_by"] = run.stopped_by
    if run.running:
        out["escalations"] = [
            {"id": e.id, "name": e.name, "at": iso(add(run.due.at, Limit.parse(e.after_due), chapter.calendar).at)}
            for e in chapter.lifecycle.escalations
        ]
    return out


def case_colour(state: CaseState, now: datetime) -> str:
    """red: a running limit is overdue; amber: one passed its warning share; green otherwise."""
    colours = {run.colour(now) for run in state.running()}
    return "red" if "red" in colours else "amber" if "amber" in colours else "green"


def _history(state: CaseState, chapter: CaseChapter, policy: Policy) -> list[dict[str, Any]]:
    out = []
    for event in state.events:
        item: dict[str, Any] = {
            "n": event.n,
            "kind": event.kind,
            "name": chapter.event_name(event.kind),
            "at": iso(event.at),
            "actor": org(policy, event.actor),
            "recorded_at": event.recorded_at,
        }
        if event.operator:
            item["operator"] = event.operator  # the token that acted on the actor's behalf
        for key in ("reason", "note", "reason_code", "reason_name", "claim", "corrections", "limit", "by", "lead", "basis", "proposed_rule_id", "by_rules"):
            if key in event.data:
                item[key] = event.data[key]
        decision = event.data.get("decision") or event.data.get("redecision")
        if isinstance(decision, Mapping):
            item["decision_id"] = decision.get("decision_id")
            rule = decision.get("rule")
            if isinstance(rule, Mapping):
                item["clause"] = {"id": rule.get("id"), "title": rule.get("title"), "basis": rule.get("basis", [])}
        if event.kind == "dispute":
            item["positions"] = event.data.get("positions", [])
            item["clauses"] = event.data.get("clauses", [])
        out.append(item)
    return out


def dispute_view(state: CaseState, policy: Policy) -> dict[str, Any] | None:
    dispute = state.dispute or (state.disputes[-1] if state.disputes else None)
    if dispute is None:
        return None
    return {
        "open": dispute.ruled_at is None,
        "opened_at": iso(dispute.opened_at),
        "arbiter": org(policy, policy.manifest.disputes.arbiter),
        "handling_meanwhile": org(policy, dispute.lead),
        "positions": list(dispute.positions),
        "clauses": list(dispute.clauses),
        "ruled_at": iso(dispute.ruled_at) if dispute.ruled_at else None,
        "ruling": dict(dispute.ruling) if dispute.ruling else None,
        "basis": [b.model_dump(exclude_none=True) for b in policy.manifest.disputes.basis],
    }


def case_view(state: CaseState, chapter: CaseChapter, policy: Policy, now: datetime) -> dict[str, Any]:
    now = china_time(now)
    decision = state.decision
    matter = policy.matters.get(state.matter) if state.matter else None
    status = chapter.state(state.state)
    running = [deadline_view(r, chapter, policy, now) for r in state.running()]
    return {
        "case_id": state.case_id,
        "state": {"id": status.id, "name": status.name, "final": status.final},
        "lead": org(policy, state.lead),
        "supports": [org(policy, s) for s in state.supports],
        "township": org(policy, state.township),
        "matter": {"id": matter.id, "name": matter.name} if matter else (decision.get("matter") or None),
        "decision_id": decision.get("decision_id"),
        "rule": decision.get("rule"),
        "opened_at": iso(state.opened_at),
        "colour": case_colour(state, now),
        "deadlines": running,
        "clocks": [deadline_view(r, chapter, policy, now) for r in state.clocks],
        "calendar": CALENDAR_ASSUMED if any(d["calendar"] == CALENDAR_ASSUMED for d in running) else CALENDAR_OFFICIAL,
        "dispute": dispute_view(state, policy),
        "returns": state.returns,
        "allowed": allowed_events(chapter, state),
        "history": _history(state, chapter, policy),
        "version": state.version,
        "as_of": iso(now),
    }
