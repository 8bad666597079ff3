"""The case state machine: fold stored events into a case, and judge a new event against it.

Contract:
- `fold(case_id, events, chapter)` replays a case's events (oldest first) into a `CaseState`:
  its state, lead, supports, every clock (started, due, stopped) and the open dispute. It is
  deterministic — the same events and calendar give the same deadlines — so a restart loses
  no clock: nothing but the stored events is needed.
- `plan(state, command, chapter)` checks a command (who, what, when) against the lifecycle
  and returns the events to store, or raises: `TransitionNotAllowed` (409, naming the
  allowed events), `ActorNotOnCase` / `ActorNotAllowed` (403), `DeadlinePassed` (409),
  `EventInvalid` (422). Outcomes of deciding again (a return) come in with the command: the
  machine never calls the rules engine, so it can run inside the store's transaction.
- `return` and `ruling` move the case to their `to` state only when the lead changes; when
  the rules still name the same lead (or leads conflict) a return opens a dispute for the
  arbiter and the case stays where it is: the first lead keeps handling meanwhile.

Why not durable_rules: its sessions cost ≈2.4 MB each and stop at 1,024, so one per case is
out; a shared session would re-assert each case's facts per event to look up one
(state, event) pair, and its timers need the Host threads the safe pattern switches off.
A transition table over the stored events is exact, cheap and restart-proof.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from engine.cases.chapter import CaseChapter
from engine.cases.clock import Due, Limit, add, china_time, iso
from engine.errors import (
    ActorNotAllowed,
    ActorNotOnCase,
    DeadlinePassed,
    DisputeState,
    EventInvalid,
    ExtensionRefused,
    TransitionNotAllowed,
)

# Event kinds the machine gives meaning beyond a plain state change.
OPEN, RETURN, REASSIGN, EXTEND, RULING, DISPUTE = "open", "return", "reassign", "extend", "ruling", "dispute"


@dataclass(frozen=True)
class Event:
    """One stored event of a case."""

    n: int  # 1, 2, 3 … within the case
    kind: str
    at: datetime  # when it took effect (China time)
    actor: str  # the organization acting
    data: Mapping[str, Any] = field(default_factory=dict)
    operator: str | None = None  # the token that acted on the actor's behalf, if any
    recorded_at: str | None = None  # when the service stored it (UTC)
    id: str | None = None


@dataclass(frozen=True)
class ClockRun:
    """One run of a time limit: started, due, and (once its states are left) stopped."""

    limit: str
    length: str  # as written: "3wd"
    started_at: datetime
    due: Due
    warn: Due
    stopped_at: datetime | None = None
    stopped_by: str | None = None  # the event kind that stopped it
    extensions: tuple[str, ...] = ()  # each `by`, in order
    lead: str | None = None  # whose clock it was

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def met(self) -> bool | None:
        """On time? None while running."""
        return None if self.stopped_at is None else self.stopped_at <= self.due.at

    def status(self, now: datetime) -> str:
        """running (green/amber), overdue (red), met, late, or cancelled (the lead changed)."""
        if self.stopped_at is not None:
            if self.stopped_by in (REASSIGN, RETURN, RULING) and self.stopped_at <= self.due.at:
                return "cancelled"
            return "met" if self.stopped_at <= self.due.at else "late"
        return "overdue" if now >= self.due.at else "running"

    def colour(self, now: datetime) -> str:
        if self.stopped_at is not None:
            return "green" if self.stopped_at <= self.due.at else "red"
        if now >= self.due.at:
            return "red"
        return "amber" if now >= self.warn.at else "green"


@dataclass(frozen=True)
class Dispute:
    """A contested lead awaiting the arbiter; the lead named first keeps handling meanwhile."""

    opened_at: datetime
    opened_by: str  # event kind: return (a department's claim) or open (leads conflict)
    lead: str  # who keeps handling
    positions: tuple[Mapping[str, Any], ...]
    clauses: tuple[str, ...]
    ruled_at: datetime | None = None
    ruling: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class CaseState:
    """A case as its events leave it."""

    case_id: str
    state: str
    lead: str
    supports: tuple[str, ...]
    township: str
    matter: str | None
    decision: Mapping[str, Any]  # the decision the current lead rests on (decision_id, rule, limits …)
    request: Mapping[str, Any]  # the lead request it was decided on, for deciding again
    opened_at: datetime
    events: tuple[Event, ...]
    clocks: tuple[ClockRun, ...] = ()
    disputes: tuple[Dispute, ...] = ()
    returns: int = 0

    @property
    def version(self) -> int:
        """The number of its last event (optimistic concurrency)."""
        return self.events[-1].n if self.events else 0

    @property
    def dispute(self) -> Dispute | None:
        """The open dispute, if any."""
        last = self.disputes[-1] if self.disputes else None
        return last if last is not None and last.ruled_at is None else None

    def running(self) -> list[ClockRun]:
        return [c for c in self.clocks if c.running]

    def next_due(self) -> ClockRun | None:
        running = self.running()
        return min(running, key=lambda c: c.due.at) if running else None

    @property
    def last_at(self) -> datetime:
        return self.events[-1].at if self.events else self.opened_at


@dataclass(frozen=True)
class Command:
    """What an actor asks: an event kind with its fields, at a moment, as an organization."""

    kind: str
    actor: str
    at: datetime
    reason: str | None = None
    note: str | None = None
    operator: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)  # kind-specific: claim, limit, by, redecision …


# ----------------------------------------------------------------------------- folding


def _limit_length(chapter: CaseChapter, decision: Mapping[str, Any], limit: str) -> str | None:
    limits = decision.get("time_limits") or {}
    value = limits.get(limit) if isinstance(limits, Mapping) else None
    if isinstance(value, str):
        return value
    spec = chapter.clocks.get(limit)
    return spec.default if spec is not None else None


def _start(chapter: CaseChapter, decision: Mapping[str, Any], limit: str, at: datetime, lead: str) -> ClockRun | None:
    length = _limit_length(chapter, decision, limit)
    if length is None:
        return None
    parsed = Limit.parse(length)
    return ClockRun(
        limit=limit,
        length=length,
        started_at=at,
        due=add(at, parsed, chapter.calendar),
        warn=add(at, parsed, chapter.calendar, chapter.lifecycle.warn_at),
        lead=lead,
    )


def _enter(chapter: CaseChapter, state: CaseState, new_state: str, event: Event, lead_changed: bool) -> CaseState:
    """Stop the clocks whose states are left (all of them when the lead changes), start the
    ones whose first state is entered."""
    clocks: list[ClockRun] = []
    running_limits: set[str] = set()
    for run in state.clocks:
        spec = chapter.clocks.get(run.limit)  # None: a reloaded lifecycle no longer has this clock
        if run.running and (lead_changed or spec is None or new_state not in spec.runs_in):
            run = replace(run, stopped_at=event.at, stopped_by=event.kind)
        elif run.running:
            running_limits.add(run.limit)
        clocks.append(run)
    for spec in chapter.lifecycle.clocks:
        if new_state in spec.runs_in and spec.limit not in running_limits:
            started = _start(chapter, state.decision, spec.limit, event.at, state.lead)
            if started is not None:
                clocks.append(started)
    return replace(state, state=new_state, clocks=tuple(clocks))


def _apply(chapter: CaseChapter, state: CaseState, event: Event) -> CaseState:
    data = event.data
    state = replace(state, events=(*state.events, event))
    if event.kind == EXTEND:
        limit, by = str(data["limit"]), str(data["by"])
        clocks = tuple(
            replace(run, due=_later(run.due, by, chapter), extensions=(*run.extensions, by))
            if run.running and run.limit == limit
            else run
            for run in state.clocks
        )
        return replace(state, clocks=clocks)
    if event.kind == DISPUTE:
        dispute = Dispute(
            opened_at=event.at,
            opened_by=str(data.get("opened_by", RETURN)),
            lead=state.lead,
            positions=tuple(data.get("positions", ())),
            clauses=tuple(data.get("clauses", ())),
        )
        return replace(state, disputes=(*state.disputes, dispute))
    if event.kind == RETURN:
        state = replace(state, returns=state.returns + 1)
        return state  # the follow-up event (reassign or dispute) moves the case
    if event.kind in (REASSIGN, RULING):
        if event.kind == RULING and state.dispute is not None:
            ruled = replace(state.dispute, ruled_at=event.at, ruling=dict(data))
            state = replace(state, disputes=(*state.disputes[:-1], ruled))
        new_lead = str(data.get("lead", state.lead))
        if new_lead == state.lead:
            return state
        decision = data.get("decision") or state.decision
        state = replace(
            state,
            lead=new_lead,
            supports=tuple(data.get("supports", state.supports)),
            decision=decision,
            request=data.get("request") or state.request,
            township=str(data.get("township", state.township)),
        )
        transition = chapter.transition(event.kind, state.state)
        target = transition.to if transition is not None and transition.to else chapter.lifecycle.initial
        return _enter(chapter, state, target, event, lead_changed=True)
    transition = chapter.transition(event.kind, state.state)
    if transition is None or transition.to is None:
        return state
    return _enter(chapter, state, transition.to, event, lead_changed=False)


def _later(due: Due, by: str, chapter: CaseChapter) -> Due:
    extended = add(due.at, Limit.parse(by), chapter.calendar)
    return Due(extended.at, extended.assumed or due.assumed)


def fold(case_id: str, events: Sequence[Event], chapter: CaseChapter) -> CaseState:
    """Replay a case's events, oldest first. The first must be `open`."""
    if not events or events[0].kind != OPEN:
        raise ValueError(f"case `{case_id}` does not start with an `open` event")
    first = events[0]
    decision = first.data.get("decision") or {}
    state = CaseState(
        case_id=case_id,
        state=chapter.lifecycle.initial,
        lead=str(first.data["lead"]),
        supports=tuple(first.data.get("supports", ())),
        township=str(first.data["township"]),
        matter=first.data.get("matter"),
        decision=decision,
        request=first.data.get("request") or {},
        opened_at=first.at,
        events=(first,),
    )
    state = _enter(chapter, state, chapter.lifecycle.initial, first, lead_changed=False)
    for event in events[1:]:
        state = _apply(chapter, state, event)
    return state


