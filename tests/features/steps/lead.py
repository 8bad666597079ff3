"""Step definitions for the "who leads this case" features (zh-CN Gherkin).

Organizations and townships may be named by id or by their Chinese name, so auditors can
read scenarios against the published list. Every scenario tagged `@rule:ID` must really
fire that clause: the tag is checked against the engine's fired ids after the scenario.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, then, when

from engine.errors import CaseError
from engine.lead.decision import Case
from engine.policy.index import Policy
from tests.conftest import FIXTURES, SEED_POLICY, record_decision, runtime_for

TAG_PREFIXES = ("rule:", "chapter:")


@dataclass
class CaseContext:
    policy_dir: Path = SEED_POLICY
    township: str | None = None
    matter: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    as_of: date = date(2026, 11, 1)
    decision: dict[str, Any] | None = None
    error: CaseError | None = None
    response: Any = None
    fired: set[str] = field(default_factory=set)
    text: str | None = None  # intake: the ticket's words and place (tests/features/steps/intake.py)
    place: str | None = None

    @property
    def policy(self) -> Policy:
        return runtime_for(self.policy_dir).policy


@pytest.fixture
def ctx() -> CaseContext:
    return CaseContext()


def pytest_bdd_apply_tag(tag: str, function: Any) -> bool | None:
    """`@rule:ID` and `@chapter:NAME` are traceability tags, not pytest markers."""
    return True if tag.startswith(TAG_PREFIXES) else None


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    tagged = {t.split(":", 1)[1] for t in scenario.tags if t.startswith("rule:")}
    if not tagged:
        return
    context: CaseContext = request.getfixturevalue("ctx")
    missing = tagged - context.fired
    assert not missing, f"scenario `{scenario.name}` is tagged with {sorted(missing)} but they did not fire"


def org_id(policy: Policy, text: str) -> str:
    """An organization given by id, full name or short name."""
    if text in policy.organizations:
        return text
    for org in policy.organizations.values():
        if text in (org.name, org.short_name, org.name_en):
            return org.id
    raise AssertionError(f"no organization `{text}` in the policy")


def _value(raw: str) -> Any:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return value if isinstance(value, bool | int | float) else raw


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace("、", ",").split(",") if p.strip()]


# --- given -------------------------------------------------------------------------

@given("使用衢江区示例政策")
def seed_policy(ctx: CaseContext) -> None:
    ctx.policy_dir = SEED_POLICY


@given(parsers.parse('使用政策目录"{name}"'))
def fixture_policy(ctx: CaseContext, name: str) -> None:
    ctx.policy_dir = FIXTURES / name


@given(parsers.parse('案件事项为"{matter}"'))
def case_matter(ctx: CaseContext, matter: str) -> None:
    policy = ctx.policy
    by_name = {m.name: m.id for m in policy.matters.values()}
    ctx.matter = by_name.get(matter, matter)


@given("案件未指明事项")
def case_without_matter(ctx: CaseContext) -> None:
    ctx.matter = None


@given(parsers.parse('案件发生在"{township}"'))
def case_township(ctx: CaseContext, township: str) -> None:
    try:
        ctx.township = org_id(ctx.policy, township)
    except AssertionError:
        ctx.township = township  # unknown on purpose: the decision must reject it


@given(parsers.parse('案件属性"{key}"为"{value}"'))
def case_attribute(ctx: CaseContext, key: str, value: str) -> None:
    parsed = _value(value)
    if key in ctx.policy.attributes and ctx.policy.attributes[key].type.value == "township":
        parsed = org_id(ctx.policy, value)
    ctx.attributes[key] = parsed


@given(parsers.parse('判定日期为"{day}"'))
def case_date(ctx: CaseContext, day: str) -> None:
    ctx.as_of = date.fromisoformat(day)


# --- when --------------------------------------------------------------------------

@when("判定牵头单位")
def decide_lead(ctx: CaseContext) -> None:
    assert ctx.township is not None, "the scenario must say where the case happened"
    case = Case(township=ctx.township, matter=ctx.matter, attributes=dict(ctx.attributes), as_of=ctx.as_of)
    try:
        ctx.decision = runtime_for(ctx.policy_dir).decide(case).to_dict()
    except CaseError as exc:
        ctx.error = exc
        return
    ctx.fired |= set(ctx.decision["fired"])
    record_decision(ctx.policy_dir, ctx.decision)


@when(parsers.parse("通过接口提交案件:"))
def post_case(ctx: CaseContext, client: TestClient, docstring: str) -> None:
    ctx.response = client.post("/v1/cases/lead", content=docstring.encode(), headers={"content-type": "application/json"})


# --- then --------------------------------------------------------------------------

def _decision(ctx: CaseContext) -> dict[str, Any]:
    assert ctx.error is None, f"the case was rejected: {ctx.error.code}: {ctx.error.message}"
    assert ctx.decision is not None
    return ctx.decision


@then(parsers.parse('结果为"{outcome}"'))
def outcome_is(ctx: CaseContext, outcome: str) -> None:
    assert _decision(ctx)["outcome"] == outcome


@then(parsers.parse('牵头单位为"{org}"'))
def lead_is(ctx: CaseContext, org: str) -> None:
    lead = _decision(ctx)["lead"]
    assert lead["id"] == org_id(ctx.policy, org), f"lead is {lead['name']} ({lead['id']})"


@then(parsers.parse('配合单位包括"{orgs}"'))
def supports_include(ctx: CaseContext, orgs: str) -> None:
    supports = {s["id"] for s in _decision(ctx)["supports"]}
    for org in _split(orgs):
        assert org_id(ctx.policy, org) in supports, f"{org} not among supports {sorted(supports)}"


@then(parsers.parse('配合单位不包括"{org}"'))
def supports_exclude(ctx: CaseContext, org: str) -> None:
    supports = {s["id"] for s in _decision(ctx)["supports"]}
    assert org_id(ctx.policy, org) not in supports


@then(parsers.parse('协调单位为"{org}"'))
def coordinator_is(ctx: CaseContext, org: str) -> None:
    coordinator = _decision(ctx)["coordinator"]
    assert coordinator is not None and coordinator["id"] == org_id(ctx.policy, org)


@then(parsers.parse('适用规则为"{rule}"'))
def rule_is(ctx: CaseContext, rule: str) -> None:
    assert _decision(ctx)["rule"]["id"] == rule


@then(parsers.parse('规则"{rule}"的判定为"{result}"'))
def rule_result(ctx: CaseContext, rule: str, result: str) -> None:
    results = {e["rule"]: e["result"] for e in _decision(ctx)["explanation"]}
    assert results.get(rule) == result, f"explanation: {results}"


@then(parsers.parse('时限"{key}"为"{value}"'))
def time_limit_is(ctx: CaseContext, key: str, value: str) -> None:
    assert _decision(ctx)["time_limits"].get(key) == value


@then(parsers.parse('乡镇职责包括"{duty}"'))
def duty_included(ctx: CaseContext, duty: str) -> None:
    assert duty in _decision(ctx)["township"]["duties"]


@then(parsers.parse('候选牵头单位为"{orgs}"'))
def candidates_are(ctx: CaseContext, orgs: str) -> None:
    candidates = [c["id"] for c in _decision(ctx)["candidates"]]
    assert candidates == [org_id(ctx.policy, o) for o in _split(orgs)]


@then(parsers.parse('仲裁单位为"{org}"'))
def arbiter_is(ctx: CaseContext, org: str) -> None:
    arbiter = _decision(ctx)["arbiter"]
    assert arbiter is not None and arbiter["id"] == org_id(ctx.policy, org)


@then(parsers.parse('说明中提到"{text}"'))
def explanation_mentions(ctx: CaseContext, text: str) -> None:
    decision = _decision(ctx)
    lines = [e["reason"] for e in decision["explanation"]] + decision["notes"]
    assert any(text in line for line in lines), f"`{text}` not in {lines}"


@then(parsers.parse('判定被拒绝, 错误代码为"{code}"'))
def case_rejected(ctx: CaseContext, code: str) -> None:
    assert ctx.error is not None, "the case was decided but should have been rejected"
    assert ctx.error.code == code


@then(parsers.parse('返回状态{status:d}, 错误代码为"{code}"'))
def http_error(ctx: CaseContext, status: int, code: str) -> None:
    assert ctx.response.status_code == status, ctx.response.text
    assert ctx.response.json()["error"]["code"] == code


@then(parsers.parse('错误字段为"{field_name}"'))
def http_error_field(ctx: CaseContext, field_name: str) -> None:
    assert ctx.response.json()["error"].get("field") == field_name


@then(parsers.parse('错误提示包含"{text}"'))
def http_error_hint(ctx: CaseContext, text: str) -> None:
    hint = ctx.response.json()["error"].get("hint") or ""
    assert text in hint, hint
