"""The decision log's hash chain and its verification, pinned exactly.

What auditors rely on: the canonical form every hash is taken of (sorted keys, no
whitespace, non-ASCII kept, no NaN), which fields a hash covers, and what `verify` reports
— how many records hold, the head it reached, and where and why the chain first breaks.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from engine.log.store import GENESIS, Broken, DecisionLog, Record, Verification, canonical, chain_hash
from engine.policy.index import Policy
from engine.runtime import Runtime
from tests.conftest import FIXTURES, runtime_for
from tests.engine.log.test_store import drop_append_only_triggers, fill

HASHED = ("seq", "id", "time", "kind", "reference", "request", "response", "policy_id", "policy_version",
          "policy_digest", "engine_version", "prev_hash")  # fmt: skip


def test_the_canonical_form() -> None:
    value = {"b": [1, 2.5, None, True], "a": {"z": "审查", "y": "é"}, "c": ""}
    assert canonical(value) == '{"a":{"y":"é","z":"审查"},"b":[1,2.5,null,true],"c":""}'
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical({"x": float("nan")})
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical([float("inf")])


def test_a_hash_is_sha256_of_the_canonical_utf8_bytes() -> None:
    fields = {"seq": 1, "kind": "lead", "request": '{"township":"高家镇"}', "prev_hash": GENESIS}
    expected = hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()
    assert chain_hash(fields) == expected
    assert chain_hash(dict(reversed(list(fields.items())))) == expected  # key order does not matter
    assert chain_hash({**fields, "seq": 2}) != expected


def test_every_field_but_the_hash_is_covered(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    record = decision_log.log("lead", {"reference": "R-1"}, {"outcome": "assigned"}, seed_runtime.policy)
    assert tuple(record.hashed_fields()) == HASHED
    assert record.hashed_fields() == {k: getattr(record, k) for k in HASHED}
    assert record.computed_hash() == record.hash == chain_hash(record.hashed_fields())
    for name in HASHED:
        changed = Record(**{**record._asdict(), name: 7 if name == "seq" else "changed"})
        assert changed.computed_hash() != record.hash, f"{name} is not covered by the hash"


def test_an_empty_log_verifies_at_the_genesis(decision_log: DecisionLog) -> None:
    assert decision_log.verify() == Verification(records=0, head=GENESIS, policies=0, broken=None)


def test_a_sound_log_reports_its_records_head_and_policies(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    haiwan = runtime_for(FIXTURES / "haiwan").policy
    first = decision_log.log("lead", {}, {}, seed_runtime.policy)
    second = decision_log.log("lead", {}, {}, haiwan)
    third = decision_log.log("admission", {}, {}, seed_runtime.policy)
    result = decision_log.verify()
    assert result == Verification(records=3, head=third.hash, policies=2, broken=None) and result.ok
    # one hash chain per jurisdiction (policy id): haiwan's first record starts its own chain
    assert (first.prev_hash, second.prev_hash, third.prev_hash) == (GENESIS, GENESIS, first.hash)
    assert result.chains == {"qujiang": 2, "haiwan": 1}


def _alter_policy_files(log: DecisionLog, policy: Policy) -> None:
    files = {**policy.files, "policy.yaml": policy.files["policy.yaml"] + "\n# altered\n"}
    with log.db.begin() as conn:
        conn.execute(text("UPDATE policy_versions SET files = :f WHERE digest = :d"),
                     {"f": json.dumps(files, ensure_ascii=False, sort_keys=True), "d": policy.digest})


def test_an_altered_stored_policy_is_named_after_a_sound_chain(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    haiwan = runtime_for(FIXTURES / "haiwan").policy
    decision_log.log("lead", {}, {}, seed_runtime.policy)
    last = decision_log.log("lead", {}, {}, haiwan)
    drop_append_only_triggers(decision_log.db)
    _alter_policy_files(decision_log, haiwan)  # the second stored policy: the first one is sound
    result = decision_log.verify()
    reason = f"stored policy `{haiwan.digest[:12]}` does not match its digest (its files were altered)"
    assert result == Verification(records=2, head=last.hash, policies=2, broken=Broken(0, haiwan.digest, reason))
    assert not result.ok


def test_an_altered_record_stops_the_walk_at_the_last_sound_one(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    ids = fill(decision_log, policy, 4)
    second = decision_log.get(ids[1])
    drop_append_only_triggers(decision_log.db)
    with decision_log.db.begin() as conn:
        conn.execute(text("UPDATE decisions SET kind = 'admission' WHERE seq = 3"))
    _alter_policy_files(decision_log, policy)  # reported only once the chain itself holds
    result = decision_log.verify()
    assert result == Verification(
        records=2, head=second.hash, policies=1,
        broken=Broken(3, ids[2], "its content does not match its hash (the record was altered)"),
    )
    assert result.chains == {"qujiang": 2}  # the sound part of each chain (`audit verify --json` prints it)


def test_a_removed_record_is_named_by_its_number(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    ids = fill(decision_log, seed_runtime.policy, 3)
    drop_append_only_triggers(decision_log.db)
    with decision_log.db.begin() as conn:
        conn.execute(text("DELETE FROM decisions WHERE seq = 2"))
    result = decision_log.verify()
    assert (result.records, result.head) == (1, decision_log.get(ids[0]).hash)
    assert result.broken == Broken(2, None, "record #2 is missing (next is #3)")


def test_a_replaced_first_record_breaks_at_its_successor(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    """A forged record with a recomputed hash still breaks the link to the next one."""
    ids = fill(decision_log, seed_runtime.policy, 2)
    first = decision_log.get(ids[0])
    forged = {**first.hashed_fields(), "response": '{"n":99}'}
    drop_append_only_triggers(decision_log.db)
    with decision_log.db.begin() as conn:
        conn.execute(text("UPDATE decisions SET response = :r, hash = :h WHERE seq = 1"),
                     {"r": forged["response"], "h": chain_hash(forged)})
    result = decision_log.verify()
    reason = "its prev_hash does not match the previous record's hash (a record before it was removed or replaced)"
    assert result == Verification(records=1, head=chain_hash(forged), policies=1, broken=Broken(2, ids[1], reason))