# ----------------------------------------------------------------------------- judging


def roles_of(chapter: CaseChapter, state: CaseState, actor: str) -> set[str]:
    roles: set[str] = set()
    if actor == state.lead:
        roles.add("lead")
    if actor in state.supports:
        roles.add("support")
    if actor == state.township:
        roles.add("township")
    if actor == chapter.centre:
        roles.add("centre")
    if actor == chapter.arbiter:
        roles.add("arbiter")
    return roles


def allowed_events(chapter: CaseChapter, state: CaseState) -> list[dict[str, Any]]:
    """The events the case may take now, with who may take them (for 409 answers and pages)."""
    out = []
    for t in chapter.lifecycle.transitions:
        if state.state not in t.from_:
            continue
        if t.event == RULING and state.dispute is None:
            continue
        if t.event == RETURN and state.dispute is not None:
            continue
        out.append({"event": t.event, "name": t.name, "by": [r.value for r in t.by]})
    return out


def _check_actor(chapter: CaseChapter, state: CaseState, command: Command, by: Sequence[str]) -> None:
    roles = roles_of(chapter, state, command.actor)
    if not roles:
        raise ActorNotOnCase(
            f"`{command.actor}` is not on case `{state.case_id}`",
            hint=f"the lead is `{state.lead}`; the township `{state.township}`; supports: {', '.join(state.supports) or 'none'}",
            field="actor",
        )
    if not roles.intersection(by):
        names = ", ".join(by)
        raise ActorNotAllowed(
            f"`{command.actor}` ({', '.join(sorted(roles))}) may not `{command.kind}` this case",
            hint=f"`{command.kind}` is for: {names}",
            field="actor",
        )


