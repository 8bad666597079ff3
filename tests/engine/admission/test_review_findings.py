"""Admission review in detail: the workload arithmetic, actions the text reveals, emergency
categories and criteria date windows reaching durable_rules, and every message compared whole.

Each review here also passes the test-helper rule of tests/support/messages.py: no criterion
message of the policy has a placeholder that would render as "—".
"""

from __future__ import annotations

import dataclasses
import importlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.admission import BasisRef, Proposal
from engine.errors import CompileError, ProposalError
from engine.policy.load import load_policy
from tests.conftest import FIXTURES, SEED_POLICY
from tests.support.messages import assert_fully_rendered
from tests.support.policy_edit import copy_with_edit
from tests.support.reviews import Reviewer

DAY = date(2026, 11, 25)
LAW = BasisRef("中华人民共和国老年人权益保障法", "law")
# An admissible task: monthly visits to 100 households, 2 minutes each, for December.
BASE = Proposal(
    title="入户核对独居老人信息",
    requester="qj-civil",
    kind="special_groups",
    start_date=date(2026, 12, 1),
    end_date=date(2026, 12, 31),
    frequency="monthly",
    minutes_per_household=2,
    channel="county_platform",
    as_of=DAY,
    basis=(LAW,),
    funding=True,
    training=True,
    households=100,
    actions=("visit",),
)


def review(reviewer: Reviewer, **changes: Any) -> dict[str, Any]:
    proposal = dataclasses.replace(BASE, **changes)
    assert_fully_rendered(reviewer.policy, proposal)
    return reviewer(proposal).to_dict()


@pytest.fixture(scope="module")
def seed() -> Reviewer:
    """The seed policy's criteria in durable_rules (tests/support/reviews.py: no whole Runtime)."""
    return Reviewer(load_policy(SEED_POLICY))


def findings(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(f["criterion"], f["severity"], f["message"]) for f in result["findings"]]


# --- the workload --------------------------------------------------------------------------


def test_an_admissible_task_and_all_its_facts(seed: Reviewer) -> None:
    result = review(seed)
    assert (result["outcome"], result["outcome_label"], result["findings"], result["reuse"]) == ("admitted", "准予进入网格", [], [])
    assert result["facts"] == {
        "kind": "special_groups", "kind_in_grid_functions": True, "kind_needs_training": False,
        "requester_kind": "department", "basis_count": 1, "basis_sufficient": True, "funding": True,
        "training": True, "has_end_date": True, "frequency": "monthly", "households": 100,
        "minutes_per_grid_month": 200, "capacity_used_pct": 17, "field_count": 0, "duplicate_field_count": 0,
        "new_field_count": 0, "power_action_count": 0, "formalism_action_count": 0, "channel": "county_platform",
        "channel_approved": True, "assesses_grid_workers": False, "emergency": False, "duration_days": 31,
    }  # fmt: skip
    assert result["task"] == {
        "title": "入户核对独居老人信息", "requester": {"id": "qj-civil", "name": "衢江区民政局"},
        "kind": {"id": "special_groups", "name": "特殊人群关爱"}, "start_date": "2026-12-01",
        "end_date": "2026-12-31", "actions": ["visit"],
    }  # fmt: skip
    assert (result["filing_due"], result["fired"], result["reference"]) == (None, [], None)
    assert result["policy"] == {"id": "qujiang", "version": seed.policy.version, "digest": seed.policy.digest}
    assert result["as_of"] == "2026-11-25"


def test_one_sufficient_basis_is_enough_and_fields_count_once(seed: Reviewer) -> None:
    notice = BasisRef("某局通知", "department_notice")
    result = review(seed, basis=(notice, LAW), fields=("gas_alarm", "gas_alarm"), reference="QJ-GRID-7")
    facts = result["facts"]
    assert (facts["basis_count"], facts["basis_sufficient"]) == (2, True)
    assert (facts["field_count"], facts["new_field_count"], result["reference"]) == (1, 1, "QJ-GRID-7")
    assert result["findings"][0] == {
        "criterion": "GA-14", "title": "新增采集字段纳入一表通", "severity": "note",
        "message": "拟采集的燃气报警器安装情况尚未纳入“一表通”; 准入后由网格统一采集并纳入一表通, 供各部门共享复用",
        "basis": [{"document": "杭州市上城区\"一表通\"报道(2021)", "url": "https://wap.265xx.com/w405/414941.html"}],
    }  # fmt: skip
    without = review(seed, basis=())
    assert findings(without) == [
        ("GA-01", "return", "未附法律法规或县级以上党委政府文件依据(所附依据：无); 请补充依据后重新提交"),
    ]


