"""The lifecycle transitions of the seed policy, event by event: who may do what in which state,
the events each command stores (whole), the clocks each event starts, stops or extends, and
every refusal whole — the message, hint and field a department's system shows its operator.

The machine never calls the rules engine: decisions come in as the dicts the API passes it, so
each test here writes the decision it needs, and the lifecycle is the seed policy's, loaded
without a Runtime (these tests run first and fast under `make mutation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest
import yaml

from engine.cases import CHINA, CaseChapter, Command, EventInvalid, TransitionNotAllowed, fold
from engine.cases.clock import Due
from engine.cases.machine import CaseState, ClockRun, Event, allowed_events, opening, plan, roles_of
from engine.errors import (
    ActorNotAllowed,
    ActorNotOnCase,
    CaseEventError,
    DeadlinePassed,
    DisputeState,
    ExtensionRefused,
)
from engine.policy import Policy, policy_from_files
from engine.policy.load import load_policy
from tests.conftest import SEED_POLICY

T0 = datetime(2026, 11, 2, 9, tzinfo=CHINA)  # a Monday, a working day
HOUR = timedelta(hours=1)
RULE = {"id": "YJS-SAND-RIVER", "title": "河道非法采砂一件事(河道管理范围内)"}
# A decision as the lead endpoint returns it; a case keeps only its summary keys.
WATER: dict[str, Any] = {
    "decision_id": "d1",
    "outcome": "assigned",
    "lead": {"id": "qj-water", "name": "衢江区水利局"},
    "supports": [{"id": "qj-police", "name": "衢州市公安局衢江分局"}, {"id": "gaojia", "name": "高家镇"}],
    "township": {"id": "gaojia", "name": "高家镇"},
    "matter": {"id": "WAT-01", "name": "河道非法采砂"},
    "time_limits": {"sign": "1h", "contact": "24h", "report_in": "3wd"},
    "rule": RULE,
    "candidates": [],
    "arbiter": None,
    "as_of": "2026-11-02",
    "explanation": [{"rule": "YJS-SAND-RIVER", "status": "won"}],
    "notes": ["not kept"],
    "fired": ["YJS-SAND-RIVER"],
}
SUMMARY = {k: v for k, v in WATER.items() if k not in ("explanation", "notes", "fired")}
REQUEST = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}}
FARMLAND: dict[str, Any] = {
    **WATER,
    "decision_id": "d2",
    "lead": {"id": "qj-nrp", "name": "衢州市自然资源和规划局衢江分局"},
    "supports": [{"id": "qj-water"}, "not-a-mapping"],
    "township": {"id": "lianhua"},
    "rule": {"id": "YJS-SAND-FARMLAND"},
}


SEED = load_policy(SEED_POLICY)  # at import: a mutation run's fork server loads it once


@pytest.fixture(scope="module")
def seed() -> Policy:
    return SEED


@pytest.fixture(scope="module")
def chapter(seed: Policy) -> CaseChapter:
    return CaseChapter.of(seed)


def edited_lifecycle(seed: Policy, edit: Any) -> CaseChapter:
    """The seed's chapter after `edit(lifecycle)` changed its lifecycle.yaml."""
    files = dict(seed.files)
    data = yaml.safe_load(files["lifecycle.yaml"])
    edit(data["lifecycle"])
    files["lifecycle.yaml"] = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    return CaseChapter.of(policy_from_files(files))


def opened(chapter: CaseChapter, decision: Mapping[str, Any] = WATER, **command: Any) -> list[Event]:
    return opening("c1", decision, REQUEST, Command("open", command.pop("actor", "gaojia"), T0, **command), chapter)


def then(chapter: CaseChapter, events: list[Event], kind: str, actor: str, at: datetime, **command: Any) -> list[Event]:
    """The events after `kind` is planned on the case and stored."""
    return [*events, *plan(fold("c1", events, chapter), Command(kind, actor, at, **command), chapter)]


def clocks(state: CaseState) -> list[tuple[Any, ...]]:
    return [(c.limit, c.length, c.started_at, c.due.at, c.stopped_at, c.stopped_by, c.lead) for c in state.clocks]


def refused(error: type[CaseEventError], chapter: CaseChapter, events: list[Event], kind: str, actor: str,
            at: datetime, **command: Any) -> tuple[Any, ...]:
    with pytest.raises(error) as info:
        plan(fold("c1", events, chapter), Command(kind, actor, at, **command), chapter)
    e = info.value
    assert type(e) is error
    return e.message, e.hint, e.field


# --- opening -------------------------------------------------------------------------------


