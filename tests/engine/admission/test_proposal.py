"""A proposal checked and derived without the rules engine: the workload arithmetic, the display
names criterion messages use, and every refusal of a bad proposal, whole.

Firing the criteria on these facts is durable_rules' part (test_review.py, test_review_findings.py);
everything here needs only the loaded policy, so these tests run first and fast under `make mutation`.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest

from engine.admission import BasisRef
from engine.admission.review import Derived, check_proposal, derive, render
from engine.errors import ProposalError
from engine.policy.grid import GridPolicy, grid_of
from engine.policy.load import load_policy
from engine.policy.model import GridCriterion
from tests.conftest import SEED_POLICY
from tests.engine.admission.test_review_findings import BASE, LAW
from tests.support.messages import assert_fully_rendered

SEED = load_policy(SEED_POLICY)
GRID: GridPolicy = grid_of(SEED)  # type: ignore[assignment]


def derived(**changes: Any) -> Derived:
    proposal = dataclasses.replace(BASE, **changes)
    check_proposal(SEED, GRID, proposal)
    assert_fully_rendered(SEED, proposal)
    return derive(SEED, GRID, proposal)


def criterion(criterion_id: str, **changes: Any) -> GridCriterion:
    found = next(c for c in GRID.criteria if c.id == criterion_id)
    return found.model_copy(update=changes)


# --- the workload --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "minutes", "pct"),
    [
        ({"minutes_per_grid": 30}, 100 * 2 + 30, 20),  # the per-grid time adds once per round
        ({"frequency": "weekly", "minutes_per_household": 1}, 430, 36),  # 100 × 4.3: no float noise rounds up
        ({"households": 30, "minutes_per_household": 0.1}, 3, 1),  # 30 × 0.1 = 3.0000000000000004 → 3
        ({"households": 1, "minutes_per_household": 3.0000002}, 3, 1),  # under a millionth of a minute is noise
        ({"households": 1, "minutes_per_household": 12}, 12, 1),  # exactly 1 % of 1200
        ({"households": 1, "minutes_per_household": 12.5}, 13, 2),  # minutes and percent round up
        ({"households": None, "minutes_per_household": 1}, 400, 34),  # the grid's 400 households by default
        ({"frequency": "once", "end_date": date(2026, 12, 10)}, 200, 17),  # one-off under 30 days: all in one month
        ({"frequency": "once", "end_date": date(2027, 1, 29)}, 100, 9),  # one-off over 60 days: spread, half a month's
        ({"frequency": "once", "end_date": None}, 200, 17),  # one-off, open-ended: one month's
        ({"frequency": "quarterly", "end_date": date(2026, 12, 10)}, 200, 17),  # recurring, 10 days: at least once
        ({"frequency": "daily", "end_date": date(2026, 12, 1)}, 200, 17),  # daily, one day: once
        ({"frequency": "daily", "end_date": date(2026, 12, 15)}, 3000, 250),  # daily, 15 days: 15 rounds
        ({"frequency": "daily", "end_date": date(2026, 12, 29)}, 5800, 484),  # daily, 29 days: 29 rounds
        ({"frequency": "daily", "end_date": date(2026, 12, 30)}, 6000, 500),  # daily, 30 days: a month's
    ],
)
def test_minutes_per_grid_per_month(changes: dict[str, Any], minutes: int, pct: int) -> None:
    facts = derived(**changes).facts
    assert (facts["minutes_per_grid_month"], facts["capacity_used_pct"]) == (minutes, pct)


# --- the names a message may use ------------------------------------------------------------


# Every display name a message may use, in one message (GA-07 fires on open-ended tasks).
EVERY_NAME = (
    "{title}|{kind_name}|{requester_name}|{channel_name}|{frequency_name}|{emergency_category_name}|{basis_levels}|"
    "{power_actions}|{formalism_actions}|{duplicate_fields}|{new_fields}|{filing_due}|{filing_days}|{reviewer_name}|"
    "{capacity_minutes_per_month}|{households_per_grid}|{approved_channels}|{duration_days}|{households}"
)


def test_every_display_name_renders() -> None:
    every = criterion("GA-07", message=EVERY_NAME)
    message = render(every, derived(end_date=None, actions=("visit", "photo_check_in"), fields=("name", "gas_alarm")).context)
    assert message.split("|") == [
        "入户核对独居老人信息", "特殊人群关爱", "衢江区民政局", "县级审查后经基层治理四平台统一派单", "每月", "", "法律", "",
        "拍照打卡", "姓名", "燃气报警器安装情况", "", "7", "衢江区社会治理中心", "1200", "400",
        "县级审查后经基层治理四平台统一派单", "—", "100",
    ]  # fmt: skip
    emergency = derived(end_date=None, emergency=True, emergency_category="public_health", kind="enforcement")
    parts = render(every, emergency.context).split("|")
    assert (parts[5], parts[7], parts[11]) == ("突发公共卫生事件", "承担“行政执法”", "2026-12-08")


@pytest.mark.parametrize("template", ["{0}条", "{title.missing}", "{title[99]}", "未闭合 {title"])
def test_a_template_that_cannot_render_is_shown_as_written(template: str) -> None:
    assert render(criterion("GA-07", message=template), derived().context) == template


# --- the proposal's vocabulary: whole errors --------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"title": "  "}, ("missing_field", "the task needs a title", "title", None)),
        ({"requester": "区民政局"}, ("unknown_organization", "unknown organization `区民政局`", "requester", "use the id `qj-civil` for 区民政局")),
        ({"requester": "衢江区民政局"},
         ("unknown_organization", "unknown organization `衢江区民政局`", "requester", "use the id `qj-civil` for 衢江区民政局")),
        ({"requester": "nobody"}, ("unknown_organization", "unknown organization `nobody`", "requester", "list them with GET /v1/organizations")),
        ({"kind": "特殊人群关爱"}, ("unknown_task_kind", "unknown task kind `特殊人群关爱`", "kind", "use the id `special_groups` for 特殊人群关爱")),
        ({"basis": (LAW, BasisRef("x", "statute"))},
         ("unknown_basis_level", "unknown basis level `statute`", "basis.1.level",
          "allowed: law, regulation, rules, county_document, department_notice")),
        ({"emergency": True}, ("missing_emergency_category", "an emergency task must say which emergency exempts it", "emergency_category",
                               "allowed: life_property, public_safety, public_health, natural_disaster, environment")),
        ({"emergency_category": "public_health"}, ("inconsistent_emergency", "an emergency category is given but `emergency` is false",
                                                   "emergency", "set emergency to true, or drop emergency_category")),
        ({"end_date": date(2026, 11, 30)}, ("invalid_dates", "end_date is before start_date", "end_date", None)),
        ({"minutes_per_grid": -1}, ("value_out_of_range", "`minutes_per_grid` must be a finite number ≥ 0", "minutes_per_grid", None)),
        ({"minutes_per_household": float("inf")},
         ("value_out_of_range", "`minutes_per_household` must be a finite number ≥ 0", "minutes_per_household", None)),
        ({"households": 0}, ("value_out_of_range", "`households` must be at least 1", "households", None)),
        ({"requester": "qj-civl"}, ("unknown_organization", "unknown organization `qj-civl`", "requester", "did you mean `qj-civil`?")),
        ({"kind": "care for special groups"}, ("unknown_task_kind", "unknown task kind `care for special groups`", "kind",
                                               "use the id `special_groups` for care for special groups")),
        ({"frequency": "yearly"}, ("unknown_frequency", "unknown frequency `yearly`", "frequency",
                                   "allowed: once, daily, weekly, monthly, quarterly")),
        ({"channel": "wechat"}, ("unknown_channel", "unknown channel `wechat`", "channel",
                                 "allowed: county_platform, department_app, work_group, direct_notice")),
        ({"fields": ("phone", "身份证号")}, ("unknown_data_field", "unknown data field `身份证号`", "fields.1", "use the id `id_number` for 身份证号")),
        ({"actions": ("visit", "vist")}, ("unknown_action", "unknown action `vist`", "actions.1", "did you mean `visit`?")),
        ({"emergency": True, "emergency_category": "flood"},
         ("unknown_emergency_category", "unknown emergency category `flood`", "emergency_category",
          "allowed: life_property, public_safety, public_health, natural_disaster, environment")),
    ],
)
def test_a_bad_proposal_is_refused_with_the_whole_error(changes: dict[str, Any], expected: tuple[Any, ...]) -> None:
    with pytest.raises(ProposalError) as info:
        check_proposal(SEED, GRID, dataclasses.replace(BASE, **changes))
    e = info.value
    assert (e.code, e.message, e.field, e.hint) == expected
