"""Step definitions for the intake feature (受理: from a ticket's words and place, zh-CN Gherkin).

A scenario gives the ticket's words (诉求原文) and maybe a place (地点) as a 12345 system
would, and POSTs them to the running app's `POST /v1/cases/lead`: the decision and its
`intake` block are what the caller gets, so the scenario checks the real surface. The
"who leads" then-steps of lead.py read the same decision.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from pytest_bdd import given, parsers, then, when

from tests.features.steps.lead import CaseContext


@given(parsers.parse('诉求原文为"{text}"'))
def ticket_text(ctx: CaseContext, text: str) -> None:
    ctx.text = text


@given(parsers.parse('地点为"{place}"'))
def ticket_place(ctx: CaseContext, place: str) -> None:
    ctx.place = place


@when("按原文判定牵头单位")
def decide_from_text(ctx: CaseContext, client: TestClient) -> None:
    body: dict[str, Any] = {"text": ctx.text, "as_of": ctx.as_of.isoformat()}
    if ctx.place is not None:
        body["place"] = ctx.place
    if ctx.attributes:
        body["attributes"] = ctx.attributes
    ctx.response = client.post("/v1/cases/lead", content=json.dumps(body, ensure_ascii=False).encode(),
                               headers={"content-type": "application/json"})
    if ctx.response.status_code == 200:
        ctx.decision = ctx.response.json()


def _intake(ctx: CaseContext) -> dict[str, Any]:
    assert ctx.response is not None and ctx.response.status_code == 200, ctx.response.text
    intake: dict[str, Any] = ctx.response.json()["intake"]
    return intake


@then(parsers.parse('识别的事项为"{name}"'))
def matter_recognised(ctx: CaseContext, name: str) -> None:
    matter = _intake(ctx)["matter"]
    assert matter is not None, f"nothing recognised: {_intake(ctx)['reason']}"
    assert name in (matter["name"], matter["id"]), matter


@then(parsers.parse('识别依据包括"{term}"'))
def evidence_includes(ctx: CaseContext, term: str) -> None:
    terms = [e["term"] for e in _intake(ctx)["evidence"]]
    assert term in terms, terms


@then(parsers.parse('推断属性"{key}"为"{value}", 线索词为"{cue}"'))
def attribute_inferred(ctx: CaseContext, key: str, value: str, cue: str) -> None:
    inferred = {a["id"]: a for a in _intake(ctx)["attributes"]}
    assert key in inferred, inferred
    assert (str(inferred[key]["value"]), inferred[key]["cue"]) == (value, cue), inferred[key]
    assert "overridden_by" not in inferred[key]


@then(parsers.parse('属地为"{township}", 依据为"{matched}"'))
def township_resolved(ctx: CaseContext, township: str, matched: str) -> None:
    resolved = _intake(ctx)["township"]
    assert (resolved["name"], resolved.get("matched")) == (township, matched), resolved
    assert ctx.response.json()["township"]["name"] == township


@then("结果不需要确认")
def no_confirmation_needed(ctx: CaseContext) -> None:
    intake = _intake(ctx)
    assert intake["confidence"] == "high" and intake["needs_confirmation"] is False, intake


@then(parsers.parse('受理说明包含"{text}"'))
def intake_reason_mentions(ctx: CaseContext, text: str) -> None:
    intake = _intake(ctx)
    assert text in intake["reason"], intake["reason"]
    assert intake["matter"] is None and intake["candidates"] is not None


@then(parsers.parse('错误信息包含"{text}"'))
def http_error_message(ctx: CaseContext, text: str) -> None:
    message = ctx.response.json()["error"]["message"]
    assert text in message, message