def test_a_cited_basis_serialises_with_its_article_when_given() -> None:
    assert BasisRef("统计法", "law", "第七条").to_dict() == {"document": "统计法", "level": "law", "article": "第七条"}
    assert BasisRef("统计法", "law").to_dict() == {"document": "统计法", "level": "law"}


def test_over_capacity_is_returned_with_the_figures(seed: Reviewer) -> None:
    result = review(seed, frequency="once", end_date=None, households=None, minutes_per_household=3, minutes_per_grid=1)
    assert result["outcome"] == "returned"
    assert findings(result) == [
        ("GA-07", "return", "未明确截止日期; 临时性任务须写明起止时间, 到期自动退出网格"),
        ("GA-09", "return", "预计每网格每月用时 1201 分钟, 为单项任务容量 1200 分钟的 101%; 请压减范围、频次或另行配备力量"),
    ]
    assert (result["facts"]["has_end_date"], "duration_days" in result["facts"]) == (False, False)
    exactly_full = review(seed, frequency="once", end_date=None, households=None, minutes_per_household=3)
    assert [f[0] for f in findings(exactly_full)] == ["GA-07"]  # 100 % is within capacity


# --- actions, powers and formalism -------------------------------------------------------------


def test_actions_named_only_in_the_description_are_found(seed: Reviewer) -> None:
    result = review(seed, description="走访时请拍照签到并在群内报数", actions=())
    assert result["outcome"] == "rejected"
    assert findings(result) == [
        ("GA-10", "reject", "任务要求拍照打卡(据“拍照签到”)、工作群接龙报数(据“群内报数”), 属于以留痕代替实绩的“指尖上的形式主义”, 不得要求网格员"),
    ]
    assert result["task"]["actions"] == ["photo_check_in", "group_relay"]
    assert result["facts"]["formalism_action_count"] == 2 and result["facts"]["power_action_count"] == 0


def test_declared_actions_are_named_without_a_source(seed: Reviewer) -> None:
    result = review(seed, actions=("verify_license", "photo_check_in"))
    assert findings(result) == [
        ("GA-03", "reject", "任务要求网格员核查证照, 属于行政执法或行政检查权, 网格员不具备执法资格; 网格员只承担发现、劝导、上报, 查处由申请部门或乡镇(街道)综合行政执法队实施"),
        ("GA-10", "reject", "任务要求拍照打卡, 属于以留痕代替实绩的“指尖上的形式主义”, 不得要求网格员"),
    ]
    assert result["task"]["actions"] == ["verify_license", "photo_check_in"]


def test_a_task_kind_with_power_is_itself_a_power(seed: Reviewer) -> None:
    result = review(seed, kind="enforcement")
    assert findings(result) == [
        ("GA-02", "reject", "“行政执法”不属于网格职责范围(信息采集、隐患排查、矛盾调解、政策宣传、服务群众等), 不得交由网格承担"),
        ("GA-03", "reject", "任务要求网格员承担“行政执法”, 属于行政执法或行政检查权, 网格员不具备执法资格; 网格员只承担发现、劝导、上报, 查处由申请部门或乡镇(街道)综合行政执法队实施"),
    ]
    assert result["facts"]["power_action_count"] == 1


# --- every criterion's message, whole ----------------------------------------------------------


def test_every_returned_and_rejected_message_whole(seed: Reviewer) -> None:
    result = review(
        seed,
        end_date=date(2027, 6, 30),
        fields=("name", "phone", "gas_alarm"),
        assesses_grid_workers=True,
        channel="department_app",
        basis=(BasisRef("某局通知", "department_notice"),),
        kind="hazard_check",
        training=False,
        funding=False,
    )
    assert (result["outcome"], result["outcome_label"]) == ("rejected", "不予准入")
    assert findings(result) == [
        ("GA-06", "reject", "拟采集的姓名、联系电话已在网格“一表通”中, 不得让网格员重复采集; 请向衢江区社会治理中心申请共享复用"),
        ("GA-11", "reject", "申请部门拟对网格员单独考核、排名或通报; 准入事项由县级统一考核, 部门不得另行考核网格"),
        ("GA-12", "reject", "任务拟经“部门自建App直接派发”下派; 网格事项须经县级审查后由“县级审查后经基层治理四平台统一派单”统一派发, 请经该渠道重新提交"),
        ("GA-01", "return", "未附法律法规或县级以上党委政府文件依据(所附依据：部门通知或工作方案); 请补充依据后重新提交"),
        ("GA-04", "return", "未落实工作经费(费随事转); 请明确经费来源和标准后重新提交"),
        ("GA-05", "return", "“隐患排查”需要专业知识, 申请部门未安排业务培训; 请明确培训安排后重新提交"),
        ("GA-08", "return", "任务期限 212 天, 超过临时性任务 90 天上限; 常态化事项应申请纳入网格准入清单"),
        ("GA-14", "note", "拟采集的燃气报警器安装情况尚未纳入“一表通”; 准入后由网格统一采集并纳入一表通, 供各部门共享复用"),
    ]
    assert result["fired"] == ["GA-01", "GA-04", "GA-05", "GA-06", "GA-08", "GA-11", "GA-12", "GA-14"]
    assert result["reuse"] == [
        {"field": "name", "name": "姓名", "table": "人口信息", "source": "公安户籍与网格走访"},
        {"field": "phone", "name": "联系电话", "table": "人口信息", "source": "网格走访"},
    ]
    facts = result["facts"]
    assert (facts["field_count"], facts["duplicate_field_count"], facts["new_field_count"]) == (3, 2, 1)
    assert (facts["basis_count"], facts["basis_sufficient"], facts["duration_days"]) == (1, False, 212)