def test_opening_stores_the_decision_summary_and_starts_the_sign_clock(chapter: CaseChapter) -> None:
    events = opened(chapter, reason="群众来电", operator="desk-1")
    assert events == [
        Event(1, "open", T0, "gaojia", {"lead": "qj-water", "supports": ["qj-police", "gaojia"], "township": "gaojia",
                                        "matter": "WAT-01", "decision": SUMMARY, "request": REQUEST, "reason": "群众来电"},
              "desk-1"),
    ]  # fmt: skip
    state = fold("c1", events, chapter)
    assert (state.state, state.lead, state.supports, state.township, state.matter) == (
        "dispatched", "qj-water", ("qj-police", "gaojia"), "gaojia", "WAT-01")
    assert (state.decision, state.request, state.opened_at, state.version, state.last_at, state.returns) == (
        SUMMARY, REQUEST, T0, 1, T0, 0)
    # `assign` runs in this state too, but neither the decision nor the lifecycle gives it a length
    assert clocks(state) == [("sign", "1h", T0, T0 + HOUR, None, None, "qj-water")]
    (sign,) = state.clocks
    assert (sign.warn.at, sign.due.assumed, sign.running, sign.met, sign.extensions) == (T0 + 48 * timedelta(minutes=1), False, True, None, ())
    assert state.next_due() is sign and state.running() == [sign] and state.dispute is None and state.disputes == ()


def test_a_naive_moment_is_china_time_and_no_reason_is_stored_when_none_is_given(chapter: CaseChapter) -> None:
    (event,) = opening("c1", WATER, {}, Command("open", "qj-centre", datetime(2026, 11, 2, 9)), chapter)
    assert (event.at, event.at.utcoffset(), event.operator, "reason" in event.data) == (T0, timedelta(hours=8), None, False)
    assert event.data["request"] == {}
    assert fold("c1", [event], chapter).request == {}


@pytest.mark.parametrize(
    ("limits", "due"),
    [({"sign": "30min"}, T0 + timedelta(minutes=30)), ({"sign": 5}, T0 + HOUR), ({}, T0 + HOUR), (None, T0 + HOUR),
     (["sign"], T0 + HOUR)],
)
def test_the_decision_s_time_limit_wins_over_the_lifecycle_default(chapter: CaseChapter, limits: Any, due: datetime) -> None:
    state = fold("c1", opened(chapter, {**WATER, "time_limits": limits}), chapter)
    assert [(c.limit, c.due.at) for c in state.clocks] == [("sign", due)]


def test_a_decision_without_summary_keys_opens_a_case_with_what_it_has(chapter: CaseChapter) -> None:
    bare = {"lead": {"id": "qj-water"}, "township": {"id": "gaojia"}}
    (event,) = opened(chapter, bare)
    assert event.data == {"lead": "qj-water", "supports": [], "township": "gaojia", "matter": None,
                          "decision": bare, "request": REQUEST}
    state = fold("c1", [event], chapter)
    assert (state.supports, state.matter) == ((), None)


@pytest.mark.parametrize(
    "decision",
    [{**WATER, "township": {}}, {**WATER, "lead": {"id": 7}}, {"township": {"id": "gaojia"}}],
)
def test_a_decision_naming_no_lead_or_township_opens_nothing(chapter: CaseChapter, decision: dict[str, Any]) -> None:
    with pytest.raises(EventInvalid, match=r"^the decision names no lead or township$"):
        opened(chapter, decision)


def test_only_the_township_or_the_centre_opens_a_case(chapter: CaseChapter) -> None:
    hint = "cases are opened by: township, centre"
    with pytest.raises(ActorNotAllowed) as lead:
        opened(chapter, actor="qj-water")
    assert (lead.value.message, lead.value.hint, lead.value.field) == ("`qj-water` may not open this case", hint, "actor")
    with pytest.raises(ActorNotOnCase) as stranger:
        opened(chapter, actor="qj-health")
    assert (stranger.value.message, stranger.value.hint, stranger.value.field) == ("`qj-health` is not on this case", hint, "actor")
    assert opened(chapter, actor="qj-centre")[0].actor == "qj-centre"


