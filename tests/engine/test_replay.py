"""Replay: a logged decision, re-decided under its stored policy version, is byte-identical."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli import app as cli
from api.http.app import create_app
from api.http.logged import REPLAY_KINDS
from api.http.schemas.admission import (
    CENSUS_EXAMPLE,
    DUPLICATE_DATA_EXAMPLE,
    EMERGENCY_EXAMPLE,
    GAS_SAFETY_EXAMPLE,
    NO_ENFORCEMENT_EXAMPLE,
)
from api.settings import Settings
from engine.analysis import space
from engine.lead.decision import Case
from engine.log.store import open_log
from engine.policy.load import load_policy, read_policy_dir
from engine.replay import Replayer, ReplayError
from engine.runtime import Runtime
from tests.conftest import AUDITOR, SEED_POLICY, auditor_auth
from tests.engine.log.test_store import drop_append_only_triggers

runner = CliRunner()

# Cases whose answer depends on the date: the forestry bureau ends on 2019-03-01 (机构改革,
# successor 自然资源和规划局), the LND-02 delegation to 莲花镇 starts on 2021-07-01.
DATED = [
    {"matter": "FOR-03", "township": "lingyang", "as_of": "2018-06-01"},
    {"matter": "FOR-03", "township": "lingyang", "as_of": "2024-06-01"},
    {"matter": "LND-02", "township": "lianhua", "as_of": "2021-06-30"},
    {"matter": "LND-02", "township": "lianhua", "as_of": "2021-07-01"},
    {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}},  # no as_of: judged today
]


def request_of(case: Case) -> dict[str, Any]:
    body: dict[str, Any] = {"township": case.township, "as_of": case.as_of.isoformat()}
    if case.matter is not None:
        body["matter"] = case.matter
    if case.attributes:
        body["attributes"] = dict(case.attributes)
    return body


@pytest.fixture
def served(log_url: str, seed_runtime: Runtime) -> Iterator[tuple[TestClient, str]]:
    app = create_app(Settings(SEED_POLICY, log_url, auth=auditor_auth()), runtime=seed_runtime)
    with TestClient(app, headers=AUDITOR) as client:
        yield client, log_url


def test_sampled_logged_decisions_replay_identically(served: tuple[TestClient, str], seed_runtime: Runtime) -> None:
    client, url = served
    rng = random.Random(20261125)
    sampled = rng.sample(list(space.cases(seed_runtime.policy)), 120)
    bodies = [request_of(c) | {"reference": f"S-{i}"} for i, c in enumerate(sampled)] + DATED
    answers = {}
    for body in bodies:
        r = client.post("/v1/cases/lead", json=body)
        assert r.status_code == 200, r.text
        answers[r.json()["decision_id"]] = r.content
    # the dated cases really are answered differently on their two dates
    leads = {}
    for answer in map(json.loads, answers.values()):
        if answer.get("reference") is None and answer["matter"]["id"] in ("FOR-03", "LND-02"):
            leads[(answer["matter"]["id"], answer["as_of"])] = answer["lead"]["id"]
    assert leads[("FOR-03", "2018-06-01")] != leads[("FOR-03", "2024-06-01")]
    assert leads[("LND-02", "2021-06-30")] != leads[("LND-02", "2021-07-01")]

    log = open_log(url)
    try:
        replayer = Replayer(log, REPLAY_KINDS)
        records = list(log.records(kind="lead"))
        assert len(records) == len(bodies)
        sample = rng.sample(records, 60) + records[-len(DATED):]
        for record in sample:
            result = replayer.replay(record)
            assert result.identical, f"{record.id}: {result.logged} != {result.replayed}"
            assert result.replayed.encode() == answers[record.id]
    finally:
        log.close()


def _lead_changed(tmp_path: Path) -> Path:
    files = read_policy_dir(SEED_POLICY)
    target = tmp_path / "head"
    for name, content in files.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "rules/integrated.yaml":
            content = content.replace("lead: qj-water", "lead: qj-nrp", 1)
        path.write_text(content, encoding="utf-8")
    return target


def test_replay_uses_the_version_each_decision_was_made_under(log_url: str, tmp_path: Path) -> None:
    runtime = Runtime.from_dir(SEED_POLICY)
    case = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
    with TestClient(create_app(Settings(SEED_POLICY, log_url), runtime=runtime)) as client:
        before = client.post("/v1/cases/lead", json=case).json()
        runtime.swap(load_policy(_lead_changed(tmp_path)), "head")
        after = client.post("/v1/cases/lead", json=case).json()
    assert (before["lead"]["id"], after["lead"]["id"]) == ("qj-water", "qj-nrp")
    assert before["policy"]["digest"] != after["policy"]["digest"]
    log = open_log(log_url)
    try:
        replayer = Replayer(log, REPLAY_KINDS)
        for answer in (before, after):
            record = log.get(answer["decision_id"])
            assert record.policy_digest == answer["policy"]["digest"]
            result = replayer.replay(record)
            assert result.identical and json.loads(result.replayed)["lead"] == answer["lead"]
        assert log.verify().policies == 2
    finally:
        log.close()


def test_replay_refuses_kinds_it_cannot_decide(decision_log: Any, seed_runtime: Runtime) -> None:
    record = decision_log.log("admission", {"task": "x"}, {"outcome": "admitted"}, seed_runtime.policy)
    with pytest.raises(ReplayError, match="admission"):
        Replayer(decision_log, {"lead": REPLAY_KINDS["lead"]}).replay(record)  # no reader for admission requests


def test_admission_reviews_are_logged_and_replay_identically(served: tuple[TestClient, str]) -> None:
    client, url = served
    sent = {}
    for example in (CENSUS_EXAMPLE, GAS_SAFETY_EXAMPLE, NO_ENFORCEMENT_EXAMPLE, DUPLICATE_DATA_EXAMPLE, EMERGENCY_EXAMPLE):
        r = client.post("/v1/grid/admission-reviews", json=example)
        assert r.status_code == 200, r.text
        sent[r.json()["review_id"]] = r
    assert {r.json()["outcome"] for r in sent.values()} == {"admitted", "returned", "rejected"}
    for review_id, r in sent.items():
        record = client.get(f"/v1/decisions/{review_id}").json()
        assert record["kind"] == "admission" and record["response"] == r.json()
    log = open_log(url)
    try:
        replayer = Replayer(log, REPLAY_KINDS)
        for review_id, r in sent.items():
            result = replayer.replay(log.get(review_id))
            assert result.identical and result.replayed.encode() == r.content
        assert log.verify().ok
    finally:
        log.close()
    result = runner.invoke(cli, ["replay", "--all", "--db", url])
    assert result.exit_code == 0 and "5 of 5 identical" in result.output, result.output


def test_cli_replay_reports_identity_and_a_tampered_response(served: tuple[TestClient, str]) -> None:
    client, url = served
    ids = [client.post("/v1/cases/lead", json=body).json()["decision_id"] for body in DATED]
    result = runner.invoke(cli, ["replay", "--all", "--db", url])
    assert result.exit_code == 0, result.output
    assert f"{len(DATED)} of {len(DATED)} identical" in result.output
    assert runner.invoke(cli, ["replay", "--sample", "2", "--db", url]).exit_code == 0

    log = open_log(url)
    drop_append_only_triggers(log.db)
    record = log.get(ids[1])
    forged = record.response.replace('"lead":{"id":"qj-nrp"', '"lead":{"id":"qj-forestry"')
    assert forged != record.response
    with log.db.begin() as conn:
        conn.execute(text("UPDATE decisions SET response = :r WHERE id = :i"), {"r": forged, "i": ids[1]})
    log.close()
    result = runner.invoke(cli, ["replay", ids[0], ids[1], "--db", url])
    assert result.exit_code == 1
    assert f"identical: {ids[0]}" in result.output and f"DIFFERENT: {ids[1]}" in result.output
    diff_lines = [line.strip() for line in result.output.splitlines()]
    assert '-  "id": "qj-forestry",' in diff_lines and '+  "id": "qj-nrp",' in diff_lines


def test_cli_replay_usage_errors(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    result = runner.invoke(cli, ["replay", "abc", "--db", str(missing)])
    assert result.exit_code == 2 and "no decision log" in result.output
    assert not missing.exists()
    assert runner.invoke(cli, ["replay", "--db", str(missing)]).exit_code == 2
