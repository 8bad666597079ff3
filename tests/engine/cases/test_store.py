"""Case events on each backend (SQLite; PostgreSQL under `make test-postgres`): replicas that
share a database judge each command against the events stored before it, and the chain holds."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

from engine.cases import CHINA, CaseService, CaseStore, Command
from engine.lead import Case
from engine.log import DecisionLog, open_log
from engine.replay import response_bytes
from tests.conftest import SEED_POLICY, runtime_for

T0 = datetime(2026, 11, 2, 9, tzinfo=CHINA)
SAND = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-02"}


def service(log: DecisionLog) -> CaseService:
    runtime = runtime_for(SEED_POLICY)

    def decide_logged(case: Case, request: Any) -> dict[str, Any]:
        import json

        from engine.log import new_record_id
        from engine.replay import json_bytes

        record_id = new_record_id()
        content = response_bytes(record_id, runtime.decide(case))
        log.log("lead", json_bytes(dict(request)), content, runtime.policy, record_id)
        answer: dict[str, Any] = json.loads(content)
        return answer

    return CaseService(CaseStore(log.db), log, lambda: runtime.policy, decide_logged)


def opened(cases: CaseService) -> str:
    case = Case(township="gaojia", matter="WAT-01", attributes={"site_type": "river"}, as_of=T0.date())
    return cases.open(actor="gaojia", at=T0, request=SAND, case=case).case_id


def test_two_replicas_sign_one_case_once(log_url: str) -> None:
    first_log, second_log = open_log(log_url), open_log(log_url)
    first, second = service(first_log), service(second_log)
    case_id = opened(first)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def sign(cases: CaseService) -> None:
        barrier.wait()
        try:
            cases.act(case_id, Command("sign", "qj-water", T0 + timedelta(minutes=10)))
            outcomes.append("stored")
        except Exception as exc:  # noqa: BLE001 - the refusal is the outcome under test
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=sign, args=(c,)) for c in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["TransitionNotAllowed", "stored"]
    assert [e.event.kind for e in second.store.events(case_id)] == ["open", "sign"]
    count, _, broken = first.store.verify()
    assert count == 2 and broken is None
    for cases, log in ((first, first_log), (second, second_log)):
        cases.store.close()
        log.close()


def test_a_retried_command_is_stored_once_and_answers_the_same(log_url: str) -> None:
    log = open_log(log_url)
    cases = service(log)
    case_id = opened(cases)
    command = Command("sign", "qj-water", T0 + timedelta(minutes=10))
    stored = cases.act(case_id, command, idempotency_key="hotline-42-sign")
    again = cases.act(case_id, command, idempotency_key="hotline-42-sign")
    assert again.replayed and [e.id for e in again.events] == [e.id for e in stored.events]
    assert [e.event.kind for e in cases.store.events(case_id)] == ["open", "sign"]
    board, total = cases.store.board(state="signed")
    assert total == 1 and board[0]["case_id"] == case_id and board[0]["due_limit"] == "contact"
    cases.store.close()
    log.close()