def plan(state: CaseState, command: Command, chapter: CaseChapter) -> list[Event]:
    """The events to store for `command`, or raise a CaseEventError. Pure."""
    at = china_time(command.at)
    if at < state.last_at:
        raise EventInvalid(
            f"`at` {iso(at)} is before the case's last event ({iso(state.last_at)})",
            hint="events are recorded in the order they happened",
            field="at",
        )
    transition = chapter.transition(command.kind, state.state)
    if command.kind not in chapter.events:
        raise EventInvalid(
            f"unknown event kind `{command.kind}`",
            hint=f"one of: {', '.join(sorted(chapter.events))}",
            field="kind",
        )
    if transition is None:
        allowed = allowed_events(chapter, state)
        raise TransitionNotAllowed(
            f"case `{state.case_id}` is `{state.state}` ({chapter.state_name(state.state)}): `{command.kind}` is not allowed",
            hint="allowed now: " + (", ".join(a["event"] for a in allowed) or "nothing (the case is finished)"),
            allowed=allowed,
            state=state.state,
        )
    _check_actor(chapter, state, command, [r.value for r in transition.by])
    if transition.reason_required and not (command.reason or "").strip():
        raise EventInvalid(f"`{command.kind}` needs a `reason`", field="reason")
    n = state.version + 1
    base: dict[str, Any] = {}
    if command.reason:
        base["reason"] = command.reason
    if command.note:
        base["note"] = command.note

    def event(kind: str, number: int, data: Mapping[str, Any], actor: str | None = None) -> Event:
        return Event(number, kind, at, actor or command.actor, dict(data), command.operator)

    if command.kind == EXTEND:
        return [event(EXTEND, n, {**base, **_extension(state, command, chapter, at)})]
    if command.kind == RETURN:
        return _return(state, command, chapter, base, event)
    if command.kind == RULING:
        if state.dispute is None:
            raise DisputeState(f"case `{state.case_id}` has no open dispute to rule on", hint="a ruling settles a dispute opened by a return or by conflicting leads")
        return [event(RULING, n, {**base, **command.data})]
    if command.kind == REASSIGN:
        lead = command.data.get("lead")
        if not isinstance(lead, str) or lead not in chapter.organizations:
            raise EventInvalid("`reassign` needs the new `lead` (an organization id)", field="lead")
        if lead == state.lead:
            raise EventInvalid(f"`{lead}` already leads this case", field="lead")
        return [event(REASSIGN, n, {**base, **command.data})]
    return [event(command.kind, n, base)]


