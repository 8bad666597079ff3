"""Logged decisions on the pages, read from the decision log (engine.log.store): the recent
decisions made under a clause, and one decision as its page `/decisions/{id}` shows it.

The log is looked up on `app.state.decision_log`; when the app runs without one the page
says so instead of showing an empty table. Only the newest `SCAN` records are scanned:
the clause page shows recent decisions, the decision log API answers older questions.
Times are shown in China time (北京时间); the log keeps UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from api.web.wording import attributes_text, china_time_text
from engine import RecordNotFound
from engine.log import DecisionLog, Record
from engine.policy import Policy

SCAN = 2000
SHOWN = 20
NO_LOG = "决策日志未启用: 本服务未记录决策。"
RECORD_KIND_ZH = {"lead": "牵头判定", "trial": "牵头判定(页面试算)", "admission": "网格准入审查"}


@dataclass(frozen=True)
class LoggedDecision:
    id: str
    time: str
    township: str
    matter: str
    outcome: str
    lead: str
    result: str  # what this clause did in the decision: won, lost, applied, …
    version: str


def _summary(record: Record, clause_id: str) -> LoggedDecision | None:
    try:
        response = json.loads(record.response)
    except json.JSONDecodeError:
        return None
    if not isinstance(response, dict) or "outcome" not in response:
        return None
    fired = response.get("fired") or []
    rule = (response.get("rule") or {}).get("id")
    explanation = {e.get("rule"): e.get("result") for e in response.get("explanation") or [] if isinstance(e, dict)}
    if clause_id not in fired and clause_id != rule:
        return None
    matter = response.get("matter") or {}
    return LoggedDecision(
        id=str(record.id),
        time=china_time_text(record.time),
        township=str((response.get("township") or {}).get("name", "")),
        matter=f"{matter.get('id', '')} {matter.get('name', '')}".strip() or "(清单外)",
        outcome=str(response["outcome"]),
        lead=str((response.get("lead") or {}).get("name", "")),
        result="won" if clause_id == rule else str(explanation.get(clause_id, "note")),
        version=str(record.policy_version),
    )


def recent_decisions(request: Request, clause_id: str) -> tuple[list[LoggedDecision] | None, str]:
    """The newest logged lead decisions in which the clause fired, newest first.

    Returns (None, why) when the app has no decision log.
    """
    log = getattr(request.app.state, "decision_log", None)
    if not isinstance(log, DecisionLog):
        return None, NO_LOG
    total = log.count()
    records = log.query(kind="lead", after=max(0, total - SCAN), limit=SCAN)
    found = [d for r in reversed(records) if (d := _summary(r, clause_id)) is not None]
    return found[:SHOWN], f"最近 {min(total, SCAN)} 条记录中适用本条款的决策"


@dataclass(frozen=True)
class DecisionView:
    """One logged decision as its page shows it: the record's facts, the case, the answer."""

    id: str
    time: str  # China time
    kind: str
    reference: str | None
    policy: str
    chain: str
    case: list[tuple[str, str]] = field(default_factory=list)
    response: dict[str, Any] = field(default_factory=dict)


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _case_rows(policy: Policy, asked: dict[str, Any], answer: dict[str, Any]) -> list[tuple[str, str]]:
    """The case as it was asked, in Chinese: matter, township, attributes, words, date."""
    rows: list[tuple[str, str]] = []
    matter = answer.get("matter") or {}
    if asked.get("matter") or matter:
        rows.append(("事项", f"{matter.get('id') or asked.get('matter')} {matter.get('name', '')}".strip()))
    township = answer.get("township") or {}
    if township or asked.get("township"):
        rows.append(("乡镇(街道)", str(township.get("name") or asked.get("township"))))
    attributes = asked.get("attributes")
    if isinstance(attributes, dict) and attributes:
        rows.append(("案件要素", "; ".join(attributes_text(policy, attributes))))
    for key, label in (("text", "诉求原文"), ("place", "地点"), ("title", "任务名称")):
        if asked.get(key):
            rows.append((label, str(asked[key])))
    day = answer.get("as_of") or asked.get("as_of")
    if day:
        rows.append(("判定日期", str(day)))
    return rows


def decision_view(request: Request, policy: Policy, decision_id: str) -> DecisionView | None:
    """The logged decision `decision_id`, or None when the log has no such record."""
    log = getattr(request.app.state, "decision_log", None)
    if not isinstance(log, DecisionLog):
        return None
    try:
        record = log.get(decision_id)
    except RecordNotFound:
        return None
    asked, answer = _json_object(record.request), _json_object(record.response)
    return DecisionView(
        id=record.id,
        time=china_time_text(record.time),
        kind=RECORD_KIND_ZH.get(record.kind, record.kind),
        reference=record.reference,
        policy=f"{record.policy_id} {record.policy_version} · {record.policy_digest[:12]}",
        chain=f"第 {record.seq} 条 · 哈希 {record.hash[:16]}",
        case=_case_rows(policy, asked, answer),
        response=answer,
    )