def test_conflicting_leads_open_a_dispute_for_the_arbiter_at_once(chapter: CaseChapter) -> None:
    conflict = {**WATER, "outcome": "conflict", "candidates": [{"id": "qj-water"}, {"id": "qj-nrp"}, "noise"]}
    events = opened(chapter, conflict, operator="desk-1")
    assert events[1] == Event(2, "dispute", T0, "qj-centre", {
        "opened_by": "open", "arbiter": "qj-bb", "clauses": ["YJS-SAND-RIVER"],
        "positions": [{"party": "rules", "says": "qj-water", "outcome": "conflict"},
                      {"party": "rules", "says": "qj-nrp", "outcome": "conflict"}],
        "reason": "牵头冲突, 提交编办裁定; 争议期间排序在先的牵头部门继续办理"}, "desk-1")  # fmt: skip
    state = fold("c1", events, chapter)
    dispute = state.dispute
    assert dispute is not None and state.state == "dispatched" and state.version == 2
    assert (dispute.opened_at, dispute.opened_by, dispute.lead, dispute.clauses, dispute.ruled_at) == (
        T0, "open", "qj-water", ("YJS-SAND-RIVER",), None)
    assert [p["says"] for p in dispute.positions] == ["qj-water", "qj-nrp"]
    assert [a["event"] for a in allowed_events(chapter, state)] == ["sign", "reassign", "ruling"]  # no return meanwhile


# --- the way through: sign, contact, report in, handle, close ------------------------------


def test_each_step_stops_the_clocks_it_leaves_and_starts_the_ones_it_enters(chapter: CaseChapter) -> None:
    signed_at, contacted_at = T0 + timedelta(minutes=40), T0 + 5 * HOUR
    events = then(chapter, opened(chapter), "sign", "qj-water", signed_at)
    state = fold("c1", events, chapter)
    assert state.state == "signed" and state.version == 2 and state.last_at == signed_at
    # report_in: 3 working days from Monday 09:40; handle: the lifecycle's 15wd (the decision lists none)
    assert clocks(state) == [
        ("sign", "1h", T0, T0 + HOUR, signed_at, "sign", "qj-water"),
        ("contact", "24h", signed_at, signed_at + 24 * HOUR, None, None, "qj-water"),
        ("report_in", "3wd", signed_at, datetime(2026, 11, 5, 9, 40, tzinfo=CHINA), None, None, "qj-water"),
        ("handle", "15wd", signed_at, datetime(2026, 11, 23, 9, 40, tzinfo=CHINA), None, None, "qj-water"),
    ]
    assert (state.clocks[0].met, state.clocks[0].status(signed_at), state.next_due()) == (True, "met", state.clocks[1])
    events = then(chapter, events, "contact", "qj-water", contacted_at)
    state = fold("c1", events, chapter)
    # report_in and handle run on through 已联系乡镇: not restarted
    assert [(c.limit, c.started_at, c.stopped_by) for c in state.clocks] == [
        ("sign", T0, "sign"), ("contact", signed_at, "contact"), ("report_in", signed_at, None), ("handle", signed_at, None)]
    assert state.next_due() == state.clocks[2]
    for kind, actor, hours in (("report_in", "qj-water", 30), ("handle", "qj-water", 50), ("close", "gaojia", 60)):
        events = then(chapter, events, kind, actor, T0 + hours * HOUR)
    state = fold("c1", events, chapter)
    assert state.state == "closed" and state.running() == [] and state.next_due() is None
    assert [(c.limit, c.stopped_at, c.stopped_by, c.met) for c in state.clocks[2:]] == [
        ("report_in", T0 + 30 * HOUR, "report_in", True), ("handle", T0 + 50 * HOUR, "handle", True)]
    assert [a["event"] for a in allowed_events(chapter, state)] == ["reopen"]
    reopened = fold("c1", then(chapter, events, "reopen", "qj-centre", T0 + 70 * HOUR, reason="群众不满意"), chapter)
    assert reopened.state == "reported"
    # handle runs in 已到场报到 again: a new run from the reopening, the first one stays as it ended
    assert [(c.limit, c.started_at) for c in reopened.running()] == [("handle", T0 + 70 * HOUR)]


def test_the_stored_event_carries_reason_note_operator_and_the_next_number(chapter: CaseChapter) -> None:
    events = opened(chapter)
    state = fold("c1", events, chapter)
    planned = plan(state, Command("sign", "qj-water", T0, reason="已派员", note="张三签收", operator="water-desk"), chapter)
    assert planned == [Event(2, "sign", T0, "qj-water", {"reason": "已派员", "note": "张三签收"}, "water-desk")]
    assert plan(state, Command("sign", "qj-water", T0 + HOUR), chapter) == [Event(2, "sign", T0 + HOUR, "qj-water", {})]


# --- refusals, whole -------------------------------------------------------------------------


