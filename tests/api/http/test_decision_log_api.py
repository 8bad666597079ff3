"""GET /v1/decisions: every answered lead decision is in the log, exactly as sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.http.app import create_app
from api.settings import Settings
from engine.log.store import DecisionLog
from engine.runtime import Runtime
from tests.conftest import AUDITOR, SEED_POLICY, auditor_auth

CASES = [
    b'{"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01", "reference": "12345-A"}',
    b'{"matter":"FOR-03","township":"lingyang","as_of":"2018-06-01","reference":"12345-B"}',
    b'{"township": "zhangtan"}',
    b'{"matter": "LND-02", "township": "lianhua", "as_of": "2021-07-01", "reference": "12345-A"}',
]


@pytest.fixture
def api(log_url: str, seed_runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(Settings(SEED_POLICY, log_url, auth=auditor_auth()), runtime=seed_runtime)
    with TestClient(app, headers=AUDITOR) as client:
        yield client


def post(client: TestClient, body: bytes) -> tuple[bytes, dict[str, Any]]:
    """The response body as received and as JSON."""
    r = client.post("/v1/cases/lead", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    return r.content, r.json()


def log_of(client: TestClient) -> DecisionLog:
    log: DecisionLog = client.app.state.decision_log  # type: ignore[attr-defined]
    return log


def test_each_answered_decision_is_logged_as_sent(api: TestClient) -> None:
    answers = [post(api, body) for body in CASES]
    log = log_of(api)
    seqs = []
    for body, (sent, answer) in zip(CASES, answers, strict=True):
        decision_id = answer["decision_id"]
        r = api.get(f"/v1/decisions/{decision_id}")
        assert r.status_code == 200
        record = r.json()
        assert record["decision_id"] == decision_id and record["kind"] == "lead"
        assert record["response"] == answer and record["policy"] == answer["policy"]
        assert len(record["hash"]) == 64 and record["engine_version"] == "0.1.0"
        seqs.append(record["seq"])
        stored = log.get(decision_id)
        assert stored.response.encode() == sent  # byte for byte what the caller received
        assert stored.request.encode() == body  # the request as received, whitespace and all
    assert seqs == [1, 2, 3, 4]
    assert log.verify().ok


def test_auditors_query_by_reference_and_time(api: TestClient) -> None:
    ids = [post(api, body)[1]["decision_id"] for body in CASES]
    by_ref = api.get("/v1/decisions", params={"reference": "12345-A"}).json()
    assert [i["decision_id"] for i in by_ref["items"]] == [ids[0], ids[3]] and by_ref["next_after"] is None
    now = datetime.now(UTC)
    window = {"since": (now - timedelta(minutes=5)).isoformat(), "until": (now + timedelta(minutes=5)).isoformat()}
    assert len(api.get("/v1/decisions", params=window).json()["items"]) == 4
    assert api.get("/v1/decisions", params={"until": "2020-01-01"}).json()["items"] == []
    # a date means midnight China time; today (China) includes every record just made
    china_today = (now + timedelta(hours=8)).date().isoformat()
    assert len(api.get("/v1/decisions", params={"since": china_today}).json()["items"]) == 4
    first = api.get("/v1/decisions", params={"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_after"] == 3
    rest = api.get("/v1/decisions", params={"after": first["next_after"]}).json()
    assert [i["decision_id"] for i in first["items"] + rest["items"]] == ids


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ({"since": "yesterday"}, 422, "invalid_time", "since"),
        ({"until": "2026-13-01"}, 422, "invalid_time", "until"),
        ({"since": "2026-11-02", "until": "2026-11-01"}, 422, "invalid_range", "until"),
        ({"limit": 0}, 422, None, "limit"),
        ({"limit": "many"}, 422, None, "limit"),
        ({"after": -1}, 422, None, "after"),
        # the years at the edges of datetime: an offset pushes them out of range in UTC
        ({"since": "9999-12-31T23:59:59-14:00"}, 422, "invalid_time", "since"),
        ({"since": "0001-01-01T00:00:00+14:00"}, 422, "invalid_time", "since"),
        ({"until": "0001-01-01"}, 422, "invalid_time", "until"),
        ({"after": 2**63}, 422, None, "after"),
        ({"kind": "lead'--"}, 422, None, "kind"),
    ],
)
def test_bad_queries_get_the_error_shape(api: TestClient, params: dict[str, object], status: int, code: str | None, field: str) -> None:
    r = api.get("/v1/decisions", params=params)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["field"] == field and error["message"]
    if code:
        assert error["code"] == code


def test_unknown_decision_is_404(api: TestClient) -> None:
    r = api.get("/v1/decisions/0123456789abcdef")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_decision"


def test_no_decision_is_given_when_the_log_cannot_commit(api: TestClient) -> None:
    log = log_of(api)
    post(api, CASES[0])
    with log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions RENAME TO decisions_away"))
    r = api.post("/v1/cases/lead", content=CASES[1], headers={"content-type": "application/json"})
    assert r.status_code == 503 and r.json()["error"]["code"] == "decision_log_unavailable"
    assert "decision_id" not in r.text
    with log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions_away RENAME TO decisions"))
    health = api.get("/healthz")
    assert health.status_code == 503 and health.json()["status"] == "degraded"
    assert health.json()["decision_log"]["ok"] is False and "could not commit" in health.json()["decision_log"]["error"]
    assert log.count() == 1 and post(api, CASES[1])[1]["outcome"] == "assigned"
    assert log.count() == 2 and log.verify().ok
    assert api.get("/healthz").json()["status"] == "ok"  # the next commit succeeded


def test_openapi_documents_the_log(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert "/v1/decisions/{decision_id}" in paths and "/v1/decisions" in paths
    params = {p["name"] for p in paths["/v1/decisions"]["get"]["parameters"]}
    assert {"reference", "since", "until", "limit", "after", "kind"} <= params
