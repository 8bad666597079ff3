"""Hostile input: every one is a clear 4xx in the error shape, and none reaches durable_rules.

The engine's known crashers (docs/durable_rules.md §5: a list as the message segfaults,
more than 255 properties is error 302, coercion of strings/bools) are kept out by the
strict request schema, the case check against the policy's vocabulary, and the fact
builder; the test counts every call into the adapter while the hostile bodies are sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from engine.rules.durable import DurableRules
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def hostile_client() -> Iterator[TestClient]:
    uncached = Runtime.from_dir(SEED_POLICY, cache_size=0)  # every decision reaches the adapter
    app = create_app(Settings(SEED_POLICY, "sqlite://", max_body_bytes=LIMIT), runtime=uncached)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    real = DurableRules.fire

    def counting(self: DurableRules, ruleset: str, fact: dict[str, Any]) -> list[str]:
        calls.append(fact)
        return real(self, ruleset, fact)

    monkeypatch.setattr(DurableRules, "fire", counting)
    return calls


def nested(depth: int) -> bytes:
    return b'{"township": "gaojia", "attributes": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"


HOSTILE: dict[str, bytes] = {
    "deep object nesting": nested(20_000),
    "deep list nesting": b"[" * 30_000 + b"]" * 30_000,
    "non-UTF-8 bytes": b'{"township": "\xff\xfe gaojia"}',
    "lone surrogate escape": b'{"township": "gaojia", "reference": "\\ud800"}',
    "NUL in an id": b'{"township": "gaojia\\u0000", "matter": "WAT-01"}',
    "list where the body object goes": b'[{"township": "gaojia", "matter": "WAT-01"}]',
    "list where attributes go": b'{"township": "gaojia", "matter": "WAT-01", "attributes": [["site_type", "river"]]}',
    "list as an attribute value": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"site_type": ["river"]}}',
    "object as an attribute value": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"site_type": {"$ne": "x"}}}',
    "null attribute value": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"site_type": null}}',
    "10k attributes": json.dumps({"township": "gaojia", "matter": "WAT-01", "attributes": {f"a{i}": 1 for i in range(10_000)}}).encode(),
    "65 attributes": json.dumps({"township": "gaojia", "matter": "WAT-01", "attributes": {f"a{i}": 1 for i in range(65)}}).encode(),
    "string for a number": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"severity": "4"}}',
    "bool for a number": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"severity": true}}',
    "string for a bool": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"permit": "true"}}',
    "NaN": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"severity": NaN}}',
    "Infinity": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"severity": 1e999}}',
    "huge integer": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"severity": ' + b"9" * 5000 + b"}}",
    "operator injection as attribute name": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"$ex": 1}}',
    "reserved fact name": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"decision_id": "1"}}',
    "derived fact name": b'{"township": "gaojia", "matter": "WAT-01", "attributes": {"team": "own"}}',
    "CJK regex-looking value": '{"township": "gaojia", "matter": "WAT-01", "attributes": {"site_type": "[一-龥]+"}}'.encode(),
    "long string": json.dumps({"township": "gaojia", "matter": "WAT-01", "attributes": {"site_type": "x" * 50_000}}).encode(),
    "number as date": b'{"township": "gaojia", "matter": "WAT-01", "as_of": 0}',
    "impossible date": b'{"township": "gaojia", "matter": "WAT-01", "as_of": "2026-02-30"}',
    "duplicate keys": b'{"township": "gaojia", "township": "nowhere", "matter": "WAT-01"}',
    "unknown top-level field": b'{"township": "gaojia", "matter": "WAT-01", "site_type": "river"}',
    "truncated JSON": b'{"township": "gaojia", "matter": ',
    "empty body": b"",
    "JSON null": b"null",
    "batch of 1001": json.dumps({"cases": [{"township": "gaojia"}] * 1001}).encode(),
    "empty batch": b'{"cases": []}',
    # Python's JSON parser reads these; the decision log could not keep them as sent (replay would fail)
    "UTF-16 body": json.dumps({"township": "gaojia", "matter": "WAT-01", "reference": "热线"}, ensure_ascii=False).encode("utf-16"),
    "UTF-16-LE body without a BOM": json.dumps({"township": "gaojia", "matter": "WAT-01"}).encode("utf-16-le"),
    "UTF-32 body": json.dumps({"township": "gaojia", "matter": "WAT-01"}).encode("utf-32"),
    "UTF-8 body with a BOM": json.dumps({"township": "gaojia", "matter": "WAT-01", "reference": "热线"}, ensure_ascii=False).encode("utf-8-sig"),
    "UTF-16 batch": json.dumps({"cases": [{"township": "gaojia"}]}).encode("utf-16"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_body_is_a_clear_4xx_and_never_reaches_the_engine(
    hostile_client: TestClient, engine_calls: list[dict[str, Any]], name: str
) -> None:
    path = "/v1/cases/lead:batch" if "batch" in name else "/v1/cases/lead"
    r = hostile_client.post(path, content=HOSTILE[name], headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    error = r.json()["error"]
    assert error["code"] and error["message"], (name, error)
    assert engine_calls == [], f"{name}: reached durable_rules with {engine_calls[:1]}"


def test_oversized_body_is_413_in_the_error_shape(hostile_client: TestClient, engine_calls: list[dict[str, Any]]) -> None:
    body = json.dumps({"township": "gaojia", "reference": "x" * (LIMIT + 1)}).encode()
    r = hostile_client.post("/v1/cases/lead", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "body_too_large" and str(LIMIT) in r.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"township": "gaojia", "reference": "'
        for _ in range(LIMIT // 1024 + 1):
            yield b"x" * 1024
        yield b'"}'

    r = hostile_client.post("/v1/cases/lead", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"
    assert engine_calls == []


def test_a_body_just_under_the_limit_is_decided(hostile_client: TestClient, engine_calls: list[dict[str, Any]]) -> None:
    cases = [{"township": "gaojia", "matter": "WAT-01", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}] * 400
    body = json.dumps({"cases": cases}).encode()
    assert len(body) < LIMIT
    r = hostile_client.post("/v1/cases/lead:batch", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["total"] == 400 and len(engine_calls) == 400


def test_unknown_query_parameter_is_rejected(hostile_client: TestClient) -> None:
    r = hostile_client.get("/v1/matters", params={"domian": "water"})
    assert r.status_code == 422
    assert r.json()["error"] == {"code": "unknown_parameter", "message": "unknown query parameter `domian`", "field": "domian", "hint": "known: as_of, domain, jurisdiction, limit, offset, q"}


def test_a_single_valued_parameter_given_twice_is_rejected(hostile_client: TestClient) -> None:
    # Starlette keeps the last value: this would list townships though `kind=-1` came first
    r = hostile_client.get("/v1/organizations?kind=-1&kind=township")
    assert r.status_code == 422
    assert r.json()["error"] == {"code": "invalid_value", "message": "`kind` is given 2 times", "field": "kind", "hint": "give it once"}
    r = hostile_client.get("/v1/matters?q=采砂&domain=water&domain=water")
    assert r.status_code == 422 and r.json()["error"]["field"] == "domain"
    assert hostile_client.get("/v1/organizations?kind=township").status_code == 200


def test_wrong_method_names_the_allowed_ones(hostile_client: TestClient) -> None:
    r = hostile_client.get("/v1/cases/lead")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["error"]["code"] == "method_not_allowed"


def test_batch_answers_in_order_with_per_case_errors(hostile_client: TestClient) -> None:
    cases = [
        {"township": "gaojia", "matter": "WAT-01", "attributes": {"site_type": "river"}, "as_of": "2026-11-01", "reference": "A"},
        {"township": "nowhere", "matter": "WAT-01"},
        {"township": "zhangtan", "as_of": "2026-11-01"},
    ]
    body = hostile_client.post("/v1/cases/lead:batch", json={"cases": cases}).json()
    assert body["total"] == 3 and body["errors"] == 1
    first, second, third = body["results"]
    assert first["lead"]["id"] == "qj-water" and first["reference"] == "A"
    assert second == {"index": 1, "error": {"code": "unknown_township", "message": "unknown township `nowhere`", "field": "township", "hint": "did you mean `gaojia`?"}} or (
        second["index"] == 1 and second["error"]["code"] == "unknown_township"
    )
    assert third["outcome"] == "dispatch"
    single = hostile_client.post("/v1/cases/lead", json=cases[0]).json()
    assert {k: v for k, v in single.items() if k != "decision_id"} == {k: v for k, v in first.items() if k != "decision_id"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-le", "utf-8-sig"])
def test_a_body_the_log_cannot_keep_as_sent_is_refused(hostile_client: TestClient, encoding: str) -> None:
    body = json.dumps({"township": "gaojia", "matter": "WAT-01", "reference": "12345-热线"}, ensure_ascii=False).encode(encoding)
    r = hostile_client.post("/v1/cases/lead", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_encoding", r.text