def _extension(state: CaseState, command: Command, chapter: CaseChapter, at: datetime) -> dict[str, Any]:
    rules = chapter.lifecycle.extensions
    limit, by = command.data.get("limit"), command.data.get("by")
    if rules is None:
        raise EventInvalid("this lifecycle allows no extensions", field="kind")
    if not isinstance(limit, str) or limit not in rules.limits:
        raise EventInvalid(f"`limit` must be one of: {', '.join(rules.limits)}", field="limit")
    try:
        Limit.parse(str(by))
    except ValueError as exc:
        raise EventInvalid(str(exc), field="by", hint="e.g. 5wd or 24h") from None
    run = next((r for r in state.running() if r.limit == limit), None)
    if run is None:
        raise EventInvalid(f"the `{limit}` limit is not running", field="limit")
    if at >= run.due.at:
        raise DeadlinePassed(
            f"the `{limit}` limit fell due at {iso(run.due.at)}: extensions are asked before it",
            hint="ask the centre to reassign, or handle it late",
        )
    if len(run.extensions) >= rules.max_times:
        raise ExtensionRefused(f"the `{limit}` limit was already extended {len(run.extensions)} time(s) (at most {rules.max_times})")
    return {"limit": limit, "by": str(by)}


def _return(state: CaseState, command: Command, chapter: CaseChapter, base: dict[str, Any], event: Any) -> list[Event]:
    if state.dispute is not None:
        raise DisputeState(
            f"case `{state.case_id}` is already before the arbiter",
            hint="the lead keeps handling until the ruling",
        )
    reason = next((r.id for r in chapter.reasons.values() if command.reason in (r.id, r.name)), None)
    if reason is None:
        raise EventInvalid(
            f"`{command.reason}` is not a valid return reason",
            field="reason",
            hint="one of: " + ", ".join(f"{r.id} ({r.name})" for r in chapter.reasons.values()),
        )
    redecision = command.data.get("redecision")
    if not isinstance(redecision, Mapping):
        raise EventInvalid("a return is decided again before it is stored")
    claim = command.data.get("claim")
    n = state.version + 1
    returned = {**base, "reason_code": reason, "reason_name": chapter.reasons[reason].name, "claim": claim,
                "corrections": command.data.get("corrections") or {}, "redecision": redecision}
    new_lead = redecision.get("lead", {}).get("id") if isinstance(redecision.get("lead"), Mapping) else None
    outcome = redecision.get("outcome")
    events = [event(RETURN, n, returned)]
    if outcome != "conflict" and new_lead and new_lead != state.lead:
        events.append(
            event(
                REASSIGN,
                n + 1,
                {
                    "reason": f"退单({chapter.reasons[reason].name})重新判定: {redecision.get('rule', {}).get('id', '')}",
                    "lead": new_lead,
                    "supports": [s["id"] for s in redecision.get("supports", []) if isinstance(s, Mapping)],
                    "decision": _decision_summary(redecision),
                    "request": command.data.get("request") or state.request,
                    "township": redecision.get("township", {}).get("id", state.township),
                    "by_rules": True,
                },
                actor=chapter.centre,
            )
        )
        return events
    candidates = [c.get("id") for c in redecision.get("candidates", []) if isinstance(c, Mapping)]
    positions = [
        {"party": command.actor, "says": claim, "reason_code": reason, "reason": chapter.reasons[reason].name, "note": command.note},
        {"party": "rules", "says": new_lead, "outcome": outcome, "rule": redecision.get("rule", {}).get("id"),
         "candidates": candidates, "decision_id": redecision.get("decision_id")},
    ]
    clauses = [state.decision.get("rule", {}).get("id"), redecision.get("rule", {}).get("id")]
    events.append(
        event(
            DISPUTE,
            n + 1,
            {"opened_by": RETURN, "positions": positions, "clauses": [c for c in dict.fromkeys(clauses) if c],
             "arbiter": chapter.arbiter, "reason": "退单后规则仍指向原牵头部门或牵头冲突, 提交编办裁定; 争议期间原牵头部门继续办理"},
            actor=chapter.centre,
        )
    )
    return events