def test_an_event_before_the_last_one_is_refused_one_at_the_same_moment_is_not(chapter: CaseChapter) -> None:
    events = then(chapter, opened(chapter), "sign", "qj-water", T0 + HOUR)
    assert refused(EventInvalid, chapter, events, "contact", "qj-water", T0 + HOUR - timedelta(seconds=1)) == (
        "`at` 2026-11-02T09:59:59+08:00 is before the case's last event (2026-11-02T10:00:00+08:00)",
        "events are recorded in the order they happened", "at")
    assert fold("c1", then(chapter, events, "contact", "qj-water", T0 + HOUR), chapter).state == "contacted"


def test_an_unknown_event_names_every_event_there_is(chapter: CaseChapter) -> None:
    assert refused(EventInvalid, chapter, opened(chapter), "dance", "qj-water", T0) == (
        "unknown event kind `dance`",
        "one of: close, contact, extend, handle, reassign, reopen, report_in, return, ruling, sign", "kind")


def test_an_event_the_state_does_not_allow_names_the_allowed_ones(chapter: CaseChapter) -> None:
    events = opened(chapter)
    with pytest.raises(TransitionNotAllowed) as info:
        plan(fold("c1", events, chapter), Command("handle", "qj-water", T0), chapter)
    e = info.value
    assert (e.message, e.hint, e.field) == (
        "case `c1` is `dispatched` (待签收): `handle` is not allowed", "allowed now: sign, return, reassign", None)
    assert e.extra == {"state": "dispatched", "allowed": [
        {"event": "sign", "name": "签收", "by": ["lead"]},
        {"event": "return", "name": "退单", "by": ["lead"]},
        {"event": "reassign", "name": "改派", "by": ["centre", "arbiter"]},
    ]}  # fmt: skip


def test_a_finished_case_says_nothing_is_allowed(seed: Policy) -> None:
    def no_reopening(life: dict[str, Any]) -> None:
        life["transitions"] = [t for t in life["transitions"] if t["event"] != "reopen"]

    final = edited_lifecycle(seed, no_reopening)
    events = opened(final)
    for kind, actor, hours in (("sign", "qj-water", 1), ("report_in", "qj-water", 2), ("handle", "qj-water", 3), ("close", "gaojia", 4)):
        events = then(final, events, kind, actor, T0 + hours * HOUR)
    message, hint, _ = refused(TransitionNotAllowed, final, events, "handle", "qj-water", T0 + 5 * HOUR)
    assert (message, hint) == ("case `c1` is `closed` (已结案): `handle` is not allowed", "allowed now: nothing (the case is finished)")


def test_who_is_on_the_case_and_who_may_act(chapter: CaseChapter) -> None:
    events = opened(chapter)
    state = fold("c1", events, chapter)
    assert [sorted(roles_of(chapter, state, a)) for a in ("qj-water", "qj-police", "gaojia", "qj-centre", "qj-bb", "qj-health")] == [
        ["lead"], ["support"], ["support", "township"], ["centre"], ["arbiter"], []]
    assert refused(ActorNotOnCase, chapter, events, "sign", "qj-health", T0) == (
        "`qj-health` is not on case `c1`", "the lead is `qj-water`; the township `gaojia`; supports: qj-police, gaojia", "actor")
    assert refused(ActorNotAllowed, chapter, events, "sign", "gaojia", T0) == (
        "`gaojia` (support, township) may not `sign` this case", "`sign` is for: lead", "actor")
    assert refused(ActorNotAllowed, chapter, events, "reassign", "qj-water", T0, reason="x", data={"lead": "qj-nrp"}) == (
        "`qj-water` (lead) may not `reassign` this case", "`reassign` is for: centre, arbiter", "actor")
    alone = opened(chapter, {**WATER, "supports": []})
    assert refused(ActorNotOnCase, chapter, alone, "sign", "qj-police", T0)[1] == (
        "the lead is `qj-water`; the township `gaojia`; supports: none")


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_an_event_that_needs_a_reason_is_refused_without_one(chapter: CaseChapter, reason: str | None) -> None:
    events = opened(chapter)
    assert refused(EventInvalid, chapter, events, "reassign", "qj-centre", T0, reason=reason, data={"lead": "qj-nrp"}) == (
        "`reassign` needs a `reason`", None, "reason")


# --- extensions ----------------------------------------------------------------------------------


def signed(chapter: CaseChapter) -> list[Event]:
    return then(chapter, opened(chapter), "sign", "qj-water", T0)


