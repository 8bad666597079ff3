"""Many jurisdictions behind one API: `jurisdiction` in bodies, `?jurisdiction=` on reads,
GET /v1/jurisdictions, a 404 listing the served ones, per-jurisdiction chains and reloads."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from engine.listing.three_sheets import compare_three_lists, read_three_lists
from engine.listing.township_lists import three_lists
from tests.conftest import AUDITOR, ROOT

CASE = {"matter": "URB-03", "as_of": "2026-11-01"}
ADMIN_TOKEN = "admin-token-for-the-jurisdictions-test-0"
TOKENS = (
    '{"tokens": [{"name": "auditor", "token": "' + AUDITOR["Authorization"].split()[1] + '", "scopes": ["decisions:read"]},'
    ' {"name": "ops", "token": "' + ADMIN_TOKEN + '", "scopes": ["policy:admin"]}]}'
)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of policy/ and jurisdictions/ (the reload test edits a county)."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(ROOT / "policy", root / "policy")
    shutil.copytree(ROOT / "jurisdictions", root / "jurisdictions")
    return root


@pytest.fixture(scope="module")
def api(tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from api.tokens import AuthConfig

    db = tmp_path_factory.mktemp("db") / "log.sqlite3"
    settings = Settings(tree / "policy", f"sqlite:///{db}", tree / "jurisdictions", auth=AuthConfig.from_env({"TIAOKUAI_TOKENS": TOKENS}))
    with TestClient(create_app(settings)) as client:
        yield client


def test_jurisdictions_are_listed_with_their_layers(api: TestClient) -> None:
    body = api.get("/v1/jurisdictions").json()
    assert body["default"] == "qujiang"
    by_id = {j["id"]: j for j in body["items"]}
    assert set(by_id) == {"qujiang", "kecheng", "shili"}
    assert [layer["id"] for layer in by_id["kecheng"]["layers"]] == ["zhejiang", "kecheng"]
    assert by_id["kecheng"]["name"] == "浙江省衢州市柯城区" and len(by_id["kecheng"]["digest"]) == 64
    assert by_id["qujiang"]["layers"][0]["id"] == "qujiang"
    assert api.get("/v1/jurisdictions/shili").json()["counts"]["townships"] == 6


def test_unknown_jurisdiction_is_a_404_listing_the_served_ones(api: TestClient) -> None:
    for response in (
        api.get("/v1/jurisdictions/kecheg"),
        api.get("/v1/matters", params={"jurisdiction": "kecheg"}),
        api.post("/v1/cases/lead", json={**CASE, "township": "hangbu", "jurisdiction": "kecheg"}),
    ):
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["code"] == "unknown_jurisdiction" and error["field"] == "jurisdiction"
        assert "kecheng" in error["hint"] and error["jurisdictions"] == ["qujiang", "kecheng", "shili"]


def test_same_case_different_leads_each_citing_its_layer(api: TestClient) -> None:
    qujiang = api.post("/v1/cases/lead", json={**CASE, "township": "gaojia"}).json()
    kecheng = api.post("/v1/cases/lead", json={**CASE, "township": "hangbu", "jurisdiction": "kecheng"}).json()
    assert qujiang["lead"]["id"] == "qj-housing" and "layers" not in qujiang["rule"]
    assert kecheng["lead"]["name"] == "柯城区综合行政执法局"
    assert [c["layer"] for c in kecheng["rule"]["layers"]] == ["zhejiang", "kecheng"]
    assert kecheng["policy"]["id"] == "kecheng"


def test_reads_take_the_jurisdiction(api: TestClient) -> None:
    assert api.get("/v1/matters/KC-01", params={"jurisdiction": "kecheng"}).json()["lead"] == "traffic"
    assert api.get("/v1/matters/KC-01").status_code == 404
    towns = api.get("/v1/organizations", params={"jurisdiction": "kecheng", "kind": "township"}).json()
    assert towns["total"] == 18
    info = api.get("/v1/policy", params={"jurisdiction": "shili"}).json()
    assert info["id"] == "shili" and info["layers"] == ["zhejiang", "shili"]
    assert "layers" not in api.get("/v1/policy").json() or api.get("/v1/policy").json()["layers"] is None


def test_batch_mixes_jurisdictions(api: TestClient) -> None:
    body = {"cases": [{**CASE, "township": "gaojia"}, {**CASE, "township": "hangbu", "jurisdiction": "kecheng"},
                      {**CASE, "township": "hangbu", "jurisdiction": "nowhere"}]}
    results = api.post("/v1/cases/lead:batch", json=body).json()["results"]
    assert results[0]["policy"]["id"] == "qujiang" and results[1]["policy"]["id"] == "kecheng"
    assert results[2]["error"]["code"] == "unknown_jurisdiction"


def test_each_jurisdiction_has_its_own_chain_in_one_log(api: TestClient) -> None:
    api.post("/v1/cases/lead", json={**CASE, "township": "gaojia"})
    api.post("/v1/cases/lead", json={**CASE, "township": "hangbu", "jurisdiction": "kecheng"})
    verification = api.app.state.decision_log.verify()  # type: ignore[attr-defined]
    assert verification.ok and {"qujiang", "kecheng"} <= set(verification.chains)
    decision = api.post("/v1/cases/lead", json={**CASE, "township": "hangbu", "jurisdiction": "kecheng"}).json()
    record = api.get(f"/v1/decisions/{decision['decision_id']}", headers=AUDITOR).json()
    assert record["policy"]["id"] == "kecheng" and record["request"]["jurisdiction"] == "kecheng"


def test_three_lists_json_and_xlsx(api: TestClient) -> None:
    body = api.get("/v1/townships/hangbu/lists", params={"jurisdiction": "kecheng", "as_of": "2026-11-01"}).json()
    recalled = {e["matter"]["id"]: e for e in body["recalled"]}
    assert recalled["HLT-02"]["receiver"]["name"] == "柯城区卫生健康局" and "直接执法" in recalled["HLT-02"]["method"]
    assert sum(body["counts"].values()) == len(body["basic"]) + len(body["cooperative"]) + len(body["recalled"])
    xlsx = api.get("/v1/townships/hangbu/lists", params={"jurisdiction": "kecheng", "as_of": "2026-11-01", "format": "xlsx"})
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    policy = api.app.state.jurisdictions.get("kecheng").policy  # type: ignore[attr-defined]
    from datetime import date

    rows = read_three_lists(io.BytesIO(xlsx.content))
    assert compare_three_lists(policy, three_lists(policy, "hangbu", date(2026, 11, 1)), rows) == []
    assert api.get("/v1/townships/nowhere/lists", params={"jurisdiction": "kecheng"}).status_code == 404


def test_reloading_one_county_leaves_the_others(api: TestClient, tree: Path) -> None:
    before = {j["id"]: j["digest"] for j in api.get("/v1/jurisdictions").json()["items"]}
    layer = tree / "jurisdictions" / "shili" / "layer.yaml"
    layer.write_text(layer.read_text(encoding="utf-8").replace("lead: enforce", "lead: housing", 1), encoding="utf-8")
    response = api.post("/v1/policy/reload", params={"jurisdiction": "shili"}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200 and response.json()["status"] == "reloaded"
    assert response.json()["policy"]["id"] == "shili"
    after = {j["id"]: j["digest"] for j in api.get("/v1/jurisdictions").json()["items"]}
    assert after["shili"] != before["shili"]
    assert {k: v for k, v in after.items() if k != "shili"} == {k: v for k, v in before.items() if k != "shili"}
    lead = api.post("/v1/cases/lead", json={"matter": "WAT-02", "township": "beixi", "jurisdiction": "shili", "as_of": "2026-11-01"}).json()
    assert lead["lead"]["id"] == "housing"


def test_three_lists_page(api: TestClient) -> None:
    page = api.get("/lists", params={"jurisdiction": "kecheng", "township": "hangbu", "as_of": "2026-11-01"})
    assert page.status_code == 200 and "上级部门收回事项" in page.text
    assert 'data-matter="HLT-02"' in page.text.split('id="recalled"')[1]
    assert "柯城区卫生健康局" in page.text and "format=xlsx" in page.text
    assert api.get("/lists", params={"jurisdiction": "kecheng", "township": "nowhere"}).status_code == 404
