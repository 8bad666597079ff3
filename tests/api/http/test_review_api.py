"""POST /v1/grid/admission-reviews: the design.md contract, the acceptance cases over HTTP, errors."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.schemas.admission import (
    CENSUS_EXAMPLE,
    DUPLICATE_DATA_EXAMPLE,
    EMERGENCY_EXAMPLE,
    GAS_SAFETY_EXAMPLE,
    NO_ENFORCEMENT_EXAMPLE,
)
from api.settings import Settings
from tests.conftest import FIXTURES

URL = "/v1/grid/admission-reviews"


def post(client: TestClient, body: Any) -> Any:
    return client.post(URL, json=body)


def test_contract_shape(client: TestClient) -> None:
    r = post(client, CENSUS_EXAMPLE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"review_id", "outcome", "findings", "reuse", "policy"}
    assert set(body["policy"]) == {"id", "version", "digest"}
    assert len(body["review_id"]) == 22
    assert body["outcome"] == "admitted" and body["findings"] == [] and body["reuse"] == []
    assert body["policy"]["digest"] == client.get("/v1/policy").json()["digest"]


def test_no_enforcement_rejected(client: TestClient) -> None:
    body = post(client, NO_ENFORCEMENT_EXAMPLE).json()
    assert body["outcome"] == "rejected"
    assert [(f["criterion"], f["severity"]) for f in body["findings"]] == [("GA-03", "reject")]
    finding = body["findings"][0]
    assert set(finding) >= {"criterion", "severity", "message", "basis"}
    assert "网格员不具备执法资格" in finding["message"]
    assert finding["basis"][0]["document"] == "中华人民共和国行政处罚法"


def test_gas_safety_without_funding_returned(client: TestClient) -> None:
    body = post(client, GAS_SAFETY_EXAMPLE).json()
    assert body["outcome"] == "returned"
    assert [f["criterion"] for f in body["findings"] if f["severity"] == "return"] == ["GA-04"]


def test_duplicate_fields_rejected_with_reuse(client: TestClient) -> None:
    body = post(client, DUPLICATE_DATA_EXAMPLE).json()
    assert body["outcome"] == "rejected" and [f["criterion"] for f in body["findings"]] == ["GA-06"]
    assert [r["name"] for r in body["reuse"]] == ["姓名", "公民身份号码", "联系电话", "户籍地址", "家庭人口数"]
    assert all(r["table"] == "人口信息" for r in body["reuse"])


def test_emergency_admitted_with_filing(client: TestClient) -> None:
    body = post(client, EMERGENCY_EXAMPLE).json()
    assert body["outcome"] == "admitted" and body["filing_due"] == "2026-09-17"


def test_as_of_defaults_to_today(client: TestClient) -> None:
    body = post(client, {k: v for k, v in CENSUS_EXAMPLE.items() if k != "as_of"}).json()
    assert len(body["as_of"]) == 10 and body["as_of"] != CENSUS_EXAMPLE["as_of"]


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"kind": "巡逻"}, 422, "unknown_task_kind", "kind"),
        ({"requester": "衢江区市场监管局"}, 422, "unknown_organization", "requester"),
        ({"fields": ["name", "ID"]}, 422, "unknown_data_field", "fields.1"),
        ({"funding": "yes"}, 422, "wrong_type", "funding"),
        ({"minutes_per_household": "5"}, 422, "wrong_type", "minutes_per_household"),
        ({"minutes_per_household": -1}, 422, "invalid_value", "minutes_per_household"),
        ({"households": 0}, 422, "invalid_value", "households"),
        ({"start_date": "2026/12/01"}, 422, "invalid_date", "start_date"),
        ({"basis": [{"document": "统计法"}]}, 422, "missing_field", "basis.0.level"),
        ({"emergency": True}, 422, "missing_emergency_category", "emergency_category"),
        ({"colour": "red"}, 422, "unknown_field", "colour"),
        ({"title": ""}, 422, "too_short", "title"),
        ({"fields": ["name"] * 201}, 422, "too_many_items", "fields"),
    ],
)
def test_bad_input_is_a_4xx_in_the_error_shape(client: TestClient, change: dict[str, Any], status: int, code: str, field: str) -> None:
    r = post(client, {**CENSUS_EXAMPLE, **change})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert (error["code"], error.get("field")) == (code, field), error


def test_unknown_field_hint_is_not_about_case_attributes(client: TestClient) -> None:
    error = post(client, {**CENSUS_EXAMPLE, "colour": "red"}).json()["error"]
    assert "attributes" not in (error.get("hint") or "")


def test_garbage_never_500(client: TestClient) -> None:
    for raw in [b"", b"null", b"[]", b"{", b"\xff\xfe", b'{"title": 1}', b'{"basis": "x"}', b'{"fields": [1]}']:
        r = client.post(URL, content=raw, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (raw, r.status_code, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}


def test_missing_required_field(client: TestClient) -> None:
    body = {k: v for k, v in CENSUS_EXAMPLE.items() if k != "channel"}
    error = post(client, body).json()["error"]
    assert error["code"] == "missing_field" and error["field"] == "channel"


def test_openapi_has_worked_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post_op = spec["paths"][URL]["post"]
    examples = post_op["requestBody"]["content"]["application/json"]["examples"]
    assert {"census", "gas_safety", "no_enforcement", "duplicate_data", "emergency"} <= set(examples)
    assert examples["no_enforcement"]["value"]["title"] == "网格员核查无证餐饮并下达整改通知"
    assert "200" in post_op["responses"] and "422" in post_op["responses"]


def test_policy_without_grid_chapter() -> None:
    app = create_app(Settings(FIXTURES / "haiwan", "sqlite://"))
    with TestClient(app) as c:
        r = post(c, CENSUS_EXAMPLE)
        assert r.status_code == 422 and r.json()["error"]["code"] == "no_grid_admission"
