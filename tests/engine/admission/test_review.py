"""Grid admission review in the engine: outcomes, facts, vocabulary errors, the policy chapter.

The acceptance cases use the API's worked examples (validated with the API's own request
model), so the engine and the HTTP edge are held to the same inputs.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from api.http.schemas.admission import (
    CENSUS_EXAMPLE,
    DUPLICATE_DATA_EXAMPLE,
    EMERGENCY_EXAMPLE,
    GAS_SAFETY_EXAMPLE,
    NO_ENFORCEMENT_EXAMPLE,
    AdmissionReviewRequestV1,
)
from engine.admission.review import Proposal, compile_criteria, derive
from engine.errors import PolicyError, ProposalError
from engine.policy.grid import FACTS, grid_of
from engine.policy.load import load_policy
from engine.policy.model import Comparison
from engine.runtime import Runtime
from tests.conftest import FIXTURES, SEED_POLICY

DAY = date(2026, 11, 25)


def proposal(example: dict[str, Any], **changes: Any) -> Proposal:
    body = AdmissionReviewRequestV1.model_validate(example)
    return dataclasses.replace(body.to_proposal(DAY), **changes)


def review(rt: Runtime, example: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return rt.review(proposal(example, **changes)).to_dict()


def criteria_of(result: dict[str, Any]) -> list[str]:
    return [f["criterion"] for f in result["findings"]]


# --- the acceptance cases ----------------------------------------------------------------------


def test_enforcement_task_is_rejected_citing_no_enforcement(seed_runtime: Runtime) -> None:
    result = review(seed_runtime, NO_ENFORCEMENT_EXAMPLE)
    assert result["outcome"] == "rejected"
    assert criteria_of(result) == ["GA-03"]
    finding = result["findings"][0]
    assert finding["severity"] == "reject"
    assert "下达整改通知" in finding["message"] and "核查证照" in finding["message"]
    assert finding["basis"][0]["document"] == "中华人民共和国行政处罚法"


def test_census_assistance_with_basis_and_funding_is_admitted(seed_runtime: Runtime) -> None:
    result = review(seed_runtime, CENSUS_EXAMPLE)
    assert result["outcome"] == "admitted" and result["outcome_label"] == "准予进入网格"
    assert result["findings"] == [] and result["reuse"] == []
    assert result["reference"] == "QJ-GRID-2026-031"
    assert result["as_of"] == "2026-10-20"  # the proposal's own as_of wins over the default


def test_gas_safety_check_without_funding_is_returned(seed_runtime: Runtime) -> None:
    result = review(seed_runtime, GAS_SAFETY_EXAMPLE)
    assert result["outcome"] == "returned"
    assert criteria_of(result) == ["GA-04", "GA-14"]  # return before note
    funded = review(seed_runtime, GAS_SAFETY_EXAMPLE, funding=True)
    assert funded["outcome"] == "admitted" and criteria_of(funded) == ["GA-14"]


def test_duplicate_collection_is_rejected_with_fields_to_reuse(seed_runtime: Runtime) -> None:
    result = review(seed_runtime, DUPLICATE_DATA_EXAMPLE)
    assert result["outcome"] == "rejected" and criteria_of(result) == ["GA-06"]
    assert [r["field"] for r in result["reuse"]] == ["name", "id_number", "phone", "household_address", "household_size"]
    assert result["reuse"][1] == {"field": "id_number", "name": "公民身份号码", "table": "人口信息", "source": "公安户籍"}
    assert "姓名、公民身份号码、联系电话、户籍地址、家庭人口数" in result["findings"][0]["message"]


def test_emergency_is_admitted_with_filing_and_waivers(seed_runtime: Runtime) -> None:
    result = review(seed_runtime, EMERGENCY_EXAMPLE)
    assert result["outcome"] == "admitted"
    assert criteria_of(result) == ["GA-13", "GA-14"]
    assert result["filing_due"] == "2026-09-17"
    # The same task without the emergency: no basis, no funding, no training, a chat group.
    ordinary = review(seed_runtime, EMERGENCY_EXAMPLE, emergency=False, emergency_category=None)
    assert ordinary["outcome"] == "rejected"
    assert criteria_of(ordinary) == ["GA-12", "GA-01", "GA-04", "GA-05", "GA-14"]
    assert ordinary["filing_due"] is None


# --- facts and outcome rules -------------------------------------------------------------------


def test_derived_facts(seed_runtime: Runtime) -> None:
    facts = review(seed_runtime, GAS_SAFETY_EXAMPLE)["facts"]
    assert facts["duration_days"] == 62  # 2026-12-01 .. 2027-01-31, both days counted
    assert facts["households"] == 150
    # 150 households × 15 min once, spread over 62 days → 2250 × 30/62 per month
    assert facts["minutes_per_grid_month"] == 1089 and facts["capacity_used_pct"] == 91
    assert facts["new_field_count"] == 3 and facts["duplicate_field_count"] == 0
    assert facts["funding"] is False and facts["basis_sufficient"] is True
    assert set(facts) <= set(FACTS)


def test_recurring_task_shorter_than_a_month_counts_only_its_days(seed_runtime: Runtime) -> None:
    facts = review(seed_runtime, EMERGENCY_EXAMPLE)["facts"]
    assert facts["minutes_per_grid_month"] == 40 * 5 * 3  # daily for three days
    open_ended = review(seed_runtime, EMERGENCY_EXAMPLE, end_date=None)["facts"]
    assert open_ended["minutes_per_grid_month"] == 40 * 5 * 30 and "duration_days" not in open_ended


def test_text_reveals_undeclared_enforcement(seed_runtime: Runtime) -> None:
    result = review(seed_runtime, NO_ENFORCEMENT_EXAMPLE, actions=())
    assert result["outcome"] == "rejected" and criteria_of(result) == ["GA-03"]
    assert "(据“整改通知”)" in result["findings"][0]["message"]
    assert result["task"]["actions"] == ["order_rectification", "verify_license"]


def test_outcome_precedence(seed_runtime: Runtime) -> None:
    both = review(seed_runtime, GAS_SAFETY_EXAMPLE, assesses_grid_workers=True)
    assert both["outcome"] == "rejected"
    assert [f["severity"] for f in both["findings"]] == ["reject", "return", "note"]


def test_review_is_frozen_and_serialisable(seed_runtime: Runtime) -> None:
    result = seed_runtime.review(proposal(CENSUS_EXAMPLE))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.outcome = "rejected"  # type: ignore[misc]
    assert result.to_dict()["policy"]["digest"] == seed_runtime.policy.digest


# --- vocabulary errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code", "field", "hint"),
    [
        ({"kind": "隐患排查"}, "unknown_task_kind", "kind", "use the id `hazard_check` for 隐患排查"),
        ({"kind": "hazard_chek"}, "unknown_task_kind", "kind", "did you mean `hazard_check`?"),
        ({"requester": "区市场监管局"}, "unknown_organization", "requester", "use the id `qj-market`"),
        ({"fields": ("phone", "身份证号")}, "unknown_data_field", "fields.1", "use the id `id_number`"),
        ({"actions": ("patrol",)}, "unknown_action", "actions.0", "allowed:"),
        ({"channel": "wechat"}, "unknown_channel", "channel", "allowed:"),
        ({"frequency": "yearly"}, "unknown_frequency", "frequency", "allowed:"),
        ({"emergency": True}, "missing_emergency_category", "emergency_category", "natural_disaster"),
        ({"emergency_category": "flood"}, "inconsistent_emergency", "emergency", None),
        ({"emergency": True, "emergency_category": "flood"}, "unknown_emergency_category", "emergency_category", None),
        ({"end_date": date(2026, 11, 1)}, "invalid_dates", "end_date", None),
        ({"minutes_per_household": float("nan")}, "value_out_of_range", "minutes_per_household", None),
    ],
)
def test_unknown_vocabulary_is_a_typed_error(
    seed_runtime: Runtime, changes: dict[str, Any], code: str, field: str, hint: str | None
) -> None:
    with pytest.raises(ProposalError) as info:
        seed_runtime.review(proposal(NO_ENFORCEMENT_EXAMPLE, **changes))
    assert (info.value.code, info.value.field) == (code, field)
    if hint:
        assert info.value.hint and hint in info.value.hint, info.value.hint


def test_basis_level_is_checked(seed_runtime: Runtime) -> None:
    example = {**CENSUS_EXAMPLE, "basis": [{"document": "统计法", "level": "statute"}]}
    with pytest.raises(ProposalError) as info:
        seed_runtime.review(proposal(example))
    assert info.value.code == "unknown_basis_level" and info.value.field == "basis.0.level"


def test_policy_without_grid_chapter_refuses_reviews() -> None:
    rt = Runtime.from_dir(FIXTURES / "haiwan")
    with pytest.raises(ProposalError) as info:
        rt.review(proposal(CENSUS_EXAMPLE))
    assert info.value.code == "no_grid_admission"


# --- durable_rules agrees with a plain reading of the criteria --------------------------------


def _holds(test: Comparison, value: Any) -> bool:
    op, expected = test.operator
    if value is None:
        return op in ("ne", "not_in")  # durable_rules: a missing fact fails every test but these
    if op == "eq":
        return bool(value == expected and type(value) is type(expected))
    if op == "ne":
        return bool(value != expected)
    if op == "in":
        return value in expected  # type: ignore[operator]
    if op == "not_in":
        return value not in expected  # type: ignore[operator]
    return bool({"gt": value > expected, "gte": value >= expected, "lt": value < expected, "lte": value <= expected}[op])  # type: ignore[operator]


def test_durable_rules_fires_exactly_the_criteria_that_hold(seed_runtime: Runtime) -> None:
    """500 random proposals: the engine's fired set equals a direct evaluation in Python."""
    grid = grid_of(seed_runtime.policy)
    assert grid is not None
    rng = random.Random(4)
    fields, actions = list(grid.fields), list(grid.actions)
    for _ in range(500):
        emergency = rng.random() < 0.2
        start = date(2026, rng.randint(1, 12), rng.randint(1, 28))
        p = proposal(
            CENSUS_EXAMPLE,
            kind=rng.choice(list(grid.kinds)),
            requester=rng.choice(["qj-stats", "qj-market", "gaojia", "qj-centre"]),
            basis=tuple(proposal(CENSUS_EXAMPLE).basis[: rng.randint(0, 2)]),
            funding=rng.random() < 0.5,
            training=rng.random() < 0.5,
            start_date=start,
            end_date=None if rng.random() < 0.2 else date.fromordinal(start.toordinal() + rng.randint(0, 200)),
            frequency=rng.choice(list(grid.frequencies)),
            minutes_per_household=rng.choice([0, 1, 2.5, 5, 15]),
            households=rng.choice([None, 20, 150, 480]),
            fields=tuple(rng.sample(fields, rng.randint(0, 4))),
            actions=tuple(rng.sample(actions, rng.randint(0, 3))),
            channel=rng.choice(list(grid.channels)),
            assesses_grid_workers=rng.random() < 0.2,
            emergency=emergency,
            emergency_category=rng.choice(list(grid.emergency_categories)) if emergency else None,
        )
        facts = derive(seed_runtime.policy, grid, p).facts
        expected = [c.id for c in grid.criteria if all(_holds(t, facts.get(k)) for k, t in c.tests().items())]
        assert list(seed_runtime.review(p).fired) == expected, facts


