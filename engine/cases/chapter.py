"""A policy's case chapter, indexed: the lifecycle, the working calendar, who the centre and
the arbiter are. Built once per policy version (`chapter_of`)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from engine.cases.clock import WorkCalendar
from engine.errors import NoLifecycle
from engine.policy.index import Policy
from engine.policy.model import ClockSpec, Lifecycle, LifecycleState, ReturnReason, Transition


@dataclass(frozen=True)
class CaseChapter:
    lifecycle: Lifecycle
    calendar: WorkCalendar
    states: Mapping[str, LifecycleState]
    clocks: Mapping[str, ClockSpec]
    reasons: Mapping[str, ReturnReason]
    events: frozenset[str]
    centre: str
    arbiter: str
    organizations: frozenset[str]
    _transitions: Mapping[tuple[str, str], Transition]

    @classmethod
    def of(cls, policy: Policy) -> CaseChapter:
        lifecycle = policy.lifecycle
        if lifecycle is None:
            raise NoLifecycle(f"policy `{policy.id}` {policy.version} has no `lifecycle:` section")
        calendar = WorkCalendar.of(policy.calendar) if policy.calendar is not None else WorkCalendar.weekdays_only()
        return cls(
            lifecycle=lifecycle,
            calendar=calendar,
            states={s.id: s for s in lifecycle.states},
            clocks={c.limit: c for c in lifecycle.clocks},
            reasons={r.id: r for r in lifecycle.return_reasons},
            events=frozenset(t.event for t in lifecycle.transitions),
            centre=policy.manifest.dispatch.to,
            arbiter=policy.manifest.disputes.arbiter,
            organizations=frozenset(policy.organizations),
            _transitions={(t.event, s): t for t in lifecycle.transitions for s in t.from_},
        )

    def transition(self, event: str, state: str) -> Transition | None:
        return self._transitions.get((event, state))

    def state(self, state_id: str) -> LifecycleState:
        """A state by id; one a reloaded lifecycle dropped keeps its id as its name (cases stay readable)."""
        return self.states.get(state_id) or LifecycleState(id=state_id, name=state_id)

    def state_name(self, state_id: str) -> str:
        return self.state(state_id).name

    def event_name(self, event: str) -> str:
        names = {"open": "吹哨派单", "dispute": "提交编办裁定"}
        found = next((t.name for t in self.lifecycle.transitions if t.event == event), None)
        return found or names.get(event, event)


_cache: dict[str, CaseChapter] = {}
_lock = threading.Lock()


def chapter_of(policy: Policy) -> CaseChapter:
    """The indexed chapter of a policy (kept for the last few policy versions)."""
    with _lock:
        found = _cache.get(policy.digest)
        if found is None:
            found = CaseChapter.of(policy)
            if len(_cache) >= 8:
                _cache.pop(next(iter(_cache)))
            _cache[policy.digest] = found
        return found