def test_an_extension_moves_only_its_own_limit_and_is_granted_once(chapter: CaseChapter) -> None:
    events = then(chapter, signed(chapter), "extend", "qj-water", T0 + HOUR, reason="需等待水文数据", data={"limit": "report_in", "by": "2wd"})
    assert events[-1] == Event(3, "extend", T0 + HOUR, "qj-water", {"reason": "需等待水文数据", "limit": "report_in", "by": "2wd"})
    state = fold("c1", events, chapter)
    assert state.state == "signed"  # an extension is no change of state
    by_limit = {c.limit: c for c in state.clocks}
    assert (by_limit["report_in"].due.at, by_limit["report_in"].extensions) == (datetime(2026, 11, 9, 9, tzinfo=CHINA), ("2wd",))
    assert (by_limit["handle"].due.at, by_limit["handle"].extensions) == (datetime(2026, 11, 23, 9, tzinfo=CHINA), ())
    assert by_limit["report_in"].warn == fold("c1", events[:-1], chapter).clocks[2].warn  # the warning stays where it was
    assert refused(ExtensionRefused, chapter, events, "extend", "qj-water", T0 + 2 * HOUR, reason="再延", data={"limit": "report_in", "by": "1wd"}) == (
        "the `report_in` limit was already extended 1 time(s) (at most 1)", None, None)
    # the other extendable limit still may be
    handle = then(chapter, events, "extend", "qj-water", T0 + 2 * HOUR, reason="再延", data={"limit": "handle", "by": "24h"})
    assert {c.limit: c.due.at for c in fold("c1", handle, chapter).clocks}["handle"] == datetime(2026, 11, 24, 9, tzinfo=CHINA)


def test_an_extension_carries_an_assumed_due_date(chapter: CaseChapter) -> None:
    start = datetime(2026, 12, 28, 9, tzinfo=CHINA)  # 2027 has no published holidays yet
    events = opening("c1", WATER, REQUEST, Command("open", "gaojia", start), chapter)
    events = then(chapter, events, "sign", "qj-water", start)
    report_in = fold("c1", events, chapter).clocks[2]
    assert (report_in.limit, report_in.due.assumed) == ("report_in", False)  # 12-31 is inside 2026
    later = fold("c1", then(chapter, events, "extend", "qj-water", start, reason="元旦", data={"limit": "report_in", "by": "1h"}), chapter)
    assert (later.clocks[2].due.at, later.clocks[2].due.assumed) == (report_in.due.at + HOUR, False)
    far = fold("c1", then(chapter, events, "extend", "qj-water", start, reason="元旦", data={"limit": "report_in", "by": "3wd"}), chapter)
    assert far.clocks[2].due.assumed is True


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"limit": "contact", "by": "1h"}, ("`limit` must be one of: report_in, handle", None, "limit")),
        ({"by": "1h"}, ("`limit` must be one of: report_in, handle", None, "limit")),
        ({"limit": "report_in", "by": "2 days"}, ("`2 days` is not a time limit (write 30min, 1h, 3d or 5wd)", "e.g. 5wd or 24h", "by")),
        ({"limit": "report_in"}, ("`None` is not a time limit (write 30min, 1h, 3d or 5wd)", "e.g. 5wd or 24h", "by")),
    ],
)
def test_a_bad_extension_is_refused_whole(chapter: CaseChapter, data: dict[str, str], expected: tuple[Any, ...]) -> None:
    assert refused(EventInvalid, chapter, signed(chapter), "extend", "qj-water", T0 + HOUR, reason="r", data=data) == expected


def test_an_extension_of_a_limit_not_running_or_already_due(chapter: CaseChapter) -> None:
    events = then(chapter, signed(chapter), "report_in", "qj-water", T0 + HOUR)
    assert refused(EventInvalid, chapter, events, "extend", "qj-water", T0 + HOUR, reason="r", data={"limit": "report_in", "by": "1wd"}) == (
        "the `report_in` limit is not running", None, "limit")
    due = datetime(2026, 11, 5, 9, tzinfo=CHINA)  # report_in: 3wd from the sign
    late = signed(chapter)
    ask = {"reason": "r", "data": {"limit": "report_in", "by": "1wd"}}
    assert refused(DeadlinePassed, chapter, late, "extend", "qj-water", due, **ask) == (
        "the `report_in` limit fell due at 2026-11-05T09:00:00+08:00: extensions are asked before it",
        "ask the centre to reassign, or handle it late", None)
    assert then(chapter, late, "extend", "qj-water", due - timedelta(seconds=1), **ask)[-1].kind == "extend"


def test_a_lifecycle_without_extensions_refuses_them(seed: Policy) -> None:
    strict = edited_lifecycle(seed, lambda life: life.pop("extensions"))
    events = then(strict, opened(strict), "sign", "qj-water", T0)
    assert refused(EventInvalid, strict, events, "extend", "qj-water", T0, reason="r", data={"limit": "report_in", "by": "1wd"}) == (
        "this lifecycle allows no extensions", None, "kind")


