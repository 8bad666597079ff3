"""Decision semantics: precedence, dispatch, conflict, as_of, case validation."""

from __future__ import annotations

from datetime import date

import pytest

from engine.errors import CaseError
from engine.lead.decision import Case
from engine.policy.model import Comparison
from engine.rules.compile import compile_policy, compile_test
from engine.runtime import Runtime

DAY = date(2026, 11, 1)


def decide(rt: Runtime, **kw: object) -> dict[str, object]:
    kw.setdefault("as_of", DAY)
    return rt.decide(Case(**kw)).to_dict()  # type: ignore[arg-type]


def test_compile_emits_only_whitelisted_operators() -> None:
    assert compile_test("a", Comparison.model_validate({"in": ["x", "y"]})) == {"$or": [{"a": "x"}, {"a": "y"}]}
    assert compile_test("a", Comparison.model_validate({"not_in": ["x", "y"]})) == {"$and": [{"$neq": {"a": "x"}}, {"$neq": {"a": "y"}}]}
    assert compile_test("n", Comparison(gte=3)) == {"$gte": {"n": 3}}
    assert compile_test("b", Comparison(eq=True)) == {"b": True}


def test_every_compiled_rule_is_guarded(seed_runtime: Runtime) -> None:
    compiled = compile_policy(seed_runtime.policy)
    for shard in compiled.shards.values():
        for rule in shard.values():
            assert rule["all"][0]["m"]["$and"][0] == {"$ex": {"decision_id": 1}}


def test_sand_mining_river_is_led_by_water_bureau(seed_runtime: Runtime) -> None:
    d = decide(seed_runtime, township="gaojia", matter="WAT-01", attributes={"site_type": "river"})
    assert d["outcome"] == "assigned"
    assert d["lead"]["id"] == "qj-water"
    assert d["rule"]["id"] == "YJS-SAND-RIVER"
    assert d["rule"]["basis"][0]["document"].startswith("浙江在线")
    assert [e["rule"] for e in d["explanation"]] == ["YJS-SAND-RIVER", "WAT-01"]
    assert d["explanation"][1]["result"] == "lost"
    assert d["policy"]["digest"] == seed_runtime.policy.digest


def test_priority_beats_tier(seed_runtime: Runtime) -> None:
    d = decide(seed_runtime, township="gaojia", matter="WAT-01", attributes={"site_type": "farmland", "severity": 4})
    # YJS-SAND-FARMLAND has priority 10, ESC-SEVERE priority 0: explicit priority first.
    assert d["rule"]["id"] == "YJS-SAND-FARMLAND"
    results = {e["rule"]: e["result"] for e in d["explanation"]}
    assert results["ESC-SEVERE"] == "lost"


def test_tier_beats_list_default(seed_runtime: Runtime) -> None:
    d = decide(seed_runtime, township="gaojia", matter="WAT-01", attributes={"site_type": "river", "severity": 4})
    assert d["rule"]["id"] == "ESC-SEVERE"
    assert "层级" in {e["rule"]: e["reason"] for e in d["explanation"]}["YJS-SAND-RIVER"]


def test_no_matter_dispatches_to_centre(seed_runtime: Runtime) -> None:
    d = decide(seed_runtime, township="zhangtan")
    assert d["outcome"] == "dispatch" and d["lead"]["id"] == "qj-centre" and d["fired"] == []


def test_matter_not_yet_in_force_dispatches(tmp_path: object) -> None:
    from tests.conftest import FIXTURES, runtime_for

    rt = runtime_for(FIXTURES / "haiwan")
    d = decide(rt, township="haiwan-east", matter="HW-01")
    assert d["outcome"] == "assigned"


def test_conflict_names_candidates_and_arbiter() -> None:
    from tests.conftest import FIXTURES, runtime_for

    d = decide(runtime_for(FIXTURES / "haiwan"), township="haiwan-east", matter="HW-02")
    assert d["outcome"] == "conflict"
    assert [c["id"] for c in d["candidates"]] == ["hw-ocean", "hw-port"]
    assert d["lead"]["id"] == "hw-ocean"  # first listed keeps handling
    assert d["arbiter"]["id"] == "hw-bb"


def test_successor_resolves_by_date(seed_runtime: Runtime) -> None:
    before = decide(seed_runtime, township="lingyang", matter="FOR-03", as_of=date(2019, 2, 28))
    after = decide(seed_runtime, township="lingyang", matter="FOR-03", as_of=date(2019, 3, 1))
    assert before["lead"]["id"] == "qj-forestry"
    assert after["lead"]["id"] == "qj-nrp" and after["lead"]["succeeded"] == ["qj-forestry"]
    assert any("机构改革" in n for n in after["notes"])


def test_delegation_resolves_by_date(seed_runtime: Runtime) -> None:
    assert decide(seed_runtime, township="lianhua", matter="LND-02", as_of=date(2021, 6, 30))["lead"]["id"] == "qj-enforce"
    assert decide(seed_runtime, township="lianhua", matter="LND-02", as_of=date(2021, 7, 1))["lead"]["id"] == "lianhua-team"


@pytest.mark.parametrize(
    ("kw", "code", "field"),
    [
        ({"township": "nowhere"}, "unknown_township", "township"),
        ({"township": "qj-water"}, "unknown_township", "township"),
        ({"township": "gaojia", "matter": "WAT-99"}, "unknown_matter", "matter"),
        ({"township": "gaojia", "attributes": {"colour": "red"}}, "unknown_attribute", "attributes.colour"),
        ({"township": "gaojia", "attributes": {"site_type": "lake"}}, "value_not_allowed", "attributes.site_type"),
        ({"township": "gaojia", "attributes": {"severity": "4"}}, "wrong_type", "attributes.severity"),
        ({"township": "gaojia", "attributes": {"severity": True}}, "wrong_type", "attributes.severity"),
        ({"township": "gaojia", "attributes": {"severity": 9}}, "value_out_of_range", "attributes.severity"),
        ({"township": "gaojia", "attributes": {"permit": "true"}}, "wrong_type", "attributes.permit"),
        ({"township": "gaojia", "attributes": {"other_township": "mars"}}, "value_not_allowed", "attributes.other_township"),
    ],
)
def test_bad_cases_are_rejected_with_field(seed_runtime: Runtime, kw: dict[str, object], code: str, field: str) -> None:
    with pytest.raises(CaseError) as info:
        decide(seed_runtime, **kw)
    assert (info.value.code, info.value.field) == (code, field)


def test_decisions_are_deterministic(seed_runtime: Runtime) -> None:
    a = decide(seed_runtime, township="gaojia", matter="WAT-01", attributes={"site_type": "river", "cross_township": True, "other_township": "fushi"})
    b = decide(seed_runtime, township="gaojia", matter="WAT-01", attributes={"site_type": "river", "cross_township": True, "other_township": "fushi"})
    assert a == b
