"""POST /v1/cases/lead:batch: each decision is logged like a single one, and the bytes of
each decision in the batch answer are the bytes logged for it."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from engine.runtime import Runtime
from tests.conftest import AUDITOR, SEED_POLICY, auditor_auth

CASES = [
    {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01", "reference": "B-1"},
    {"matter": "WAT-01", "township": "mars"},
    {"matter": "LND-02", "township": "lianhua", "as_of": "2021-07-01", "reference": "B-3"},
    {"township": "zhangtan"},
]


def test_batch_decisions_are_logged_as_sent(log_url: str, seed_runtime: Runtime) -> None:
    app = create_app(Settings(SEED_POLICY, log_url, auth=auditor_auth()), runtime=seed_runtime)
    with TestClient(app, headers=AUDITOR) as client:
        r = client.post("/v1/cases/lead:batch", json={"cases": CASES})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["total"], body["errors"]) == (4, 1)
        assert body["results"][1]["index"] == 1 and body["results"][1]["error"]["code"] == "unknown_township"
        decisions = [d for d in body["results"] if "decision_id" in d]
        assert [d.get("reference") for d in decisions] == ["B-1", "B-3", None]
        for sent, case in zip(decisions, [CASES[0], CASES[2], CASES[3]], strict=True):
            record = client.get(f"/v1/decisions/{sent['decision_id']}")
            assert record.status_code == 200, record.text
            logged = record.json()
            assert logged["kind"] == "lead" and logged["response"] == sent and logged["request"] == case
            # the decision's bytes in the batch answer are exactly the logged response
            assert json.dumps(logged["response"], ensure_ascii=False, separators=(",", ":")).encode() in r.content
        assert client.get("/v1/decisions", params={"reference": "B-3"}).json()["items"][0]["decision_id"] == decisions[1]["decision_id"]
        assert client.get(f"/v1/decisions/{decisions[0]['decision_id']}", headers={"Authorization": ""}).status_code == 401