# --- returns: decided again, then reassigned or disputed ------------------------------------------


def returned(chapter: CaseChapter, events: list[Event], redecision: Mapping[str, Any], at: datetime, **data: Any) -> list[Event]:
    return then(chapter, events, "return", "qj-water", at, reason=data.pop("reason", "不属于本单位职责"), note="现场在农田",
                operator="water-desk", data={"claim": "qj-nrp", "redecision": redecision, **data})


def test_a_return_the_rules_send_elsewhere_is_reassigned_by_the_centre(chapter: CaseChapter) -> None:
    at = T0 + timedelta(minutes=20)
    corrected = {**REQUEST, "attributes": {"site_type": "farmland"}}
    events = returned(chapter, opened(chapter), FARMLAND, at, corrections={"site_type": "farmland"}, request=corrected)
    assert events[1:] == [
        Event(2, "return", at, "qj-water", {
            "reason": "不属于本单位职责", "note": "现场在农田", "reason_code": "not_our_duty", "reason_name": "不属于本单位职责",
            "claim": "qj-nrp", "corrections": {"site_type": "farmland"}, "redecision": FARMLAND}, "water-desk"),
        Event(3, "reassign", at, "qj-centre", {
            "reason": "退单(不属于本单位职责)重新判定: YJS-SAND-FARMLAND", "lead": "qj-nrp", "supports": ["qj-water"],
            "decision": {k: v for k, v in FARMLAND.items() if k not in ("explanation", "notes", "fired")},
            "request": corrected, "township": "lianhua", "by_rules": True}, "water-desk"),
    ]  # fmt: skip
    state = fold("c1", events, chapter)
    assert (state.state, state.lead, state.supports, state.township, state.returns, state.request) == (
        "dispatched", "qj-nrp", ("qj-water",), "lianhua", 1, corrected)
    assert state.decision["decision_id"] == "d2" and state.dispute is None
    # the first lead's sign clock is cancelled (not late, not met); the new lead's runs from the return
    assert clocks(state) == [("sign", "1h", T0, T0 + HOUR, at, "reassign", "qj-water"),
                             ("sign", "1h", at, at + HOUR, None, None, "qj-nrp")]
    assert state.clocks[0].status(at + 2 * HOUR) == "cancelled"


def test_a_return_keeps_the_request_and_township_the_redecision_does_not_change(chapter: CaseChapter) -> None:
    bare = {"outcome": "assigned", "lead": {"id": "qj-nrp"}}
    events = then(chapter, signed(chapter), "return", "qj-water", T0 + HOUR, reason="wrong_place", data={"redecision": bare})
    assert events[2].data == {"reason": "wrong_place", "reason_code": "wrong_place", "reason_name": "属地不符", "claim": None,
                              "corrections": {}, "redecision": bare}
    assert events[3].data == {"reason": "退单(属地不符)重新判定: ", "lead": "qj-nrp", "supports": [], "decision": bare,
                              "request": REQUEST, "township": "gaojia", "by_rules": True}
    state = fold("c1", events, chapter)
    assert (state.state, state.lead, state.supports, state.township) == ("dispatched", "qj-nrp", (), "gaojia")
    # every clock of the signed case stops when the lead changes; only the new sign clock runs
    assert [(c.limit, c.stopped_by) for c in state.clocks] == [
        ("sign", "sign"), ("contact", "reassign"), ("report_in", "reassign"), ("handle", "reassign"), ("sign", None)]