def _decision_summary(decision: Mapping[str, Any]) -> dict[str, Any]:
    """What a case keeps of a decision: enough to explain and time it."""
    keys = ("decision_id", "outcome", "lead", "supports", "township", "matter", "time_limits", "rule", "candidates", "arbiter", "as_of")
    return {k: decision[k] for k in keys if k in decision}


def opening(case_id: str, decision: Mapping[str, Any], request: Mapping[str, Any], command: Command, chapter: CaseChapter) -> list[Event]:
    """The events that open a case from a decision: `open`, and `dispute` when leads conflict."""
    lead = decision.get("lead", {}).get("id")
    township = decision.get("township", {}).get("id")
    if not isinstance(lead, str) or not isinstance(township, str):
        raise EventInvalid("the decision names no lead or township")
    summary = _decision_summary(decision)
    data = {
        "lead": lead,
        "supports": [s["id"] for s in decision.get("supports", []) if isinstance(s, Mapping)],
        "township": township,
        "matter": (decision.get("matter") or {}).get("id"),
        "decision": summary,
        "request": dict(request),
    }
    if command.reason:
        data["reason"] = command.reason
    at = china_time(command.at)
    events = [Event(1, OPEN, at, command.actor, data, command.operator)]
    # who may open: checked against a state as it would be after opening
    probe = fold(case_id, events, chapter)
    roles = roles_of(chapter, probe, command.actor)
    allowed = [r.value for r in chapter.lifecycle.opened_by]
    if not roles:
        raise ActorNotOnCase(f"`{command.actor}` is not on this case", hint=f"cases are opened by: {', '.join(allowed)}", field="actor")
    if not roles.intersection(allowed):
        raise ActorNotAllowed(f"`{command.actor}` may not open this case", hint=f"cases are opened by: {', '.join(allowed)}", field="actor")
    if decision.get("outcome") == "conflict":
        candidates = [c.get("id") for c in decision.get("candidates", []) if isinstance(c, Mapping)]
        events.append(
            Event(
                2,
                DISPUTE,
                at,
                chapter.centre,
                {"opened_by": OPEN, "arbiter": chapter.arbiter, "clauses": [summary.get("rule", {}).get("id")],
                 "positions": [{"party": "rules", "says": c, "outcome": "conflict"} for c in candidates],
                 "reason": "牵头冲突, 提交编办裁定; 争议期间排序在先的牵头部门继续办理"},
                command.operator,
            )
        )
    return events
