"""The machine over stored events: deterministic folds, and cases that outlive a lifecycle change."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from engine.cases import CHINA, CaseChapter, Command, EventInvalid, TransitionNotAllowed, case_view, fold
from engine.cases.machine import opening, plan
from engine.policy import Policy, policy_from_files
from tests.conftest import SEED_POLICY, runtime_for

T0 = datetime(2026, 11, 2, 9, tzinfo=CHINA)


def decision() -> dict[str, Any]:
    from engine.lead import Case

    decided = runtime_for(SEED_POLICY).decide(Case(township="gaojia", matter="WAT-01", attributes={"site_type": "river"}, as_of=T0.date()))
    return {"decision_id": "d1", **decided.to_dict()}


def contacted_case(chapter: CaseChapter) -> list[Any]:
    events = opening("c1", decision(), {"matter": "WAT-01"}, Command("open", "gaojia", T0), chapter)
    for minutes, kind in ((10, "sign"), (20, "contact")):
        events += plan(fold("c1", events, chapter), Command(kind, "qj-water", T0 + timedelta(minutes=minutes)), chapter)
    return events


def without_contacted() -> Policy:
    """The seed policy after an author dropped the 已联系乡镇 state and the contact clock."""
    files = dict(runtime_for(SEED_POLICY).policy.files)
    data = yaml.safe_load(files["lifecycle.yaml"])
    life = data["lifecycle"]
    life["states"] = [s for s in life["states"] if s["id"] != "contacted"]
    life["transitions"] = [t for t in life["transitions"] if t["event"] != "contact"]
    for t in life["transitions"]:
        t["from"] = [s for s in t["from"] if s != "contacted"]
    life["clocks"] = [c for c in life["clocks"] if c["limit"] != "contact"]
    for c in life["clocks"]:
        c["runs_in"] = [s for s in c["runs_in"] if s != "contacted"] or ["signed"]
    files["lifecycle.yaml"] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return policy_from_files(files)


def test_folding_the_same_events_gives_the_same_deadlines() -> None:
    chapter = CaseChapter.of(runtime_for(SEED_POLICY).policy)
    events = contacted_case(chapter)
    first, again = fold("c1", events, chapter), fold("c1", list(events), chapter)
    assert first.clocks == again.clocks and first.state == "contacted"
    assert [(c.limit, c.running) for c in first.clocks] == [("sign", False), ("contact", False), ("report_in", True), ("handle", True)]


def test_a_case_is_read_under_the_active_lifecycle_after_a_reload() -> None:
    """Stored events are replayed by the active lifecycle: an event it no longer knows leaves the
    state as it was, a clock it no longer has stops; nothing fails."""
    events = contacted_case(CaseChapter.of(runtime_for(SEED_POLICY).policy))
    policy = without_contacted()
    chapter = CaseChapter.of(policy)
    state = fold("c1", events, chapter)
    view = case_view(state, chapter, policy, T0 + timedelta(hours=1))
    assert view["state"]["id"] == "signed" and [d["limit"] for d in view["deadlines"]] == ["report_in", "handle"]
    assert [e["kind"] for e in view["history"]] == ["open", "sign", "contact"]
    moved = plan(state, Command("report_in", "qj-water", T0 + timedelta(hours=1)), chapter)
    assert fold("c1", [*events, *moved], chapter).state == "reported"
    with pytest.raises(EventInvalid):  # the event the lifecycle dropped
        plan(state, Command("contact", "qj-water", T0 + timedelta(hours=1)), chapter)
    with pytest.raises(TransitionNotAllowed):
        plan(state, Command("handle", "qj-water", T0 + timedelta(hours=1)), chapter)
