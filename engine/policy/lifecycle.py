"""The case chapter (policy/lifecycle.yaml, policy/calendar.yaml): the lifecycle's graph and
the calendar's years, checked.

Errors (the policy is never activated): unknown states, roles of the wrong kind, clocks or
extensions naming unknown states or limits, calendar dates outside their year, a swapped
working day that is also a holiday, a year given twice.
Warnings (`tiaokuai check` reports them): states no event reaches from the initial one
(`unreachable_state`), states a case can never leave for a final one (`no_way_out`), time
limits the policy's clauses name that no clock runs, or clocks that run only in unreachable
states (`limit_never_started`), swapped working days on a weekday and gaps between years
(`calendar_gap`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING

from engine.errors import Finding
from engine.policy.locate import Locator
from engine.policy.validate import suggest

if TYPE_CHECKING:
    from engine.policy.index import Policy

# the events the machine (engine.cases.machine) gives their own meaning
SPECIAL_EVENTS = ("return", "reassign", "extend", "ruling")
RESERVED_EVENTS = ("open", "dispute")


def validate_cases(policy: Policy) -> list[Finding]:
    return [*_lifecycle(policy), *_calendar(policy)]


def _lifecycle(policy: Policy) -> Iterator[Finding]:
    lifecycle, file = policy.lifecycle, policy.lifecycle_file
    if lifecycle is None or file is None:
        return
    locator = Locator(policy.files)

    def at(*path: str | int) -> int | None:
        return locator.line(file, "lifecycle", None, path)

    def finding(code: str, message: str, path: tuple[str | int, ...], severity: str = "error", hint: str | None = None) -> Finding:
        return Finding(code, message, file, at(*path), lifecycle.id, severity, hint)

    states = {s.id for s in lifecycle.states}
    final = {s.id for s in lifecycle.states if s.final}
    if lifecycle.initial not in states:
        yield finding("unknown_state", f"initial state `{lifecycle.initial}` is not a state", ("initial",), hint=suggest(lifecycle.initial, states))
    if not final:
        yield finding("no_final_state", "no state is `final`: no case could ever be finished", ("states",), hint="mark the closing state `final: true`")
    for i, t in enumerate(lifecycle.transitions):
        if t.event in RESERVED_EVENTS:
            yield finding("reserved_event", f"event `{t.event}` is recorded by the service itself", ("transitions", i, "event"))
        for state in (*t.from_, *([t.to] if t.to else [])):
            if state not in states:
                yield finding(
                    "unknown_state", f"transition `{t.event}` names unknown state `{state}`", ("transitions", i), hint=suggest(state, states)
                )
    for i, c in enumerate(lifecycle.clocks):
        for state in c.runs_in:
            if state not in states:
                yield finding("unknown_state", f"clock `{c.limit}` runs in unknown state `{state}`", ("clocks", i, "runs_in"), hint=suggest(state, states))
    clocks = {c.limit for c in lifecycle.clocks}
    if lifecycle.extensions is not None:
        for limit in lifecycle.extensions.limits:
            if limit not in clocks:
                yield finding("unknown_limit", f"extensions name `{limit}`, which no clock runs", ("extensions", "limits"), hint=suggest(limit, clocks))
    if any(t.event == "return" for t in lifecycle.transitions) and not lifecycle.return_reasons:
        yield finding("no_return_reasons", "cases may be returned but no `return_reasons` are listed", ("return_reasons",))
    if policy.manifest.disputes.arbiter not in policy.organizations or policy.manifest.dispatch.to not in policy.organizations:
        return  # validate_references reports those
    # --- the graph: warnings
    edges: dict[str, set[str]] = {s: set() for s in states}
    for t in lifecycle.transitions:
        for source in t.from_:
            if source in edges and (t.to or source) in states:
                edges[source].add(t.to or source)
    reachable = _closure({lifecycle.initial}, edges) if lifecycle.initial in states else set()
    for i, s in enumerate(lifecycle.states):
        if s.id not in reachable:
            yield finding("unreachable_state", f"no event leads from `{lifecycle.initial}` to state `{s.id}` ({s.name})", ("states", i), "warning",
                          hint=f"add a transition `to: {s.id}`, or remove the state")
    backwards: dict[str, set[str]] = {s: set() for s in states}
    for source, targets in edges.items():
        for target in targets:
            backwards[target].add(source)
    finishing = _closure(final, backwards)
    for i, s in enumerate(lifecycle.states):
        if s.id in reachable and s.id not in finishing:
            yield finding("no_way_out", f"a case in state `{s.id}` ({s.name}) can never reach a final state", ("states", i), "warning",
                          hint="add a transition from it")
    for i, c in enumerate(lifecycle.clocks):
        if not reachable.intersection(c.runs_in):
            yield finding("limit_never_started", f"clock `{c.limit}` runs only in states no case reaches", ("clocks", i), "warning",
                          hint="let it run in a state the transitions reach")
    named = _named_limits(policy)
    for limit, (section, item) in sorted(named.items()):
        if limit not in clocks:
            where = policy.where(section, item) if section != "policy" else None
            yield Finding(
                "limit_never_started",
                f"time limit `{limit}` is named by `{item}` but no lifecycle clock runs it",
                where.file if where else file,
                where.line if where else at("clocks"),
                item,
                "warning",
                f"add `{{limit: {limit}, runs_in: [...]}}` to the lifecycle's clocks in {file}",
            )


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, stack = set(start), list(start)
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _named_limits(policy: Policy) -> dict[str, tuple[str, str]]:
    """Every time-limit key a clause names, with the first clause naming it."""
    named: dict[str, tuple[str, str]] = {}
    for key in policy.manifest.dispatch.time_limits:
        named.setdefault(key, ("policy", policy.id))
    for matter in policy.matters.values():
        for key in matter.time_limits:
            named.setdefault(key, ("matters", matter.id))
    for rule in policy.rules:
        for key in rule.then.time_limits:
            named.setdefault(key, ("rules", rule.id))
    return named


def _calendar(policy: Policy) -> Iterator[Finding]:
    calendar, file = policy.calendar, policy.calendar_file
    if calendar is None or file is None:
        return
    locator = Locator(policy.files)

    def finding(code: str, message: str, path: tuple[str | int, ...], severity: str = "error", hint: str | None = None) -> Finding:
        return Finding(code, message, file, locator.line(file, "calendar", None, path), calendar.id, severity, hint)

    seen: dict[int, int] = {}
    for i, year in enumerate(calendar.years):
        if year.year in seen:
            yield finding("duplicate_year", f"year {year.year} is given twice", ("years", i, "year"), hint=f"merge it with entry {seen[year.year] + 1}")
            continue
        seen[year.year] = i
        off: dict[date, str] = {}
        for j, span in enumerate(year.holidays):
            for day in (span.from_, span.to):
                if day.year != year.year:
                    yield finding("date_outside_year", f"holiday `{span.name}` date {day} is not in {year.year}", ("years", i, "holidays", j),
                                  hint=f"put it under year {day.year}")
            day = span.from_
            while day <= span.to:
                if day in off:
                    yield finding("overlapping_holidays", f"{day} is in both `{off[day]}` and `{span.name}`", ("years", i, "holidays", j))
                    break
                off[day] = span.name
                day += timedelta(days=1)
        for j, work in enumerate(year.workdays):
            if work.date.year != year.year:
                yield finding("date_outside_year", f"working day {work.date} is not in {year.year}", ("years", i, "workdays", j),
                              hint=f"put it under year {work.date.year}")
            if work.date in off:
                yield finding("workday_is_holiday", f"{work.date} is both a holiday (`{off[work.date]}`) and a working day", ("years", i, "workdays", j))
            if work.date.weekday() < 5:
                yield finding("calendar_gap", f"{work.date} is a weekday: marking it a working day changes nothing", ("years", i, "workdays", j),
                              "warning", hint="swapped working days (调休上班) fall on a Saturday or Sunday")
    years = sorted(seen)
    for earlier, later in zip(years, years[1:], strict=False):
        if later != earlier + 1:
            missing = f"{earlier + 1}" if later == earlier + 2 else f"{earlier + 1}–{later - 1}"
            yield finding("calendar_gap", f"no schedule for {missing}: deadlines then count Monday–Friday",
                          ("years", seen[later]), "warning", hint="add each year's 放假调休 schedule")