def test_a_task_outside_the_grid_functions_is_named(seed: Reviewer) -> None:
    assert findings(review(seed, kind="reporting")) == [
        ("GA-02", "reject", "“报表填报”不属于网格职责范围(信息采集、隐患排查、矛盾调解、政策宣传、服务群众等), 不得交由网格承担"),
    ]


def test_an_emergency_is_admitted_with_its_category_and_filing_date(seed: Reviewer) -> None:
    result = review(seed, emergency=True, emergency_category="natural_disaster", funding=False, basis=(), channel="work_group")
    assert (result["outcome"], result["filing_due"]) == ("admitted", "2026-12-08")  # start + 7 filing days
    assert findings(result) == [
        ("GA-13", "note", "紧急事项(自然灾害(防汛防台等))先行进入网格, 免于事前审查; 申请部门须于 2026-12-08 前向衢江区社会治理中心补办备案"),
    ]
    assert (result["facts"]["emergency"], result["facts"]["emergency_category"]) == (True, "natural_disaster")
    assert result["facts"]["channel_approved"] is False and result["facts"]["basis_count"] == 0


# --- criteria that test the emergency category, and criteria in force for a while -------------


@pytest.fixture(scope="module")
def edited(tmp_path_factory: pytest.TempPathFactory) -> Reviewer:
    """GA-13 limited to public-health emergencies; GA-14 in force during December 2026 only."""
    first = copy_with_edit(SEED_POLICY, tmp_path_factory.mktemp("p") / "policy", "grid_criteria", "GA-13",
                           when={"emergency": True, "emergency_category": "public_health"})
    second = copy_with_edit(Path(first), tmp_path_factory.mktemp("q") / "policy", "grid_criteria", "GA-14",
                            valid_from="2026-12-01", valid_until="2027-01-01")
    return Reviewer(load_policy(second))


def test_criteria_see_the_emergency_category(edited: Reviewer) -> None:
    health = review(edited, emergency=True, emergency_category="public_health")
    assert [f[0] for f in findings(health)] == ["GA-13"]
    assert "突发公共卫生事件" in findings(health)[0][2]
    assert findings(review(edited, emergency=True, emergency_category="natural_disaster")) == []


@pytest.mark.parametrize(
    ("as_of", "fires"),
    [(date(2026, 11, 30), False), (date(2026, 12, 1), True), (date(2026, 12, 31), True), (date(2027, 1, 1), False)],
)
def test_criteria_apply_only_while_in_force(edited: Reviewer, as_of: date, fires: bool) -> None:
    result = review(edited, fields=("gas_alarm",), as_of=as_of)
    assert ("GA-14" in result["fired"]) is fires
    assert result["as_of"] == as_of.isoformat()


# --- the proposal's vocabulary: whole errors --------------------------------------------------


def test_a_policy_without_the_chapter_refuses_reviews_whole() -> None:
    with pytest.raises(ProposalError) as info:
        Reviewer(load_policy(FIXTURES / "haiwan"))(BASE)
    e = info.value
    assert (e.code, e.message, e.field, e.hint) == (
        "no_grid_admission", "policy `haiwan` has no grid admission chapter", None,
        "add grid_admission, grid_fields and grid_criteria under policy/grid/",
    )


def test_the_criteria_compile_up_to_the_sibling_limit(seed: Reviewer, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module("engine.admission.review")  # the facade's `review` is the function

    compiled = module.compile_criteria(seed.policy)
    assert compiled is not None
    firsts = {repr(r["all"][0]["m"]["$and"][1]) for r in compiled.shards[module.CRITERIA_SHARD].values()}
    monkeypatch.setattr(module, "MAX_SIBLINGS", len(firsts))
    assert module.compile_criteria(seed.policy) is not None
    monkeypatch.setattr(module, "MAX_SIBLINGS", len(firsts) - 1)
    with pytest.raises(CompileError, match=f"^{len(firsts)} distinct first tests among the grid criteria; the engine hangs above 512$"):
        module.compile_criteria(seed.policy)
