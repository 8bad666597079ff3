"""The case lifecycle over HTTP: 409/403 semantics, concurrency, idempotency, tokens bound to
organizations, restarts, and the audit chain of case events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.http.app import create_app
from api.settings import Settings
from api.tokens import AuthConfig
from engine.cases import CHINA, CaseStore
from engine.log import open_log
from tests.conftest import SEED_POLICY, runtime_for

T0 = datetime(2026, 11, 2, 9, tzinfo=CHINA)
SAND = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def make_client(db: Path, auth: AuthConfig | None = None) -> tuple[TestClient, Clock]:
    settings = Settings(SEED_POLICY, f"sqlite:///{db}", auth=auth or AuthConfig())
    app = create_app(settings, runtime=runtime_for(SEED_POLICY))
    clock = Clock()
    app.state.clock = clock
    return TestClient(app), clock


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Clock]]:
    client, clock = make_client(tmp_path / "cases.sqlite3")
    with client:
        yield client, clock


def open_case(client: TestClient, **extra: Any) -> dict[str, Any]:
    answer = client.post("/v1/cases", json={"case": SAND, "actor": "gaojia", **extra})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def event(client: TestClient, case_id: str, **body: Any) -> Any:
    return client.post(f"/v1/cases/{case_id}/events", json=body)


def test_open_from_a_logged_decision_names_the_lead_and_starts_the_sign_clock(api: tuple[TestClient, Clock]) -> None:
    client, _ = api
    decided = client.post("/v1/cases/lead", json={**SAND, "as_of": "2026-11-02"}).json()
    answer = client.post("/v1/cases", json={"decision_id": decided["decision_id"]})
    assert answer.status_code == 201, answer.text
    case = answer.json()
    assert answer.headers["location"] == f"/v1/cases/{case['case_id']}"
    assert case["decision_id"] == decided["decision_id"]
    assert case["lead"]["id"] == "qj-water" and case["state"]["id"] == "dispatched"
    assert [(d["limit"], d["due_at"]) for d in case["deadlines"]] == [("sign", "2026-11-02T10:00:00+08:00")]
    again = client.post("/v1/cases", json={"decision_id": decided["decision_id"]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "case_exists"
    assert again.json()["error"]["case_id"] == case["case_id"]


def test_an_illegal_transition_is_409_naming_the_allowed_events(api: tuple[TestClient, Clock]) -> None:
    client, _ = api
    case = open_case(client)
    answer = event(client, case["case_id"], kind="handle", actor="qj-water")
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "illegal_transition" and error["state"] == "dispatched"
    assert [a["event"] for a in error["allowed"]] == ["sign", "return", "reassign"]
    assert "sign" in error["hint"]


def test_an_actor_not_on_the_case_is_403_and_a_support_may_not_sign(api: tuple[TestClient, Clock]) -> None:
    client, _ = api
    case = open_case(client)
    stranger = event(client, case["case_id"], kind="sign", actor="qj-health")
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "actor_not_on_case"
    support = event(client, case["case_id"], kind="sign", actor="qj-police")
    assert support.status_code == 403 and support.json()["error"]["code"] == "actor_not_allowed"
    assert client.get(f"/v1/cases/{case['case_id']}").json()["state"]["id"] == "dispatched"


def test_two_signs_at_once_one_is_stored_the_other_gets_409(api: tuple[TestClient, Clock]) -> None:
    client, _ = api
    case = open_case(client)
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def sign() -> None:
        barrier.wait()
        statuses.append(event(client, case["case_id"], kind="sign", actor="qj-water").status_code)

    threads = [threading.Thread(target=sign) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 7
    history = client.get(f"/v1/cases/{case['case_id']}").json()["history"]
    assert [e["kind"] for e in history] == ["open", "sign"]


def test_two_replicas_on_one_database_cannot_both_sign(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite3"
    first, _ = make_client(db)
    second, _ = make_client(db)
    with first, second:
        case = open_case(first)
        results = []
        barrier = threading.Barrier(2)

        def sign(client: TestClient) -> None:
            barrier.wait()
            results.append(event(client, case["case_id"], kind="sign", actor="qj-water").status_code)

        threads = [threading.Thread(target=sign, args=(c,)) for c in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200, 409]


def test_a_retry_with_the_same_idempotency_key_acts_once(api: tuple[TestClient, Clock]) -> None:
    client, _ = api
    case = open_case(client)
    headers = {"Idempotency-Key": "12345-0001-sign"}
    first = client.post(f"/v1/cases/{case['case_id']}/events", json={"kind": "sign", "actor": "qj-water"}, headers=headers)
    again = client.post(f"/v1/cases/{case['case_id']}/events", json={"kind": "sign", "actor": "qj-water"}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json()["replayed"] is True
    assert [e["kind"] for e in again.json()["history"]] == ["open", "sign"]


def test_extensions_only_before_the_deadline(api: tuple[TestClient, Clock]) -> None:
    client, clock = api
    case = open_case(client)
    cid = case["case_id"]
    assert event(client, cid, kind="sign", actor="qj-water").status_code == 200
    extended = event(client, cid, kind="extend", actor="qj-water", limit="report_in", by="2wd", reason="需等待水文数据")
    assert extended.status_code == 200, extended.text
    report_in = next(d for d in extended.json()["deadlines"] if d["limit"] == "report_in")
    assert report_in["due_at"] == "2026-11-09T09:00:00+08:00" and report_in["extended_by"] == ["2wd"]
    twice = event(client, cid, kind="extend", actor="qj-water", limit="report_in", by="1wd", reason="again")
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "extension_refused"
    clock.now = datetime(2026, 11, 30, 9, tzinfo=CHINA)
    late = event(client, cid, kind="extend", actor="qj-water", limit="handle", by="5wd", reason="太晚")
    assert late.status_code == 409 and late.json()["error"]["code"] == "deadline_passed"
    no_reason = event(client, cid, kind="extend", actor="qj-water", limit="handle", by="5wd")
    assert no_reason.status_code == 422


def test_bad_event_input_is_a_clear_4xx(api: tuple[TestClient, Clock]) -> None:
    client, _ = api
    cid = open_case(client)["case_id"]
    reason = event(client, cid, kind="return", actor="qj-water", reason="不想办")
    assert reason.status_code == 422 and "不属于本单位职责" in reason.json()["error"]["hint"]
    future = event(client, cid, kind="sign", actor="qj-water", at="2027-01-01T00:00:00+08:00")
    assert future.status_code == 422 and future.json()["error"]["code"] == "future_time"
    kind = event(client, cid, kind="dance", actor="qj-water")
    assert kind.status_code == 422
    missing = client.get("/v1/cases/0123456789abcdef012345")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "case_not_found"
    assert client.get("/v1/cases/nosuchcase").status_code == 404
    assert client.get("/v1/cases/lead").status_code == 405  # the lead route's, not a case id
    no_actor = event(client, cid, kind="sign")
    assert no_actor.status_code == 422 and no_actor.json()["error"]["field"] == "actor"


def test_deadlines_survive_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "restart.sqlite3"
    client, _ = make_client(db)
    with client:
        cid = open_case(client)["case_id"]
        event(client, cid, kind="sign", actor="qj-water", at="2026-11-02T09:30:00+08:00")
        before = client.get(f"/v1/cases/{cid}").json()
    again, _ = make_client(db)
    with again:
        after = again.get(f"/v1/cases/{cid}").json()
    assert after["clocks"] == before["clocks"] and after["history"] == before["history"]


def test_audit_verify_covers_case_events(tmp_path: Path) -> None:
    db = tmp_path / "audit.sqlite3"
    client, _ = make_client(db)
    with client:
        cid = open_case(client)["case_id"]
        event(client, cid, kind="sign", actor="qj-water")
    log = open_log(f"sqlite:///{db}")
    store = CaseStore(log.db)
    assert store.verify()[2] is None and store.verify()[0] == 2
    with log.db.begin() as conn:
        conn.execute(text("DROP TRIGGER case_events_no_update"))
        conn.execute(text("UPDATE case_events SET actor = 'qj-nrp' WHERE n = 2"))
    broken = store.verify()[2]
    assert broken is not None and broken.seq == 2 and "altered" in broken.reason
    log.close()


TOKENS = """
tokens:
  - {name: water-desk, token: water-bureau-token-000000001, scopes: [cases:act, cases:read], organization: qj-water}
  - {name: centre-operator, token: centre-operator-token-0000001, scopes: [cases:act, cases:read, cases:decide]}
  - {name: bb-desk, token: establishment-office-token-01, scopes: [cases:arbitrate, cases:read], organization: qj-bb}
  - {name: reader, token: board-reader-token-000000001, scopes: [cases:read]}
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_bound_to_an_organization_act_as_it(tmp_path: Path) -> None:
    auth = AuthConfig.parse(TOKENS, "test", cases="token")
    client, _ = make_client(tmp_path / "tokens.sqlite3", auth)
    with client:
        centre = bearer("centre-operator-token-0000001")
        opened = client.post("/v1/cases", json={"case": SAND, "actor": "gaojia"}, headers=centre)
        assert opened.status_code == 201, opened.text
        cid = opened.json()["case_id"]
        assert opened.json()["history"][0]["operator"] == "centre-operator"  # on the township's behalf
        anonymous = client.post(f"/v1/cases/{cid}/events", json={"kind": "sign", "actor": "qj-water"})
        assert anonymous.status_code == 401
        reader = client.post(f"/v1/cases/{cid}/events", json={"kind": "sign"}, headers=bearer("board-reader-token-000000001"))
        assert reader.status_code == 403 and reader.json()["error"]["code"] == "insufficient_scope"
        water = bearer("water-bureau-token-000000001")
        posing = client.post(f"/v1/cases/{cid}/events", json={"kind": "sign", "actor": "qj-nrp"}, headers=water)
        assert posing.status_code == 403 and posing.json()["error"]["code"] == "actor_mismatch"
        signed = client.post(f"/v1/cases/{cid}/events", json={"kind": "sign"}, headers=water)
        assert signed.status_code == 200, signed.text
        last = signed.json()["history"][-1]
        assert last["actor"]["id"] == "qj-water" and "operator" not in last
        ruling = client.post(f"/v1/cases/{cid}/ruling", json={"lead": "qj-nrp", "basis": {"document": "纪要"}}, headers=water)
        assert ruling.status_code == 403 and ruling.json()["error"]["code"] == "insufficient_scope"
        no_dispute = client.post(f"/v1/cases/{cid}/ruling", json={"lead": "qj-nrp", "basis": {"document": "纪要"}},
                                 headers=bearer("establishment-office-token-01"))
        assert no_dispute.status_code == 409 and no_dispute.json()["error"]["code"] == "dispute_state"
        assert client.get(f"/v1/cases/{cid}").status_code == 401
        board = client.get("/cases", follow_redirects=False)  # a page: the sign-in form, not a bare 401
        assert board.status_code == 303 and board.headers["location"] == "/signin?next=/cases&scope=cases:read"
        assert client.get(f"/v1/cases/{cid}", headers=bearer("board-reader-token-000000001")).status_code == 200
