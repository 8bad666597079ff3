"""The HTTP contract of design.md: shapes, errors, OpenAPI examples, another policy dir."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from engine.runtime import Runtime
from tests.conftest import FIXTURES


def test_lead_contract_shape(client: TestClient) -> None:
    r = client.post("/v1/cases/lead", json={"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01", "reference": "T-1"})
    assert r.status_code == 200
    body = r.json()
    for key in ("decision_id", "outcome", "lead", "supports", "township", "time_limits", "rule", "explanation", "policy", "as_of"):
        assert key in body
    assert body["lead"] == {"id": "qj-water", "name": "衢江区水利局", "name_en": "Qujiang Water Resources Bureau", "kind": "department"}
    assert set(body["township"]) >= {"id", "name", "duties"}
    assert set(body["rule"]) >= {"id", "title", "basis"}
    assert set(body["policy"]) == {"id", "version", "digest"}
    assert body["reference"] == "T-1" and body["as_of"] == "2026-11-01"


def test_as_of_defaults_to_today(client: TestClient) -> None:
    body = client.post("/v1/cases/lead", json={"township": "gaojia"}).json()
    assert len(body["as_of"]) == 10 and body["outcome"] == "dispatch"


def test_matters_search_and_domain(client: TestClient, seed_runtime: Runtime) -> None:
    body = client.get("/v1/matters", params={"q": "采砂"}).json()
    assert [m["id"] for m in body["items"]] == ["WAT-01"] and body["total"] == 1
    assert client.get("/v1/matters", params={"q": "盗采河砂"}).json()["total"] == 1  # alias
    water = client.get("/v1/matters", params={"domain": "water"}).json()
    in_water = [m.id for m in seed_runtime.policy.matters.values() if m.domain == "water"]
    assert [m["id"] for m in water["items"]] == in_water and water["total"] == len(in_water) >= 2
    r = client.get("/v1/matters", params={"domain": "wat"})
    assert r.status_code == 422 and r.json()["error"]["hint"] == "did you mean `water`?"


def test_get_matter_and_unknown(client: TestClient) -> None:
    body = client.get("/v1/matters/WAT-01").json()
    assert body["lead"] == "qj-water" and body["lead_name"] == "衢江区水利局" and "YJS-SAND-RIVER" in body["rules"]
    r = client.get("/v1/matters/WAT-1")
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_matter"


def test_organizations_lists_townships(client: TestClient) -> None:
    body = client.get("/v1/organizations", params={"kind": "township"}).json()
    names = {o["name"] for o in body["items"]}
    assert {"樟潭街道", "高家镇", "湖南镇", "举村乡"} <= names and body["total"] == 20


def test_policy_and_health(client: TestClient) -> None:
    info = client.get("/v1/policy").json()
    assert info["id"] == "qujiang" and len(info["digest"]) == 64 and info["counts"]["matters"] >= 8
    assert client.get("/healthz").json()["policy"]["digest"] == info["digest"]


def test_errors_never_500(client: TestClient) -> None:
    bodies = [b"", b"null", b"[]", b"\xff\xfe\x00", b'{"township": 5}', b'{"township": "gaojia", "attributes": []}',
              b'{"township": "gaojia", "attributes": {"severity": {"a": 1}}}', b'{"township": "gaojia", "as_of": 20260101}']
    for raw in bodies:
        r = client.post("/v1/cases/lead", content=raw, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (raw, r.status_code, r.text)
        assert set(r.json()["error"]) >= {"code", "message"}


def test_unknown_route_uses_error_shape(client: TestClient) -> None:
    r = client.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_openapi_has_worked_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/v1/cases/lead"]["post"]
    examples = post["requestBody"]["content"]["application/json"]["examples"]
    assert examples["sand_mining"]["value"]["matter"] == "WAT-01"
    assert "/v1/matters" in spec["paths"] and "/v1/organizations" in spec["paths"]


def test_another_policy_directory_is_served(tmp_path: object) -> None:
    app = create_app(Settings(FIXTURES / "haiwan", "sqlite://"))
    with TestClient(app) as c:
        assert c.get("/v1/policy").json()["id"] == "haiwan"
        body = c.post("/v1/cases/lead", json={"matter": "HW-01", "township": "haiwan-east"}).json()
        assert body["lead"]["id"] == "hw-ocean"
        assert c.post("/v1/cases/lead", json={"matter": "WAT-01", "township": "gaojia"}).status_code == 422
