"""Recent decisions made under a clause, read from the decision log (engine.log.store).

The log is looked up on `app.state.decision_log`; when the app runs without one the page
says so instead of showing an empty table. Only the newest `SCAN` records are scanned:
the clause page shows recent decisions, the decision log API answers older questions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from fastapi import Request

from engine.log import DecisionLog, Record

SCAN = 2000
SHOWN = 20
NO_LOG = "决策日志未启用: 本服务未记录决策。"


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
        time=str(record.time).replace("T", " ")[:19] + " UTC",
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
