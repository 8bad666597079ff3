"""The centre's board and the per-department figures (双向互评), from the case store.

The board reads the `cases` projection (state, lead, earliest running due time); the
figures fold every case's events, so they count each limit that ran, by whose clock it was.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.cases.clock import china_time, iso
from engine.cases.machine import fold
from engine.cases.view import CALENDAR_ASSUMED, CALENDAR_OFFICIAL, org

if TYPE_CHECKING:
    from engine.cases.service import CaseService


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def board_items(
    service: CaseService,
    now: datetime,
    *,
    state: str | None = None,
    lead: str | None = None,
    township: str | None = None,
    overdue: bool | None = None,
    due_before: datetime | None = None,
    open_only: bool = True,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """`{"items", "total", "next_offset"}`: cases by due time, soonest first."""
    policy, chapter = service.chapter()
    final = [s.id for s in chapter.lifecycle.states if s.final]
    rows, total = service.store.board(
        state=state, lead=lead, township=township, overdue_at=now if overdue else None, not_overdue_at=now if overdue is False else None,
        due_before=due_before, final_states=final if open_only else (), limit=limit, offset=offset,
    )
    items = []
    for row in rows:
        due, warn = _parse(row["due_at"]), _parse(row["warn_at"])
        late = due is not None and now >= due
        colour = "red" if late else "amber" if warn is not None and now >= warn else "green"
        status = chapter.states.get(row["state"])
        matter = policy.matters.get(row["matter"]) if row["matter"] else None
        items.append(
            {
                "case_id": row["case_id"],
                "state": {"id": row["state"], "name": status.name if status else row["state"]},
                "lead": org(policy, row["lead"]),
                "township": org(policy, row["township"]),
                "matter": {"id": matter.id, "name": matter.name} if matter else None,
                "opened_at": iso(_parse(row["opened_at"]) or now),
                "due_at": iso(due) if due else None,
                "due_limit": row["due_limit"],
                "due_limit_name": policy.manifest.time_limit_labels.get(row["due_limit"] or "", row["due_limit"]),
                "colour": colour,
                "overdue": late,
                "calendar": CALENDAR_ASSUMED if row["assumed"] else CALENDAR_OFFICIAL,
                "dispute": bool(row["dispute"]),
                "returns": int(row["returns"]),
            }
        )
    more = offset + len(rows) < total
    return {"items": items, "total": total, "next_offset": offset + len(rows) if more else None, "as_of": iso(china_time(now))}


def _rank(item: dict[str, Any]) -> tuple[bool, float, str]:
    """Best on-time share first; departments with nothing finished last."""
    share = item["on_time"]
    return (share is None, -float(share or 0), str(item["organization"]["id"]))


def department_figures(service: CaseService, now: datetime) -> dict[str, Any]:
    """Per department that led a clock: limits met, late, running, overdue; on-time share;
    returns made; disputes won (the ruling agreed with it) and lost."""
    policy, chapter = service.chapter()
    tally: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case_id, events in service.store.all_events():
        state = fold(case_id, events, chapter)
        for run in state.clocks:
            if run.lead is None:
                continue
            status = run.status(now)
            if status != "cancelled":
                tally[run.lead][status] += 1
        for event in state.events:
            if event.kind == "return":
                tally[event.actor]["returns"] += 1
        for dispute in state.disputes:
            if dispute.ruling is None:
                continue
            ruled = dispute.ruling.get("lead")
            for position in dispute.positions:
                party = position.get("party")
                if party and party != "rules":
                    tally[party]["disputes_won" if position.get("says") == ruled else "disputes_lost"] += 1
    items = []
    for org_id, counts in tally.items():
        finished = counts["met"] + counts["late"] + counts["overdue"]
        items.append(
            {
                "organization": org(policy, org_id),
                "met": counts["met"],
                "late": counts["late"],
                "running": counts["running"],
                "overdue": counts["overdue"],
                "on_time": round(counts["met"] / finished, 4) if finished else None,
                "returns": counts["returns"],
                "disputes_won": counts["disputes_won"],
                "disputes_lost": counts["disputes_lost"],
            }
        )
    items.sort(key=_rank)
    return {"items": items, "as_of": iso(china_time(now))}
