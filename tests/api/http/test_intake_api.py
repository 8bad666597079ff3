"""Intake over HTTP: classify, lead and lead:batch in words, the vocabulary endpoints, bad
input in the error shape, and a decision made from words that replays identically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.http.logged import REPLAY_KINDS
from api.settings import Settings
from engine.log.store import open_log
from engine.replay import Replayer
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY

DAY = "2026-11-01"


def lead(client: TestClient, **body: Any) -> Any:
    return client.post("/v1/cases/lead", json={"as_of": DAY, **body})


def test_classify_ranks_with_evidence(client: TestClient) -> None:
    r = client.post("/v1/matters:classify", json={"text": "楼上邻居天天半夜跳绳，吵得睡不着", "limit": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["confidence"] == "high" and len(body["items"]) == 3
    first = body["items"][0]
    assert (first["id"], first["name"]) == ("ENV-04", "噪声扰民")
    assert first["score"] > body["items"][1]["score"]
    assert {"term", "kind", "in", "score"} <= set(first["evidence"][0])
    assert any("example" in e["in"] for e in first["evidence"])


def test_a_ticket_in_words_is_decided_with_its_intake(client: TestClient) -> None:
    r = lead(client, text="高家镇衢江边上有人晚上偷偷挖沙，一车一车往外拉", reference="12345-T-1")
    assert r.status_code == 200, r.text
    body = r.json()
    intake = body["intake"]
    assert intake["matter"]["id"] == "WAT-01" and intake["confidence"] == "high" and not intake["needs_confirmation"]
    assert intake["township"] == {"id": "gaojia", "name": "高家镇", "via": "text", "matched": "高家镇", "kind": "name"}
    assert intake["attributes"] == [{"id": "site_type", "value": "river", "cue": "江边"}]
    assert (body["rule"]["id"], body["lead"]["id"], body["reference"]) == ("YJS-SAND-RIVER", "qj-water", "12345-T-1")
    assert intake["runners_up"] and all(c["id"] != "WAT-01" for c in intake["runners_up"])


def test_ids_answer_as_before_without_an_intake_block(client: TestClient) -> None:
    body = lead(client, matter="WAT-01", township="gaojia", attributes={"site_type": "river"}).json()
    assert "intake" not in body and body["rule"]["id"] == "YJS-SAND-RIVER"


def test_explicit_ids_and_attributes_win_over_the_words(client: TestClient) -> None:
    body = lead(client, text="莲花镇的农田里有人偷挖砂石", attributes={"site_type": "river"}).json()
    assert body["rule"]["id"] == "YJS-SAND-RIVER"
    assert body["intake"]["attributes"][0] == {"id": "site_type", "value": "farmland", "cue": "农田", "overridden_by": "request"}
    given = lead(client, text="莲花镇的农田里有人偷挖砂石", township="gaojia", matter="LND-04").json()
    assert (given["township"]["id"], given["matter"]["id"]) == ("gaojia", "LND-04")
    assert given["intake"]["township"]["via"] == "township" and given["intake"]["matter"]["source"] == "request"


def test_a_cue_flips_the_lead(client: TestClient) -> None:
    river = lead(client, text="有人在江边偷挖河沙", place="莲花镇").json()
    farm = lead(client, text="有人在农田里偷挖砂石", place="莲花镇").json()
    assert (river["lead"]["id"], farm["lead"]["id"]) == ("qj-water", "qj-nrp")


def test_a_village_in_place_names_its_township(client: TestClient) -> None:
    body = lead(client, text="村口的井盖丢了", place="衢江区高家镇横路后村12号").json()
    assert body["township"]["id"] == "gaojia"
    assert body["intake"]["township"] | {} == {"id": "gaojia", "name": "高家镇", "via": "place", "matched": "横路后村", "kind": "village"}


def test_no_matter_of_the_list_is_dispatched_with_the_reason(client: TestClient) -> None:
    body = lead(client, text="请问区政务服务中心几点下班", place="樟潭街道").json()
    assert body["outcome"] == "dispatch" and body["lead"]["id"] == "qj-centre"
    assert body["intake"]["matter"] is None and body["intake"]["confidence"] == "low"
    assert "未识别出清单事项" in body["intake"]["reason"]


def test_batch_decides_words_and_ids_alike(client: TestClient) -> None:
    r = client.post(
        "/v1/cases/lead:batch",
        json={"cases": [
            {"text": "横路后村有人往田边倒建筑垃圾", "as_of": DAY},
            {"matter": "WAT-01", "township": "gaojia", "as_of": DAY},
            {"text": "井盖丢了", "as_of": DAY},
        ]},  # fmt: skip
    )
    assert r.status_code == 200, r.text
    first, second, third = r.json()["results"]
    assert first["intake"]["matter"]["id"] == "ENV-03" and first["rule"]["id"] == "YJS-DUMP-CONSTRUCTION"
    assert "intake" not in second
    assert third == {"index": 2, "error": third["error"]} and third["error"]["code"] == "missing_field"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": ""}, 422, "text_empty"),
        ({"text": " \n\t"}, 422, "text_empty"),
        ({"text": "？？！！……"}, 422, "text_unreadable"),
        ({"text": "🚧🚧😡"}, 422, "text_unreadable"),
        ({"text": "井" * 5_000}, 422, "text_too_long"),
        ({"text": "井" * 100_000}, 422, "too_long"),
        ({"text": "井盖丢了"}, 422, "missing_field"),
        ({}, 422, "missing_field"),
        ({"text": "路边垃圾没人清运", "place": "高家镇和莲花镇交界"}, 422, "place_ambiguous"),
        ({"text": "井盖丢了", "place": "龙游县湖镇镇"}, 422, "place_outside_county"),
        ({"text": "井盖丢了", "place": "花果山水帘洞"}, 422, "place_unknown"),
        ({"text": 12}, 422, "wrong_type"),
    ],
)
def test_bad_words_are_refused_in_the_error_shape(client: TestClient, body: dict[str, Any], status: int, code: str) -> None:
    r = lead(client, **body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]


def test_ambiguous_and_outside_places_name_the_candidates(client: TestClient) -> None:
    ambiguous = lead(client, text="路边垃圾没人清运", place="高家镇和莲花镇交界").json()["error"]
    assert [c["id"] for c in ambiguous["candidates"]] == ["gaojia", "lianhua"] and ambiguous["field"] == "place"
    outside = lead(client, text="井盖丢了", place="龙游县湖镇镇").json()["error"]
    assert "龙游县" in outside["message"] and outside["nearest"] and outside["hint"]


def test_a_huge_body_is_413(client: TestClient) -> None:
    r = client.post("/v1/cases/lead", content=json.dumps({"text": "井" * 2_000_000}).encode(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_attributes_vocabulary_lists_values_and_cues(client: TestClient) -> None:
    items = {a["id"]: a for a in client.get("/v1/attributes").json()["items"]}
    site = {v["id"]: v for v in items["site_type"]["values"]}
    assert "河滩" in site["river"]["cues"] and site["river"]["name"] == "河道管理范围内"
    assert items["severity"]["type"] == "int" and {v["id"] for v in items["severity"]["values"]} == {3, 4}
    assert {v["id"] for v in items["fire_spread"]["values"]} == {True}


def test_organizations_by_place_name(client: TestClient) -> None:
    def ids(q: str) -> list[str]:
        return [o["id"] for o in client.get("/v1/organizations", params={"q": q}).json()["items"]]

    assert ids("横路后村") == ["gaojia"]
    assert ids("横路")[0] == "gaojia"
    assert "qj-water" in ids("水利局")


def test_matter_search_uses_the_matcher(client: TestClient) -> None:
    def ids(q: str) -> list[str]:
        return [m["id"] for m in client.get("/v1/matters", params={"q": q}).json()["items"]]

    for phrase, matter in [("挖沙", "WAT-01"), ("偷挖河沙", "WAT-01"), ("乱搭乱建", "CON-02"), ("噪音扰民", "ENV-04"),
                           ("井盖丢了", "URB-03"), ("烧秸秆", "ENV-01"), ("占道经营", "URB-01"),
                           ("高家镇衢江边上有人晚上偷偷挖沙", "WAT-01")]:  # fmt: skip
        assert matter in ids(phrase)[:2], (phrase, ids(phrase))
    assert ids("噪声")[0] == "ENV-04"
    assert ids("WAT-01") == ["WAT-01"] and set(ids("wat")) == {f"WAT-0{i}" for i in range(1, 8)}
    assert ids("不存在的事项xyz") == []


def test_a_decision_from_words_replays_identically(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/log.sqlite3"
    runtime = Runtime.from_dir(SEED_POLICY)
    with TestClient(create_app(Settings(SEED_POLICY, url), runtime=runtime)) as served:
        answers = [
            lead(served, text="高家镇衢江边上有人晚上偷偷挖沙").content,
            lead(served, text="楼上邻居半夜跳绳", place="樟潭街道").content,
            served.post("/v1/cases/lead", json={"text": "请问图书馆几点开门", "place": "浮石"}).content,
        ]
    log = open_log(url)
    try:
        replayer = Replayer(log, REPLAY_KINDS)
        records = list(log.records(kind="lead"))
        assert len(records) == 3
        for record, answer in zip(records, answers, strict=True):
            result = replayer.replay(record)
            assert result.identical and result.replayed.encode() == answer
            assert "intake" in json.loads(result.replayed)
    finally:
        log.close()
