"""Step definitions for the grid admission feature (事务进网格准入审查, zh-CN Gherkin).

A proposal is written as a two-column table (项目 | 内容) in the auditors' words: bodies,
task kinds, fields, actions, channels and frequencies by their Chinese names, which the
steps look up in the policy's vocabulary, so a scenario reads like the application form.
The table becomes the API request body; "提交准入审查" validates it with the API's request
model and reviews it in the engine, "通过接口提交准入审查" POSTs it to the running app.
Every scenario tagged `@criterion:ID` must really fire that criterion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, then, when

from api.http.schemas.admission import AdmissionReviewRequestV1
from engine.errors import ProposalError
from engine.policy.grid import GridPolicy, grid_of
from engine.policy.index import Policy
from tests.conftest import SEED_POLICY, record_review, runtime_for
from tests.features.steps.lead import CaseContext, org_id

YES = {"有", "是", "true"}
NO = {"无", "否", "false"}
NONE = {"无", "", "-"}
DEFAULT_DAY = date(2026, 11, 25)  # the review date when the form gives no 审查日期


@dataclass
class ReviewContext:
    form: dict[str, str] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: ProposalError | None = None
    fired: set[str] = field(default_factory=set)

    @property
    def policy(self) -> Policy:
        return runtime_for(SEED_POLICY).policy

    @property
    def grid(self) -> GridPolicy:
        grid = grid_of(self.policy)
        assert grid is not None, "the seed policy has no grid admission chapter"
        return grid


@pytest.fixture
def review_ctx() -> ReviewContext:
    return ReviewContext()


def pytest_bdd_apply_tag(tag: str, function: Any) -> bool | None:
    """`@criterion:ID` is a traceability tag, not a pytest marker."""
    return True if tag.startswith("criterion:") else None


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    tagged = {t.split(":", 1)[1] for t in scenario.tags if t.startswith("criterion:")}
    if not tagged:
        return
    context: ReviewContext = request.getfixturevalue("review_ctx")
    missing = tagged - context.fired
    assert not missing, f"scenario `{scenario.name}` is tagged with {sorted(missing)} but they did not fire"


# --- the form → the request body ------------------------------------------------------------


def _id_of(items: Any, text: str) -> str:
    if text in items:
        return text
    for item_id, item in items.items():
        if text in (item.name, item.name_en, *getattr(item, "aliases", ())):
            return str(item_id)
    return text  # unknown on purpose: the review must reject it with a clear error


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.replace("、", ",").split(",") if p.strip()] if text.strip() not in NONE else []


def _flag(text: str) -> bool:
    assert text in YES | NO, f"`{text}`: write 有/无 or 是/否"
    return text in YES


def _number(text: str) -> int | float:
    value = json.loads(text)
    assert isinstance(value, int | float), text
    return value


def _basis(grid: GridPolicy, text: str) -> list[dict[str, str]]:
    """`文件名(层级)；文件名(层级)`, the level by its Chinese name."""
    out = []
    for part in [p.strip() for p in text.split("；") if p.strip()] if text.strip() not in NONE else []:
        document, _, level = part.rpartition("(")
        assert document and level.endswith(")"), f"`{part}`: write 文件名(层级)"
        out.append({"document": document, "level": _id_of(grid.basis_levels, level[:-1])})
    return out


def request_body(ctx: ReviewContext) -> dict[str, Any]:
    """The API request body the form describes."""
    grid, policy = ctx.grid, ctx.policy
    body: dict[str, Any] = {}
    for key, raw in ctx.form.items():
        text = raw.strip()
        if key == "标题":
            body["title"] = text
        elif key == "说明":
            body["description"] = text
        elif key == "申请单位":
            try:
                body["requester"] = org_id(policy, text)
            except AssertionError:
                body["requester"] = text
        elif key == "任务类型":
            body["kind"] = _id_of(grid.kinds, text)
        elif key == "依据":
            body["basis"] = _basis(grid, text)
        elif key == "经费":
            body["funding"] = _flag(text)
        elif key == "培训":
            body["training"] = _flag(text)
        elif key == "开始日期":
            body["start_date"] = text
        elif key == "结束日期":
            if text not in NONE:
                body["end_date"] = text
        elif key == "频次":
            body["frequency"] = _id_of(grid.frequencies, text)
        elif key == "每户用时(分钟)":
            body["minutes_per_household"] = _number(text)
        elif key == "每网格用时(分钟)":
            body["minutes_per_grid"] = _number(text)
        elif key == "涉及户数":
            body["households"] = _number(text)
        elif key == "采集字段":
            body["fields"] = [_id_of(grid.fields, n) for n in _names(text)]
        elif key == "网格员动作":
            body["actions"] = [_id_of(grid.actions, n) for n in _names(text)]
        elif key == "派发渠道":
            body["channel"] = _id_of(grid.channels, text)
        elif key == "单独考核网格员":
            body["assesses_grid_workers"] = _flag(text)
        elif key == "紧急事项":
            body["emergency"] = _flag(text)
        elif key == "紧急情形":
            if text not in NONE:
                body["emergency_category"] = _id_of(grid.emergency_categories, text)
        elif key == "审查日期":
            body["as_of"] = text
        else:
            raise AssertionError(f"unknown form item `{key}`")
    return body


# --- given ---------------------------------------------------------------------------------


@given("一份合规的任务申请:")
@given("一份任务申请:")
def proposal_form(review_ctx: ReviewContext, datatable: list[list[str]]) -> None:
    header, *rows = datatable
    assert header[:2] == ["项目", "内容"], f"the table's header must be 项目 | 内容, not {header}"
    review_ctx.form = {row[0].strip(): row[1] for row in rows}


@given(parsers.parse('将申请的"{item}"改为"{value}"'))
def change_item(review_ctx: ReviewContext, item: str, value: str) -> None:
    review_ctx.form[item] = value


# --- when ----------------------------------------------------------------------------------


def _record(review_ctx: ReviewContext, result: dict[str, Any]) -> None:
    review_ctx.result = result
    review_ctx.fired |= set(result["fired"])
    record_review(SEED_POLICY, result)


@when(parsers.re(r"(?:经引擎)?提交准入审查"))
def submit_to_engine(review_ctx: ReviewContext) -> None:
    body = AdmissionReviewRequestV1.model_validate(request_body(review_ctx))
    try:
        review = runtime_for(SEED_POLICY).review(body.to_proposal(DEFAULT_DAY))
    except ProposalError as exc:
        review_ctx.error = exc
        return
    _record(review_ctx, review.to_dict())


@when("经接口提交准入审查")
def submit_over_http(review_ctx: ReviewContext, client: TestClient) -> None:
    response = client.post("/v1/grid/admission-reviews", json=request_body(review_ctx))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["review_id"]
    _record(review_ctx, body)


@when(parsers.parse("通过接口提交准入审查:"))
def post_raw(ctx: CaseContext, client: TestClient, docstring: str) -> None:
    """Raw bytes to the endpoint; the shared error steps of tests/features/steps/lead.py check the answer."""
    ctx.response = client.post(
        "/v1/grid/admission-reviews", content=docstring.encode(), headers={"content-type": "application/json"}
    )


# --- then ----------------------------------------------------------------------------------


def _result(review_ctx: ReviewContext) -> dict[str, Any]:
    assert review_ctx.error is None, f"the proposal was refused: {review_ctx.error.code}: {review_ctx.error.message}"
    assert review_ctx.result is not None, "no review was made"
    return review_ctx.result


def _findings(review_ctx: ReviewContext) -> dict[str, dict[str, Any]]:
    return {f["criterion"]: f for f in _result(review_ctx)["findings"]}


@then(parsers.parse('审查结论为"{label}"'))
def outcome_is(review_ctx: ReviewContext, label: str) -> None:
    labels = {v: k for k, v in review_ctx.grid.settings.outcome_labels.items()}
    expected = labels.get(label, label)
    result = _result(review_ctx)
    assert result["outcome"] == expected, f"outcome {result['outcome']}; findings {list(_findings(review_ctx))}"
    assert result["outcome_label"] == label or label == expected


@then(parsers.parse('命中审查标准"{criterion}"'))
def criterion_found(review_ctx: ReviewContext, criterion: str) -> None:
    assert criterion in _findings(review_ctx), f"findings: {list(_findings(review_ctx))}"


@then(parsers.parse('未命中审查标准"{criterion}"'))
def criterion_not_found(review_ctx: ReviewContext, criterion: str) -> None:
    assert criterion not in _findings(review_ctx), f"findings: {list(_findings(review_ctx))}"


@then(parsers.parse('审查意见只有"{criteria}"'))
def only_findings(review_ctx: ReviewContext, criteria: str) -> None:
    assert list(_findings(review_ctx)) == _names(criteria)


@then("没有审查意见")
def no_findings(review_ctx: ReviewContext) -> None:
    assert _findings(review_ctx) == {}


@then(parsers.parse('审查标准"{criterion}"的处理为"{label}"'))
def severity_is(review_ctx: ReviewContext, criterion: str, label: str) -> None:
    labels = {v: k for k, v in review_ctx.grid.settings.severity_labels.items()}
    assert _findings(review_ctx)[criterion]["severity"] == labels.get(label, label)


@then(parsers.parse('审查标准"{criterion}"的意见包含"{text}"'))
def message_contains(review_ctx: ReviewContext, criterion: str, text: str) -> None:
    message = _findings(review_ctx)[criterion]["message"]
    assert text in message, message


@then(parsers.parse('审查标准"{criterion}"引用依据"{document}"'))
def basis_cited(review_ctx: ReviewContext, criterion: str, document: str) -> None:
    documents = [b["document"] for b in _findings(review_ctx)[criterion]["basis"]]
    assert document in documents, documents


@then(parsers.parse('可复用字段为"{names}"'))
def reuse_is(review_ctx: ReviewContext, names: str) -> None:
    assert [r["name"] for r in _result(review_ctx)["reuse"]] == _names(names)


@then("没有可复用字段")
def no_reuse(review_ctx: ReviewContext) -> None:
    assert _result(review_ctx)["reuse"] == []


@then(parsers.parse('补办备案期限为"{day}"'))
def filing_due(review_ctx: ReviewContext, day: str) -> None:
    assert _result(review_ctx)["filing_due"] == day


@then(parsers.parse('申请被拒绝审查, 错误代码为"{code}"'))
def proposal_refused(review_ctx: ReviewContext, code: str) -> None:
    assert review_ctx.error is not None, "the proposal was reviewed but should have been refused"
    assert review_ctx.error.code == code


@then(parsers.parse('推导事实"{name}"为{value}'))
def fact_is(review_ctx: ReviewContext, name: str, value: str) -> None:
    assert _result(review_ctx)["facts"].get(name) == json.loads(value)
