"""Tamper evidence that holds against someone who can write the database: REPLACE is
refused, and signed checkpoints (Ed25519, key and file outside the database) expose
records rewritten and re-chained, the newest records deleted, and stored policy
versions deleted or relabelled (`tiaokuai audit verify`)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from api.cli import app as cli
from api.http.app import create_app
from api.settings import Settings
from engine.cases import Anchors, CaseStore
from engine.cases.store import _stored_of
from engine.log.checkpoint import Checkpointer, CheckpointFile, Heads, load_or_create_key
from engine.log.store import DecisionLog, chain_hash, open_log, utc_now
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY
from tests.engine.log.test_store import drop_append_only_triggers, fill

runner = CliRunner()


@pytest.fixture
def anchored(tmp_path: Path, seed_runtime: Runtime) -> Iterator[tuple[str, DecisionLog, list[str], list[str]]]:
    """An SQLite log of 20 records with a signed checkpoint beside it (the defaults)."""
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    log = open_log(url)
    ids = fill(log, seed_runtime.policy, 20)
    key, file = Settings(SEED_POLICY, url).checkpoint_paths() or (None, None)
    assert key is not None and file is not None
    Checkpointer(load_or_create_key(key), CheckpointFile(file), Anchors(log, CaseStore(log.db)).heads, utc_now, 0).write()
    yield url, log, ids, ["audit", "verify", "--db", url]
    log.close()


def verify(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(cli, args)
    return result.exit_code, result.output


def test_an_intact_log_verifies_against_its_checkpoints(anchored: tuple[str, DecisionLog, list[str], list[str]]) -> None:
    _, _, _, args = anchored
    code, output = verify(args)
    assert code == 0 and output.startswith("ok: 20 records, chain intact") and "1 signed checkpoints hold" in output


def test_insert_or_replace_is_refused(anchored: tuple[str, DecisionLog, list[str], list[str]]) -> None:
    _, log, _, _ = anchored
    with log.db.connect() as conn:
        row = conn.execute(text("SELECT * FROM decisions WHERE seq = 5")).mappings().one()
    values = {**row, "response": '{"n":99}'}
    columns = ", ".join(values)
    with pytest.raises(DBAPIError, match="append-only"), log.db.begin() as conn:
        conn.execute(text(f"INSERT OR REPLACE INTO decisions ({columns}) VALUES ({', '.join(':' + c for c in values)})"), values)
    with pytest.raises(DBAPIError, match="append-only"), log.db.begin() as conn:
        conn.execute(text("INSERT OR REPLACE INTO policy_versions SELECT digest, policy_id, '9.9', files, stored_at FROM policy_versions"))
    assert log.verify().ok


def rechain(log: DecisionLog, seq: int, response: str) -> None:
    """Change record `seq` and recompute every hash after it, as an attacker with write access would."""
    drop_append_only_triggers(log.db)
    with log.db.begin() as conn:
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM decisions ORDER BY seq")).mappings()]
        prev = rows[seq - 2]["hash"]
        for row in rows[seq - 1:]:
            if row["seq"] == seq:
                row["response"] = response
            row["prev_hash"] = prev
            row["hash"] = prev = chain_hash({k: v for k, v in row.items() if k != "hash"})
            conn.execute(text("UPDATE decisions SET response = :response, prev_hash = :prev_hash, hash = :hash WHERE seq = :seq"), row)


def test_a_rewritten_and_rechained_record_is_found(anchored: tuple[str, DecisionLog, list[str], list[str]]) -> None:
    _, log, _, args = anchored
    rechain(log, 7, '{"n":"forged"}')
    assert log.verify().ok  # the chain alone is fooled ...
    code, output = verify(args)  # ... the signed checkpoint is not
    assert code == 1 and "record #20 does not end the signed chain" in output and "rewritten" in output


def test_deleting_the_newest_records_is_found(anchored: tuple[str, DecisionLog, list[str], list[str]]) -> None:
    _, log, _, args = anchored
    drop_append_only_triggers(log.db)
    with log.db.begin() as conn:
        conn.execute(text("DELETE FROM decisions WHERE seq > 15"))
    assert log.verify().ok
    code, output = verify(args)
    assert code == 1 and "signed over 20 records but the log holds 15" in output


def test_a_forged_checkpoint_is_found(anchored: tuple[str, DecisionLog, list[str], list[str]]) -> None:
    url, log, _, args = anchored
    _, file = Settings(SEED_POLICY, url).checkpoint_paths() or (None, None)
    assert file is not None
    line = json.loads(file.read_text().splitlines()[0])
    file.write_text(json.dumps({**line, "count": 19}) + "\n")
    code, output = verify(args)
    assert code == 1 and "signature does not verify" in output


def test_only_the_public_key_is_needed_to_verify(anchored: tuple[str, DecisionLog, list[str], list[str]], tmp_path: Path) -> None:
    url, _, _, args = anchored
    key, file = Settings(SEED_POLICY, url).checkpoint_paths() or (None, None)
    assert key is not None and file is not None
    public = key.with_name(key.name + ".pub")
    key.unlink()
    code, output = verify([*args, "--key", str(public), "--checkpoints", str(file)])
    assert code == 0, output
    other = tmp_path / "other.key"
    load_or_create_key(other)
    code, output = verify([*args, "--key", str(other)])
    assert code == 1 and "signature does not verify" in output


def test_deleted_or_relabelled_policy_versions_are_found(anchored: tuple[str, DecisionLog, list[str], list[str]]) -> None:
    _, log, ids, args = anchored
    drop_append_only_triggers(log.db)
    with log.db.begin() as conn:
        conn.execute(text("UPDATE policy_versions SET version = '2099.1.1'"))
    code, output = verify(args)
    assert code == 1 and "relabelled" in output
    url = anchored[0]
    raw = sqlite3.connect(url.removeprefix("sqlite:///"))  # foreign keys are off unless asked for
    raw.execute("DELETE FROM policy_versions")
    raw.commit()
    raw.close()
    code, output = verify(args)
    assert code == 1 and f"record #1 ({ids[0]})" in output and "not stored (deleted)" in output


def test_the_server_signs_checkpoints_at_intervals_and_on_shutdown(tmp_path: Path, seed_runtime: Runtime) -> None:
    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    settings = Settings(SEED_POLICY, url, checkpoint_interval=0.05)
    key, file = settings.checkpoint_paths() or (None, None)
    assert key is not None and file is not None
    case = {"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01"}
    with TestClient(create_app(settings, runtime=seed_runtime)) as client:
        assert client.post("/v1/cases/lead", json=case).status_code == 200
        lines = CheckpointFile(file).read
        deadline = time.monotonic() + 10
        while not any(cp.count == 1 for _, cp in lines()):
            assert time.monotonic() < deadline, "no checkpoint within the interval"
            time.sleep(0.02)
        assert client.post("/v1/cases/lead", json={**case, "reference": "x"}).status_code == 200
    assert CheckpointFile(file).read()[-1][1].count == 2  # the shutdown checkpoint covers the last record
    assert key.stat().st_mode & 0o077 == 0  # the private key is readable by its owner only
    code, output = verify(["audit", "verify", "--db", url])
    assert code == 0 and output.startswith("ok: 2 records"), output


def _anchor(url: str, log: DecisionLog) -> list[str]:
    """Sign a checkpoint of the log at `url` where the defaults put it; the verify command."""
    key, file = Settings(SEED_POLICY, url).checkpoint_paths() or (None, None)
    assert key is not None and file is not None
    Checkpointer(load_or_create_key(key), CheckpointFile(file), Anchors(log, CaseStore(log.db)).heads, utc_now, 0).write()
    return ["audit", "verify", "--db", url]


def test_every_jurisdictions_chain_is_anchored_not_only_the_newest_records(tmp_path: Path, seed_runtime: Runtime) -> None:
    from engine.policy.load import load_policy
    from tests.conftest import JURISDICTIONS

    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    log = open_log(url)
    county = load_policy(JURISDICTIONS / "kecheng")
    for i in range(8):  # kecheng at seq 1, 3, 5, 7; qujiang holds the newest record (#8)
        log.log("lead", {"i": i}, {"n": i}, seed_runtime.policy if i % 2 else county)
    args = _anchor(url, log)
    signed = json.loads((tmp_path / "log.sqlite3.checkpoints.jsonl").read_text().splitlines()[-1])
    assert signed["chains"] == {"decisions:kecheng": [4, log.hash_at(7)], "decisions:qujiang": [4, log.hash_at(8)]}
    assert verify(args)[0] == 0
    # rewrite kecheng's record #3 and re-chain kecheng alone: the newest record, and so the
    # database's (count, head), are untouched
    drop_append_only_triggers(log.db)
    with log.db.begin() as conn:
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM decisions WHERE policy_id = 'kecheng' ORDER BY seq")).mappings()]
        prev = rows[0]["hash"]
        for row in rows[1:]:
            row["response"] = '{"n":"forged"}' if row["seq"] == 3 else row["response"]
            row["prev_hash"] = prev
            row["hash"] = prev = chain_hash({k: v for k, v in row.items() if k != "hash"})
            conn.execute(text("UPDATE decisions SET response = :response, prev_hash = :prev_hash, hash = :hash WHERE seq = :seq"), row)
    assert log.verify().ok and log.head() == (8, signed["head"])
    code, output = verify(args)
    assert code == 1, output
    assert "record 4 of chain `decisions:kecheng` does not end the signed chain" in output and "rewritten" in output
    log.close()


def test_the_case_event_chain_is_anchored(tmp_path: Path) -> None:
    from tests.engine.cases.test_store import opened, service

    url = f"sqlite:///{tmp_path / 'log.sqlite3'}"
    log = open_log(url)
    cases = service(log)
    opened(cases)
    opened(cases)
    events = CaseStore(log.db)
    count, head = events.head()
    assert count >= 2
    args = _anchor(url, log)
    assert verify(args)[0] == 0
    with log.db.begin() as conn:  # an attacker drops the triggers and re-chains the events after #1
        for action in ("update", "delete"):
            conn.execute(text(f"DROP TRIGGER case_events_no_{action}"))
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM case_events ORDER BY seq")).mappings()]
        prev = rows[0]["hash"]
        for row in rows[1:]:
            row["actor"] = "forged" if row["seq"] == 2 else row["actor"]
            row["prev_hash"] = prev
            row["hash"] = prev = chain_hash(_stored_of(SimpleNamespace(**row)).hashed_fields())
            conn.execute(text("UPDATE case_events SET actor = :actor, prev_hash = :prev_hash, hash = :hash WHERE seq = :seq"), row)
    assert events.verify()[2] is None  # the event chain alone is fooled ...
    code, output = verify(args)  # ... the checkpoint is not
    assert code == 1 and f"record {count} of chain `case_events` does not end the signed chain" in output, output
    with log.db.begin() as conn:
        conn.execute(text("DELETE FROM case_events WHERE seq > 1"))
    code, output = verify(args)
    assert code == 1 and f"signed over {count} records of chain `case_events` but the log holds 1" in output, output
    log.close()


def test_a_format_1_checkpoint_without_chains_still_verifies(anchored: tuple[str, DecisionLog, list[str], list[str]]) -> None:
    url, log, _, args = anchored
    _, file = Settings(SEED_POLICY, url).checkpoint_paths() or (None, None)
    assert file is not None
    key, _ = Settings(SEED_POLICY, url).checkpoint_paths() or (None, None)
    assert key is not None
    count, head = log.head()
    file.write_text(load_or_create_key(key).sign(Heads(count, head), utc_now()).to_json() + "\n")
    assert "chains" not in file.read_text()
    code, output = verify(args)
    assert code == 0 and "1 signed checkpoints hold" in output, output
