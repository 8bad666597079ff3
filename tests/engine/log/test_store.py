"""The decision log: append-only, hash-chained, acknowledged only after commit.

Runs on SQLite always and on PostgreSQL when TIAOKUAI_DATABASE_URL names one.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from engine.log.store import GENESIS, DecisionLog, LogError, Record, RecordNotFound, chain_hash, open_log
from engine.policy.index import Policy
from engine.policy.load import policy_from_files
from engine.runtime import Runtime


def drop_append_only_triggers(engine: Engine) -> None:
    """What someone with write access to the database would do before altering a record."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER decisions_append_only ON decisions"))
            conn.execute(text("DROP TRIGGER policy_versions_append_only ON policy_versions"))
        else:
            for name in ("decisions_no_update", "decisions_no_delete", "policy_versions_no_update", "policy_versions_no_delete"):
                conn.execute(text(f"DROP TRIGGER {name}"))


def fill(log: DecisionLog, policy: Policy, n: int) -> list[str]:
    return [log.log("lead", {"township": "gaojia", "reference": f"R-{i}"}, {"n": i}, policy).id for i in range(n)]


def test_records_are_chained_and_read_back(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    first = decision_log.log("lead", b'{"township": "gaojia"}', b'{"decision_id":"x"}', policy, "id-1")
    second = decision_log.log("admission", {"task": "t"}, {"outcome": "admitted"}, policy)
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    assert first.hash == chain_hash(first.hashed_fields()) and len(first.hash) == 64
    stored = decision_log.get("id-1")
    assert stored == first
    # bytes are stored exactly as received and sent; other values as canonical JSON
    assert stored.request == '{"township": "gaojia"}' and stored.response == '{"decision_id":"x"}'
    assert decision_log.get(second.id).request == '{"task":"t"}'
    assert (stored.policy_digest, stored.policy_version, stored.engine_version) == (policy.digest, policy.version, "0.1.0")
    with pytest.raises(RecordNotFound):
        decision_log.get("nope")
    assert decision_log.verify().ok and decision_log.verify().records == 2


def test_policy_version_is_stored_once_and_checked(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    fill(decision_log, policy, 3)
    decision_log.store_policy(policy)
    assert decision_log.policy_files(policy.digest) == dict(policy.files)
    assert policy_from_files(decision_log.policy_files(policy.digest)).digest == policy.digest
    with decision_log.db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM policy_versions")).scalar_one() == 1


def test_query_by_reference_kind_time_and_page(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    ids = fill(decision_log, policy, 7)
    decision_log.log("admission", {"reference": "R-3"}, {}, policy)
    assert [r.id for r in decision_log.query(reference="R-3", kind="lead")] == [ids[3]]
    assert len(decision_log.query(reference="R-3")) == 2
    page = decision_log.query(kind="lead", limit=3)
    rest = decision_log.query(kind="lead", after=page[-1].seq, limit=10)
    assert [r.id for r in page + rest] == ids
    all_records = decision_log.query(limit=100)
    middle = all_records[3].time
    assert all(r.time >= middle for r in decision_log.query(since=middle))
    assert all(r.time < middle for r in decision_log.query(until=middle))
    assert [r.id for r in decision_log.records(kind="lead", batch=2)] == ids


def test_concurrent_writers_share_commits_and_keep_the_chain(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    def submit(i: int) -> Future[Record]:
        return decision_log.submit("lead", {"reference": f"C-{i}"}, {"i": i}, policy)

    with ThreadPoolExecutor(8) as pool:
        futures = list(pool.map(submit, range(400)))
    records = [f.result(timeout=60) for f in futures]
    assert sorted(r.seq for r in records) == list(range(1, 401))
    assert len({r.id for r in records}) == 400
    times = [r.time for r in sorted(records, key=lambda r: r.seq)]
    assert times == sorted(times)  # log order is time order
    assert decision_log.count() == 400
    result = decision_log.verify()
    assert result.ok and result.records == 400


def test_two_logs_on_one_database_keep_one_chain(log_url: str, seed_runtime: Runtime) -> None:
    """Two server processes writing to one database: each batch locks, then reads the head."""
    a, b = open_log(log_url), open_log(log_url)
    try:
        policy = seed_runtime.policy
        errors: list[BaseException] = []

        def write(log: DecisionLog, tag: str) -> None:
            try:
                for i in range(60):
                    log.log("lead", {"reference": f"{tag}-{i}"}, {}, policy)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(log, tag)) for log, tag in ((a, "A"), (b, "B"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        result = a.verify()
        assert result.ok and result.records == 120
    finally:
        a.close()
        b.close()


def test_the_log_refuses_update_and_delete(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    fill(decision_log, seed_runtime.policy, 2)
    for statement in ("UPDATE decisions SET response = '{}' WHERE seq = 1", "DELETE FROM decisions WHERE seq = 2",
                      "UPDATE policy_versions SET files = '{}'"):
        with pytest.raises(DBAPIError, match="append-only"), decision_log.db.begin() as conn:
            conn.execute(text(statement))
    assert decision_log.verify().ok


def test_verify_names_an_altered_record(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    ids = fill(decision_log, seed_runtime.policy, 5)
    drop_append_only_triggers(decision_log.db)
    with decision_log.db.begin() as conn:
        conn.execute(text("UPDATE decisions SET response = :r WHERE seq = 3"), {"r": json.dumps({"n": 99})})
    result = decision_log.verify()
    assert not result.ok and result.broken is not None
    assert (result.broken.seq, result.broken.id) == (3, ids[2]) and "altered" in result.broken.reason
    assert result.records == 2


def test_verify_names_the_gap_of_a_removed_record(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    fill(decision_log, seed_runtime.policy, 5)
    drop_append_only_triggers(decision_log.db)
    with decision_log.db.begin() as conn:
        conn.execute(text("DELETE FROM decisions WHERE seq = 2"))
    broken = decision_log.verify().broken
    assert broken is not None and broken.seq == 2 and "missing" in broken.reason


def test_verify_catches_a_rehashed_record_by_its_successor(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    """Recomputing the altered record's own hash does not help: the next record points at the old one."""
    ids = fill(decision_log, seed_runtime.policy, 4)
    drop_append_only_triggers(decision_log.db)
    record = decision_log.get(ids[1])
    forged = {**record.hashed_fields(), "response": '{"n":42}'}
    with decision_log.db.begin() as conn:
        conn.execute(text("UPDATE decisions SET response = :r, hash = :h WHERE seq = 2"), {"r": forged["response"], "h": chain_hash(forged)})
    broken = decision_log.verify().broken
    assert broken is not None and (broken.seq, broken.id) == (3, ids[2]) and "prev_hash" in broken.reason


def test_verify_catches_altered_policy_files(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    fill(decision_log, seed_runtime.policy, 1)
    drop_append_only_triggers(decision_log.db)
    files = dict(seed_runtime.policy.files)
    files["rules/integrated.yaml"] = files["rules/integrated.yaml"].replace("lead: qj-water", "lead: qj-nrp", 1)
    with decision_log.db.begin() as conn:
        conn.execute(text("UPDATE policy_versions SET files = :f"), {"f": json.dumps(files, ensure_ascii=False, sort_keys=True)})
    result = decision_log.verify()
    assert result.broken is not None and result.broken.id == seed_runtime.policy.digest
    with pytest.raises(LogError, match="altered"):
        decision_log.policy_files(seed_runtime.policy.digest)


def test_a_failed_commit_acknowledges_nothing(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    fill(decision_log, seed_runtime.policy, 1)
    with decision_log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions RENAME TO decisions_gone"))
    future = decision_log.submit("lead", {}, {}, seed_runtime.policy)
    with pytest.raises(LogError, match="could not commit"):
        future.result(timeout=30)
    with decision_log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions_gone RENAME TO decisions"))
    # the writer survives the failure and the chain goes on from the last committed record
    assert decision_log.log("lead", {}, {}, seed_runtime.policy).seq == 2
    assert decision_log.verify().ok


def _head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from engine.log.store import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_migrations_are_idempotent_and_recorded(log_url: str) -> None:
    for _ in range(2):
        log = open_log(log_url)
        with log.db.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == _head_revision()
        log.close()


def test_close_commits_what_is_queued(log_url: str, seed_runtime: Runtime) -> None:
    log = open_log(log_url)
    futures = [log.submit("lead", {"i": i}, {}, seed_runtime.policy) for i in range(50)]
    log.close()
    assert all(f.done() and f.exception() is None for f in futures)
    reopened = open_log(log_url)
    assert reopened.count() == 50 and reopened.verify().ok
    reopened.close()


def test_unreachable_database_is_a_log_error() -> None:
    with pytest.raises(LogError, match="cannot open the decision log"):
        open_log("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_sqlite_synchronous_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import Settings
    from engine.log.store import make_engine

    monkeypatch.setenv("TIAOKUAI_SQLITE_SYNCHRONOUS", "normal")
    settings = Settings.from_env(database_url=f"sqlite:///{tmp_path / 'log.sqlite3'}")
    assert settings.sqlite_synchronous == "NORMAL"
    engine = make_engine(settings.database_url, settings.sqlite_synchronous)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    with pytest.raises(ValueError, match="unsupported synchronous mode"):
        make_engine(settings.database_url, "OFF")


# --- the lean writer: orjson hashing, coroutine waiters, one wake-up per batch -------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from engine.log.store import canonical  # noqa: E402

_field_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["seq", "id", "time", "kind", "reference", "request", "prev_hash", "键"]),
                       st.one_of(_field_text, st.integers(-(2**63), 2**63 - 1), st.none()), max_size=8))
def test_chain_hash_is_the_sha256_of_canonical_json(fields: dict[str, object]) -> None:
    """orjson writes the very bytes of `canonical` for the record's fields (any text: control
    characters, quotes, CJK, U+2028), so the chain of every existing log still verifies."""
    import hashlib

    assert chain_hash(fields) == hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()


def test_coroutines_wait_for_the_commit_and_share_wake_ups(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    import asyncio

    policy = seed_runtime.policy
    wakes: list[int] = []

    async def main() -> list[Record]:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any, **kwargs: Any) -> Any:
            wakes.append(len(args[0]) if args and isinstance(args[0], list) else 0)
            return original(callback, *args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        return await asyncio.gather(*(decision_log.append("lead", b'{"township":"gaojia"}', b"{}", policy, f"A-{i}", f"R-{i}") for i in range(200)))

    records = asyncio.run(main())
    assert sorted(r.seq for r in records) == list(range(1, 201))
    assert [r.reference for r in records] == [f"R-{i}" for i in range(200)]
    assert sum(wakes) == 200 and len(wakes) < 200  # one wake-up per committed batch, not per record
    assert decision_log.verify().ok


def test_a_cancelled_waiter_does_not_stop_the_writer(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    import asyncio

    policy = seed_runtime.policy

    async def main() -> Record:
        task = asyncio.ensure_future(decision_log.append("lead", {}, {}, policy, "gone"))
        await asyncio.sleep(0)
        task.cancel()
        return await decision_log.append("lead", {}, {}, policy, "next")

    assert asyncio.run(main()).id == "next"
    assert decision_log.get("gone").seq == 1  # still committed: the answer just was not waited for


def test_coroutines_hear_of_a_failed_commit(log_url: str, seed_runtime: Runtime) -> None:
    import asyncio

    log = open_log(log_url)
    try:
        def broken(*_args: Any) -> Any:
            raise RuntimeError("disk I/O error")

        log._statements = broken  # type: ignore[method-assign]
        with pytest.raises(LogError, match="disk I/O error"):
            asyncio.run(log.append("lead", {}, {}, seed_runtime.policy))
    finally:
        log.close()


def test_each_jurisdiction_has_its_own_chain(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    from engine.policy.load import load_policy
    from tests.conftest import JURISDICTIONS

    county = load_policy(JURISDICTIONS / "kecheng")
    records = [decision_log.log("lead", {"i": i}, {"r": i}, county if i % 2 else seed_runtime.policy) for i in range(6)]
    assert [r.seq for r in records] == [1, 2, 3, 4, 5, 6]  # one numbering for the database
    assert records[2].prev_hash == records[0].hash and records[3].prev_hash == records[1].hash  # one chain per policy id
    assert records[0].prev_hash == records[1].prev_hash == "0" * 64
    verification = decision_log.verify()
    assert verification.ok and verification.chains == {"qujiang": 3, "kecheng": 3}


def test_a_record_moved_to_another_chain_breaks_it(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    from engine.policy.load import load_policy
    from tests.conftest import JURISDICTIONS

    county = load_policy(JURISDICTIONS / "kecheng")
    for i in range(4):
        decision_log.log("lead", {"i": i}, {}, county if i % 2 else seed_runtime.policy)
    drop_append_only_triggers(decision_log.db)
    with decision_log.db.begin() as conn:
        conn.execute(text("UPDATE decisions SET policy_id = 'qujiang' WHERE seq = 4"))
    broken = decision_log.verify().broken
    assert broken is not None and broken.seq == 4


# --- coroutines hand their records over once per event-loop turn --------------------------


def _batch_sizes(log: DecisionLog, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every batch the writer writes from now on."""
    sizes: list[int] = []
    original = log._write_batch

    def counted(conn: Any, batch: list[Any]) -> bool:
        sizes.append(len(batch))
        return original(conn, batch)

    monkeypatch.setattr(log, "_write_batch", counted)
    return sizes


def test_the_records_of_one_turn_share_one_commit(decision_log: DecisionLog, seed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests decided in the same event-loop turn are one batch: the first of them does not
    start a commit of its own while the others are still being decided."""
    import asyncio

    policy = seed_runtime.policy
    decision_log.log("lead", {}, {}, policy)  # the writer is running and the policy stored
    sizes = _batch_sizes(decision_log, monkeypatch)

    async def main() -> list[Record]:
        return await asyncio.gather(*(decision_log.append("lead", {"i": i}, {}, policy, f"T-{i}") for i in range(40)))

    records = asyncio.run(main())
    assert sizes == [40]
    assert [r.seq for r in records] == list(range(2, 42))  # in the order they were appended
    assert len({r.time for r in records}) == 1  # queued together, at one time
    assert decision_log.verify().ok


def test_a_turn_larger_than_a_batch_is_split(decision_log: DecisionLog, seed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from engine.log import store

    policy = seed_runtime.policy
    decision_log.log("lead", {}, {}, policy)
    monkeypatch.setattr(store, "MAX_BATCH", 16)
    sizes = _batch_sizes(decision_log, monkeypatch)

    async def main() -> list[Record]:
        return await asyncio.gather(*(decision_log.append("lead", {"i": i}, {}, policy) for i in range(40)))

    assert sorted(r.seq for r in asyncio.run(main())) == list(range(2, 42))
    assert sizes == [16, 16, 8]
    assert decision_log.verify().ok


def test_a_failed_commit_fails_every_record_of_the_turn(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    """Nothing acknowledged is lost: the records before stay, every waiter of the failed
    batch hears of the failure, none of its records is stored, and the writer goes on."""
    import asyncio

    policy = seed_runtime.policy
    before = fill(decision_log, policy, 3)
    with decision_log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions RENAME TO decisions_gone"))

    async def main() -> list[Record | BaseException]:
        return await asyncio.gather(*(decision_log.append("lead", {"i": i}, {}, policy) for i in range(20)), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert len(outcomes) == 20 and all(isinstance(o, LogError) and "could not commit" in str(o) for o in outcomes)
    with decision_log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions_gone RENAME TO decisions"))
    assert [r.id for r in decision_log.records()] == before
    assert asyncio.run(decision_log.append("lead", {}, {}, policy)).seq == 4
    assert decision_log.verify().ok


def test_close_commits_a_turn_that_has_not_ended(log_url: str, seed_runtime: Runtime) -> None:
    import asyncio

    log = open_log(log_url)

    async def main() -> Record:
        task = asyncio.ensure_future(log.append("lead", {"i": 1}, {}, seed_runtime.policy, "in-turn"))
        await asyncio.sleep(0)  # the task has appended; its turn has not ended yet
        assert not task.done()
        log.close()  # e.g. the server's shutdown: what was appended is committed first
        return await task

    assert asyncio.run(main()).id == "in-turn"
    reopened = open_log(log_url)
    assert reopened.get("in-turn").seq == 1 and reopened.verify().ok
    reopened.close()


def test_times_follow_log_order_across_threads_and_event_loops(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    import asyncio

    policy = seed_runtime.policy

    async def coroutines(tag: str) -> None:
        for i in range(30):
            await asyncio.gather(*(decision_log.append("lead", {"i": i}, {}, policy, f"{tag}-{i}-{j}") for j in range(3)))

    def threads(tag: str) -> None:
        for i in range(60):
            decision_log.log("lead", {"i": i}, {}, policy, f"{tag}-{i}")

    workers = [threading.Thread(target=asyncio.run, args=(coroutines("L1"),)), threading.Thread(target=asyncio.run, args=(coroutines("L2"),)),
               threading.Thread(target=threads, args=("T",))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    records = list(decision_log.records())
    assert len(records) == 240
    assert [r.time for r in records] == sorted(r.time for r in records)
    assert decision_log.verify().ok


def test_a_reference_given_is_not_read_again(decision_log: DecisionLog, seed_runtime: Runtime) -> None:
    """The API passes the reference its request model read (None: the request has none), so
    the log does not parse the request a second time; without one it reads the request."""
    import asyncio

    policy = seed_runtime.policy
    body = b'{"township":"gaojia","reference":"R-9"}'
    assert asyncio.run(decision_log.append("lead", body, b"{}", policy)).reference == "R-9"
    assert asyncio.run(decision_log.append("lead", body, b"{}", policy, reference="R-10")).reference == "R-10"
    assert asyncio.run(decision_log.append("lead", body, b"{}", policy, reference=None)).reference is None  # taken as given
    assert decision_log.submit("lead", body, b"{}", policy).result(timeout=30).reference == "R-9"
