"""A case is checked against the policy's vocabulary, and turned into the fact rules see.

Each bad input is compared whole (code, message, field, hint, extra): callers show these
to officials, so a garbled message or a lost hint is a regression. The derived facts
(township, township kind, domain, team on the case's date) and attribute defaults are
pinned through decisions on the made-up `shanhai` county, whose rules test each of them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from engine import Case, CaseError, Runtime

DAY = date(2026, 11, 1)
SEED_ATTRIBUTES = (
    "area, cross_township, fire_spread, manhole_owner, noise_source, operator_type, other_township, permit, "
    "severity, site_type, violent_resistance, waste_type"
)


def decide(rt: Runtime, **kw: Any) -> dict[str, Any]:
    kw.setdefault("as_of", DAY)
    return rt.decide(Case(**kw)).to_dict()


def refused(rt: Runtime, **kw: Any) -> tuple[str, str, str | None, str | None, dict[str, object]]:
    kw.setdefault("as_of", DAY)
    with pytest.raises(CaseError) as info:
        rt.decide(Case(**kw))
    e = info.value
    return e.code, e.message, e.field, e.hint, e.extra


ORGS = "list them with GET /v1/organizations?kind=township"


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"township": "nowhere"}, ("unknown_township", "unknown township `nowhere`", "township", ORGS)),
        ({"township": "qj-water"}, ("unknown_township", "unknown township `qj-water`", "township", ORGS)),
        ({"township": "高家镇"}, ("unknown_township", "unknown township `高家镇`", "township", "use the id `gaojia` for 高家镇")),
        ({"township": "Fushi Subdistrict"},
         ("unknown_township", "unknown township `Fushi Subdistrict`", "township", "use the id `fushi` for 浮石街道")),
        ({"township": "gaojiaa"}, ("unknown_township", "unknown township `gaojiaa`", "township", "did you mean `gaojia`?")),
        ({"matter": "WAT-99"}, ("unknown_matter", "unknown matter `WAT-99`", "matter", "did you mean `WAT-07`?")),
        ({"matter": "zzz"}, ("unknown_matter", "unknown matter `zzz`", "matter", "search the list with GET /v1/matters?q=")),
        ({"matter": "河道非法采砂"},
         ("unknown_matter", "unknown matter `河道非法采砂`", "matter", "use the id `WAT-01` for 河道非法采砂")),
        ({"matter": "盗采河砂"}, ("unknown_matter", "unknown matter `盗采河砂`", "matter", "use the id `WAT-01` for 河道非法采砂")),
        ({"attributes": {"colour": "red"}},
         ("unknown_attribute", "unknown attribute `colour`", "attributes.colour", f"known: {SEED_ATTRIBUTES}")),
        ({"attributes": {"site_typ": "river"}},
         ("unknown_attribute", "unknown attribute `site_typ`", "attributes.site_typ", "did you mean `site_type`?")),
        ({"attributes": {"permit": "true"}}, ("wrong_type", "`permit` must be true or false", "attributes.permit", None)),
        ({"attributes": {"severity": "4"}}, ("wrong_type", "`severity` must be a number", "attributes.severity", None)),
        ({"attributes": {"severity": True}}, ("wrong_type", "`severity` must be a number", "attributes.severity", None)),
        ({"attributes": {"severity": 2.5}}, ("wrong_type", "`severity` must be a whole number", "attributes.severity", None)),
        ({"attributes": {"severity": 9}},
         ("value_out_of_range", "`severity` must lie between 1.0 and 4.0", "attributes.severity", None)),
        ({"attributes": {"severity": 0}},
         ("value_out_of_range", "`severity` must lie between 1.0 and 4.0", "attributes.severity", None)),
        ({"attributes": {"other_township": "mars"}},
         ("value_not_allowed", "`mars` is not a township", "attributes.other_township", None)),
        ({"attributes": {"other_township": "浮石街道"}},
         ("value_not_allowed", "`浮石街道` is not a township", "attributes.other_township", "use the id `fushi` for 浮石街道")),
        ({"attributes": {"other_township": 5}},
         ("wrong_type", "`other_township` must be a string id", "attributes.other_township", None)),
        ({"attributes": {"site_type": 3}}, ("wrong_type", "`site_type` must be a string id", "attributes.site_type", None)),
    ],
)
def test_bad_input_is_refused_with_the_whole_error(seed_runtime: Runtime, kw: dict[str, Any], expected: tuple[Any, ...]) -> None:
    kw = {"township": "gaojia", **kw}
    assert refused(seed_runtime, **kw) == (*expected, {})


@pytest.mark.parametrize(
    ("value", "hint"),
    [("lake", "allowed: river, farmland, forest, other"), ("rivr", "did you mean `river`?")],
)
def test_a_value_outside_the_list_names_the_allowed_ones(seed_runtime: Runtime, value: str, hint: str) -> None:
    assert refused(seed_runtime, township="gaojia", attributes={"site_type": value}) == (
        "value_not_allowed",
        f"`{value}` is not an allowed value of `site_type`",
        "attributes.site_type",
        hint,
        {"allowed": ["river", "farmland", "forest", "other"]},
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("inf"), ("wrong_type", "`depth` must be a finite number")),
        (float("nan"), ("wrong_type", "`depth` must be a finite number")),
        (0.4, ("value_out_of_range", "`depth` must lie between 0.5 and 50.0")),
        (50.5, ("value_out_of_range", "`depth` must lie between 0.5 and 50.0")),
    ],
)
def test_numbers_must_be_finite_and_in_range(shanhai: Runtime, value: float, expected: tuple[str, str]) -> None:
    assert refused(shanhai, township="east", attributes={"depth": value}) == (*expected, "attributes.depth", None, {})


def test_whole_floats_count_as_ints_and_fractions_as_numbers(seed_runtime: Runtime, shanhai: Runtime) -> None:
    as_float = decide(seed_runtime, township="gaojia", matter="WAT-01", attributes={"site_type": "river", "severity": 4.0})
    as_int = decide(seed_runtime, township="gaojia", matter="WAT-01", attributes={"site_type": "river", "severity": 4})
    assert as_float["rule"]["id"] == as_int["rule"]["id"] == "ESC-SEVERE"
    assert decide(shanhai, township="east", matter="SH-S1", attributes={"depth": 25.5})["rule"]["id"] == "SH-SEA-ESC"


def test_a_bad_value_after_a_good_one_is_still_refused(seed_runtime: Runtime) -> None:
    """Values that passed are remembered; the ones after them must still be checked."""
    good = {"site_type": "river"}
    assert decide(seed_runtime, township="gaojia", matter="WAT-01", attributes=good)["outcome"] == "assigned"
    assert refused(seed_runtime, township="gaojia", matter="WAT-01", attributes={**good, "severity": 9})[:3] == (
        "value_out_of_range", "`severity` must lie between 1.0 and 4.0", "attributes.severity",
    )
    assert refused(seed_runtime, township="gaojia", matter="WAT-01", attributes={**good, "colour": "red"})[0] == "unknown_attribute"


def test_a_refused_value_stays_refused(seed_runtime: Runtime) -> None:
    for _ in range(2):
        assert refused(seed_runtime, township="gaojia", attributes={"severity": 9})[0] == "value_out_of_range"


def test_check_case_without_a_memory_of_good_values(seed_runtime: Runtime) -> None:
    from engine.lead.facts import check_case

    policy = seed_runtime.policy
    check_case(policy, Case(township="gaojia", as_of=DAY, matter="WAT-01", attributes={"site_type": "river", "severity": 2}))
    with pytest.raises(CaseError) as info:
        check_case(policy, Case(township="gaojia", as_of=DAY, attributes={"site_type": "river", "severity": 9}))
    assert info.value.field == "attributes.severity"


# --- the fact rules see ---------------------------------------------------------------------


def test_rules_see_the_township(shanhai: Runtime) -> None:
    assert decide(shanhai, township="north", matter="SH-F1", attributes={"spread": True})["rule"]["id"] == "SH-NORTH"
    assert decide(shanhai, township="west", matter="SH-F1", attributes={"spread": True})["rule"]["id"] == "SH-F1"


def test_rules_see_the_township_kind(shanhai: Runtime) -> None:
    street = decide(shanhai, township="west", matter="SH-S1")
    assert (street["rule"]["id"], street["lead"]["id"]) == ("SH-STREET", "sh-police")
    assert decide(shanhai, township="north", matter="SH-S1")["rule"]["id"] == "SH-S1"


def test_rules_see_the_matter_domain(shanhai: Runtime) -> None:
    assert decide(shanhai, township="north", matter="SH-S1", attributes={"depth": 30})["rule"]["id"] == "SH-SEA-ESC"
    # the same depth on a hill matter: SH-SEA-ESC tests domain `sea`
    assert "SH-SEA-ESC" not in decide(shanhai, township="west", matter="SH-F3", attributes={"depth": 30})["fired"]


def test_rules_see_attribute_defaults(shanhai: Runtime) -> None:
    """`spread` defaults to false: SH-AMD-CALM (spread: false) applies unless the case says otherwise."""
    assert "SH-AMD-CALM" in decide(shanhai, township="west", matter="SH-F1")["fired"]
    assert "SH-AMD-CALM" in decide(shanhai, township="west", matter="SH-F1", attributes={"spread": False})["fired"]
    assert "SH-AMD-CALM" not in decide(shanhai, township="west", matter="SH-F1", attributes={"spread": True})["fired"]
    # `risk` defaults to 3: SH-AMD-RISK (risk ≥ 3) applies unless the case gives a lower one
    assert decide(shanhai, township="west", matter="SH-F2")["notes"] == ["风险等级较高", "加强巡查"]
    assert decide(shanhai, township="west", matter="SH-F2", attributes={"risk": 2})["notes"] == []


def test_rules_see_the_case_date(shanhai: Runtime) -> None:
    """SH-STREET is in force from 2025-01-01: the fact carries the case's date for it."""
    assert decide(shanhai, township="west", matter="SH-S1", as_of=date(2024, 12, 31))["rule"]["id"] == "SH-S1"
    assert decide(shanhai, township="west", matter="SH-S1", as_of=date(2025, 1, 1))["rule"]["id"] == "SH-STREET"


@pytest.mark.parametrize(
    ("township", "day", "rule", "lead"),
    [
        ("east", date(2026, 11, 1), "SH-TEAM-OWN", "east-team"),  # its own team, in force since 2024
        ("east", date(2023, 12, 31), "SH-F2", "sh-forest"),  # the team did not exist yet
        ("north", date(2026, 11, 1), "SH-F2", "sh-forest"),  # served by east's team (1+X): `team` is hub
        ("west", date(2026, 11, 1), "SH-F2", "sh-forest"),  # no team at all
    ],
)
def test_rules_see_the_team_on_the_case_date(shanhai: Runtime, township: str, day: date, rule: str, lead: str) -> None:
    d = decide(shanhai, township=township, matter="SH-F2", as_of=day)
    assert (d["rule"]["id"], d["lead"]["id"]) == (rule, lead)