@pytest.mark.parametrize(
    "redecision",
    [{**WATER, "decision_id": "d2", "rule": {"id": "WAT-01"}},  # the rules still name the water bureau
     {**FARMLAND, "outcome": "conflict", "candidates": [{"id": "qj-nrp"}, {"id": "qj-water"}]},  # or conflict
     {"outcome": "assigned", "lead": "qj-nrp"}],  # or name no lead the machine can read
)
def test_a_return_the_rules_do_not_send_elsewhere_goes_to_the_arbiter(chapter: CaseChapter, redecision: dict[str, Any]) -> None:
    at = T0 + timedelta(minutes=20)
    events = returned(chapter, opened(chapter), redecision, at, reason="unclear_ownership")
    rule = redecision.get("rule", {}).get("id")
    new_lead = redecision["lead"]["id"] if isinstance(redecision["lead"], Mapping) else None
    assert events[2] == Event(3, "dispute", at, "qj-centre", {
        "opened_by": "return",
        "positions": [
            {"party": "qj-water", "says": "qj-nrp", "reason_code": "unclear_ownership", "reason": "权属不清", "note": "现场在农田"},
            {"party": "rules", "says": new_lead, "outcome": redecision["outcome"], "rule": rule,
             "candidates": [c["id"] for c in redecision.get("candidates", [])], "decision_id": redecision.get("decision_id")},
        ],
        "clauses": [c for c in dict.fromkeys(["YJS-SAND-RIVER", rule]) if c],
        "arbiter": "qj-bb",
        "reason": "退单后规则仍指向原牵头部门或牵头冲突, 提交编办裁定; 争议期间原牵头部门继续办理",
    }, "water-desk")  # fmt: skip
    state = fold("c1", events, chapter)
    assert (state.state, state.lead, state.returns, state.decision) == ("dispatched", "qj-water", 1, SUMMARY)
    assert clocks(state) == [("sign", "1h", T0, T0 + HOUR, None, None, "qj-water")]  # the first lead keeps handling
    dispute = state.dispute
    assert dispute is not None and (dispute.opened_by, dispute.lead, dispute.opened_at) == ("return", "qj-water", at)
    assert refused(DisputeState, chapter, events, "return", "qj-water", at, reason="权属不清", data={"redecision": WATER}) == (
        "case `c1` is already before the arbiter", "the lead keeps handling until the ruling", None)
    assert "return" not in [a["event"] for a in allowed_events(chapter, state)]


def test_a_return_needs_a_listed_reason_and_a_redecision(chapter: CaseChapter) -> None:
    events = opened(chapter)
    assert refused(EventInvalid, chapter, events, "return", "qj-water", T0, reason="不想办", data={"redecision": FARMLAND}) == (
        "`不想办` is not a valid return reason",
        "one of: not_our_duty (不属于本单位职责), wrong_place (属地不符), unclear_ownership (权属不清), overlapping_duties (职能交叉)",
        "reason")
    assert refused(EventInvalid, chapter, events, "return", "qj-water", T0, reason="职能交叉") == (
        "a return is decided again before it is stored", None, None)
    assert fold("c1", returned(chapter, events, FARMLAND, T0, reason="职能交叉"), chapter).lead == "qj-nrp"


# --- rulings and reassignments ---------------------------------------------------------------------


def disputed(chapter: CaseChapter) -> list[Event]:
    """A case opened on conflicting leads, signed by the lead named first."""
    conflict = {**WATER, "outcome": "conflict", "candidates": [{"id": "qj-water"}, {"id": "qj-nrp"}]}
    return then(chapter, opened(chapter, conflict), "sign", "qj-water", T0 + HOUR)


def test_a_ruling_settles_the_dispute_and_hands_the_case_over(chapter: CaseChapter) -> None:
    events = disputed(chapter)
    ruling = {"lead": "qj-nrp", "supports": ["qj-water"], "basis": {"document": "衢江区委编办职责争议协调会议纪要〔2026〕5号"}}
    at = T0 + 3 * HOUR
    events = then(chapter, events, "ruling", "qj-bb", at, reason="协调会议", data=ruling)
    assert events[-1] == Event(4, "ruling", at, "qj-bb", {"reason": "协调会议", **ruling})
    state = fold("c1", events, chapter)
    assert (state.state, state.lead, state.supports, state.dispute, len(state.disputes)) == (
        "dispatched", "qj-nrp", ("qj-water",), None, 1)
    assert (state.disputes[0].ruled_at, state.disputes[0].ruling) == (at, {"reason": "协调会议", **ruling})
    assert [(c.limit, c.stopped_by, c.lead) for c in state.running()] == [("sign", None, "qj-nrp")]
    assert {c.stopped_by for c in state.clocks if not c.running} == {"sign", "ruling"}
    assert refused(DisputeState, chapter, events, "ruling", "qj-bb", at, data={"lead": "qj-water"}) == (
        "case `c1` has no open dispute to rule on", "a ruling settles a dispute opened by a return or by conflicting leads", None)


def test_a_ruling_for_the_lead_in_place_settles_the_dispute_and_leaves_the_case_where_it_is(chapter: CaseChapter) -> None:
    events = disputed(chapter)
    before = fold("c1", events, chapter)
    state = fold("c1", then(chapter, events, "ruling", "qj-bb", T0 + 3 * HOUR, data={"lead": "qj-water"}), chapter)
    assert (state.state, state.lead, state.clocks, state.dispute) == ("signed", "qj-water", before.clocks, None)
    assert state.disputes[0].ruling == {"lead": "qj-water"}
    unnamed = fold("c1", then(chapter, events, "ruling", "qj-bb", T0 + 3 * HOUR, data={}), chapter)
    assert (unnamed.state, unnamed.lead, unnamed.dispute) == ("signed", "qj-water", None)