# --- the policy chapter -----------------------------------------------------------------------


def test_criteria_compile_to_one_guarded_ruleset(seed_runtime: Runtime) -> None:
    compiled = compile_criteria(seed_runtime.policy)
    assert compiled is not None and list(compiled.shards) == ["grid_criteria"]
    rules = compiled.shards["grid_criteria"]
    assert len(rules) >= 10
    for rule in rules.values():
        assert rule["all"][0]["m"]["$and"][0] == {"$ex": {"decision_id": 1}}
    assert rules["criterion.GA-08"]["all"][0]["m"]["$and"][1] == {"$gt": {"duration_days": 90}}
    assert seed_runtime.active.criteria is not None


def copy_policy(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_thresholds_live_in_the_policy(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    edit(target / "grid" / "criteria.yaml", "when: {duration_days: {gt: 90}}", "when: {duration_days: {gt: 30}}")
    rt = Runtime.from_dir(target)
    assert criteria_of(review(rt, GAS_SAFETY_EXAMPLE, funding=True)) == ["GA-08", "GA-14"]


def test_swap_replaces_the_criteria(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    rt = Runtime.from_dir(target)
    assert review(rt, GAS_SAFETY_EXAMPLE)["outcome"] == "returned"
    edit(target / "grid" / "criteria.yaml", "severity: return\n    when: {funding: false", "severity: note\n    when: {funding: false")
    rt.swap(load_policy(target), str(target))
    assert review(rt, GAS_SAFETY_EXAMPLE)["outcome"] == "admitted"
    edit(target / "grid" / "criteria.yaml", "severity: note\n    when: {funding: false", "severity: reject\n    when: {funding: false")
    rt.swap(load_policy(target), str(target))  # the first version's rulesets are dropped now
    assert review(rt, GAS_SAFETY_EXAMPLE)["outcome"] == "rejected"


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        ("criteria.yaml", "when: {has_end_date: false}", "when: {has_end_dat: false}",
         "grid/criteria.yaml:89: GA-07: condition on unknown fact `has_end_dat` (did you mean `has_end_date`?)"),
        ("criteria.yaml", "when: {has_end_date: false}", "when: {has_end_date: 0}",
         "grid/criteria.yaml:89: GA-07: condition on `has_end_date` must be true or false"),
        ("criteria.yaml", "when: {kind_in_grid_functions: false}", "when: {kind: patrol}",
         "GA-02: `patrol` is not an allowed value of `kind`"),
        ("criteria.yaml", "when: {assesses_grid_workers: true}", "when: {assesses_grid_workers: {gt: 0}}",
         "GA-11: `gt` compares numbers but `assesses_grid_workers` is not numeric"),
        ("criteria.yaml", "{duration_days} 天", "{duration_day} 天",
         "GA-08: message uses unknown name `{duration_day}` (did you mean `duration_days`?)"),
        ("admission.yaml", "reviewer: qj-centre", "reviewer: qj-center",
         "grid/admission.yaml: `grid_admission.reviewer` names unknown organization `qj-center` (did you mean `qj-centre`?)"),
        ("criteria.yaml", "  - id: GA-02", "  - id: GA-01", "grid_criteria id `GA-01` is defined twice"),
        ("criteria.yaml", "severity: reject\n    when: {power", "severity: block\n    when: {power",
         "GA-03: `grid_criteria.severity`: input should be 'reject', 'return' or 'note'"),
    ],
)
def test_bad_chapter_is_rejected_with_file_line_and_id(tmp_path: Path, file: str, old: str, new: str, expected: str) -> None:
    target = copy_policy(tmp_path)
    edit(target / "grid" / file, old, new)
    with pytest.raises(PolicyError) as info:
        load_policy(target)
    lines = [f.render() for f in info.value.findings]
    assert any(expected in line for line in lines), lines


def test_grid_sections_without_settings_are_reported(tmp_path: Path) -> None:
    target = copy_policy(tmp_path)
    (target / "grid" / "admission.yaml").unlink()
    with pytest.raises(PolicyError) as info:
        load_policy(target)
    assert "exactly one file must hold the `grid_admission:` section" in str(info.value)