@pytest.mark.parametrize(
    ("data", "message"),
    [({}, "`reassign` needs the new `lead` (an organization id)"), ({"lead": "nobody"}, "`reassign` needs the new `lead` (an organization id)"),
     ({"lead": ["qj-nrp"]}, "`reassign` needs the new `lead` (an organization id)"), ({"lead": "qj-water"}, "`qj-water` already leads this case")],
)
def test_a_reassignment_names_a_new_lead(chapter: CaseChapter, data: dict[str, Any], message: str) -> None:
    assert refused(EventInvalid, chapter, opened(chapter), "reassign", "qj-centre", T0, reason="r", data=data) == (message, None, "lead")


def test_a_reassignment_from_later_states_restarts_at_dispatch(chapter: CaseChapter) -> None:
    events = then(chapter, then(chapter, signed(chapter), "report_in", "qj-water", T0 + HOUR), "reassign", "qj-bb", T0 + 2 * HOUR,
                  reason="编办协调", data={"lead": "qj-nrp"})
    assert events[-1] == Event(4, "reassign", T0 + 2 * HOUR, "qj-bb", {"reason": "编办协调", "lead": "qj-nrp"})
    state = fold("c1", events, chapter)
    assert (state.state, state.lead, state.supports, state.township, state.decision) == (
        "dispatched", "qj-nrp", ("qj-police", "gaojia"), "gaojia", SUMMARY)  # what the reassignment does not name stays
    assert [(c.limit, c.stopped_by) for c in state.clocks] == [
        ("sign", "sign"), ("contact", "report_in"), ("report_in", "report_in"), ("handle", "reassign"), ("sign", None)]


# --- clocks: status and colour at the edges ---------------------------------------------------------


RUN = ClockRun("sign", "1h", T0, Due(T0 + HOUR), Due(T0 + 48 * timedelta(minutes=1)))


@pytest.mark.parametrize(
    ("now", "status", "colour"),
    [(T0, "running", "green"), (T0 + timedelta(minutes=47), "running", "green"), (T0 + timedelta(minutes=48), "running", "amber"),
     (T0 + HOUR - timedelta(seconds=1), "running", "amber"), (T0 + HOUR, "overdue", "red")],
)
def test_a_running_clock_turns_amber_at_the_warning_and_red_at_the_due_time(now: datetime, status: str, colour: str) -> None:
    assert (RUN.status(now), RUN.colour(now), RUN.running, RUN.met) == (status, colour, True, None)


@pytest.mark.parametrize(
    ("stopped", "by", "status", "colour", "met"),
    [(T0 + HOUR, "sign", "met", "green", True), (T0 + HOUR + timedelta(seconds=1), "sign", "late", "red", False),
     (T0 + HOUR, "reassign", "cancelled", "green", True), (T0 + HOUR, "return", "cancelled", "green", True),
     (T0 + HOUR, "ruling", "cancelled", "green", True), (T0 + 2 * HOUR, "reassign", "late", "red", False),
     (T0 + HOUR, "handle", "met", "green", True)],
)
def test_a_stopped_clock_is_met_late_or_cancelled(stopped: datetime, by: str, status: str, colour: str, met: bool) -> None:
    run = ClockRun("sign", "1h", T0, Due(T0 + HOUR), Due(T0), stopped_at=stopped, stopped_by=by)
    later = T0 + 10 * HOUR
    assert (run.status(later), run.colour(later), run.running, run.met) == (status, colour, False, met)


# --- folding ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("events", [[], [Event(1, "sign", T0, "qj-water")]])
def test_a_case_starts_with_its_open_event(chapter: CaseChapter, events: list[Event]) -> None:
    with pytest.raises(ValueError, match=r"^case `c9` does not start with an `open` event$"):
        fold("c9", events, chapter)


def test_an_event_the_state_does_not_know_is_kept_and_changes_nothing(chapter: CaseChapter) -> None:
    events = [*opened(chapter), Event(2, "handle", T0, "qj-water"), Event(3, "extend", T0, "qj-water", {"limit": "sign", "by": "1h"})]
    state = fold("c1", events, chapter)
    assert (state.state, state.version, clocks(state)) == ("dispatched", 3, [("sign", "1h", T0, T0 + 2 * HOUR, None, None, "qj-water")])
    assert state.clocks[0].extensions == ("1h",)

