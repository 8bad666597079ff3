"""Case events: append-only, hash-chained records in the decision log's database, and a
projection of each case's current state for the board.

Contract:
- `CaseStore.submit(command)` queues a unit of work: a function that, given the case's stored
  events (None for a new case), returns the events to append or raises. One writer thread
  runs whatever is queued in one transaction under the database's write lock (SQLite
  `BEGIN IMMEDIATE`, a PostgreSQL advisory lock), so the events a command is judged against
  are exactly those stored before it — across threads and across processes sharing the
  database. Two departments signing at once: one is stored, the other judged against the
  signed case (409). Futures resolve only after the commit.
- Each event has `seq` (1, 2, 3 … without gaps over all cases) and a sha256 chained to the
  previous event, like the decision log's records; triggers refuse UPDATE and DELETE.
  `verify` walks the chain.
- `cases` holds each case's state, lead, township and earliest running due time, written in
  the same transaction as its events. It is derived data (rebuilt by `rebuild`), kept for
  the board's queries; the events are the truth.
- An `idempotency_key` (the client's, unique) makes a retried command return what the
  first one stored instead of acting twice.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    or_,
    select,
    text,
)

from engine.cases.machine import CaseState, Event
from engine.errors import CaseExists, CaseNotFound, LogError
from engine.log.store import (
    GENESIS,
    PG_LOCK_KEY,
    canonical,
    chain_hash,
    format_time,
    new_record_id,
    take_batch,
    utc_now,
)

MAX_BATCH = 256
metadata = MetaData()
SEQ_TYPE = BigInteger().with_variant(Integer, "sqlite")

case_events = Table(
    "case_events",
    metadata,
    Column("seq", SEQ_TYPE, primary_key=True, autoincrement=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("case_id", String(64), nullable=False),
    Column("n", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", String(32), nullable=False),  # when it took effect, China time ISO 8601
    Column("actor", String(64), nullable=False),
    Column("operator", String(64)),
    Column("data", Text, nullable=False),  # canonical JSON
    Column("idempotency_key", String(128), unique=True),
    Column("recorded_at", String(32), nullable=False),  # UTC, when stored
    Column("policy_digest", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("case_id", "n", name="uq_case_events_case_n"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("decision_id", String(64), unique=True),
    Column("state", String(64), nullable=False),
    Column("lead", String(64), nullable=False),
    Column("township", String(64), nullable=False),
    Column("matter", String(64)),
    Column("opened_at", String(32), nullable=False),  # UTC
    Column("updated_at", String(32), nullable=False),  # UTC, the last event's `at`
    Column("due_at", String(32)),  # UTC, the earliest running limit's due time
    Column("due_limit", String(32)),
    Column("warn_at", String(32)),
    Column("assumed", Boolean, nullable=False, default=False),
    Column("dispute", Boolean, nullable=False, default=False),
    Column("returns", Integer, nullable=False, default=0),
    Column("last_seq", SEQ_TYPE, nullable=False),
    Index("ix_cases_state", "state"),
    Index("ix_cases_due_at", "due_at"),
)

EVENT_HEAD = select(case_events.c.seq, case_events.c.hash).order_by(case_events.c.seq.desc()).limit(1)


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    id: str
    case_id: str
    event: Event
    idempotency_key: str | None
    policy_digest: str
    prev_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        return _fields(self.seq, self.id, self.case_id, self.event, self.idempotency_key, self.policy_digest, self.prev_hash)


def _fields(seq: int, record_id: str, case_id: str, event: Event, key: str | None, digest: str, prev: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "id": record_id,
        "case_id": case_id,
        "n": event.n,
        "kind": event.kind,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "operator": event.operator,
        "data": canonical(dict(event.data)),
        "idempotency_key": key,
        "recorded_at": event.recorded_at,
        "policy_digest": digest,
        "prev_hash": prev,
    }


def _event_of(row: Any) -> Event:
    return Event(
        n=int(row.n),
        kind=str(row.kind),
        at=datetime.fromisoformat(str(row.at)),
        actor=str(row.actor),
        data=json.loads(row.data),
        operator=row.operator,
        recorded_at=str(row.recorded_at),
        id=str(row.id),
    )


def _stored_of(row: Any) -> StoredEvent:
    return StoredEvent(int(row.seq), str(row.id), str(row.case_id), _event_of(row), row.idempotency_key,
                       str(row.policy_digest), str(row.prev_hash), str(row.hash))


# A unit of work: the case's stored events (None: a new case) → the events to append.
Build = Callable[[Sequence[Event] | None], Sequence[Event]]
# The case's state after the new events (for the projection).
Project = Callable[[str, Sequence[Event]], CaseState]


@dataclass(frozen=True)
class Appended:
    """What a command stored (or, `replayed`, had stored before under its idempotency key)."""

    case_id: str
    events: tuple[StoredEvent, ...]
    replayed: bool = False
    state: CaseState | None = None  # the case after them (None when replayed: read it again)


@dataclass
class _Work:
    case_id: str
    new_case: bool
    build: Build
    project: Project
    policy_digest: str
    idempotency_key: str | None
    decision_id: str | None
    future: Future[Appended]


@dataclass(frozen=True)
class Broken:
    seq: int
    id: str | None
    reason: str


class CaseStore:
    """The case events of one database. Thread-safe; one writer thread."""

    def __init__(self, db: Engine, clock: Callable[[], str] = utc_now) -> None:
        self.db = db
        self._clock = clock
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._start = threading.Lock()

    # --- writing ------------------------------------------------------------------

    def submit(
        self,
        case_id: str | None,
        build: Build,
        project: Project,
        policy_digest: str,
        idempotency_key: str | None = None,
        decision_id: str | None = None,
    ) -> Future[Appended]:
        """Queue a command on `case_id` (None: open a new case). The policy must already be
        stored in `policy_versions` (DecisionLog.store_policy)."""
        future: Future[Appended] = Future()
        work = _Work(case_id or new_record_id(), case_id is None, build, project, policy_digest, idempotency_key, decision_id, future)
        with self._start:
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name="tiaokuai-case-events", daemon=True)
                self._writer.start()
            self._queue.put(work)
        return future

    def append(self, *args: Any, **kwargs: Any) -> Appended:
        return self.submit(*args, **kwargs).result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = take_batch(self._queue, first, MAX_BATCH)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[_Work]) -> None:
        outcomes: list[tuple[_Work, Appended | BaseException]] = []
        try:
            with self.db.connect().execution_options(writer=True) as conn, conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY + 1})
                head = conn.execute(EVENT_HEAD).first()
                seq, prev = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS)
                pending: dict[str, list[Event]] = {}  # this batch's view of each case
                for work in batch:
                    try:
                        result, seq, prev = self._one(conn, work, pending, seq, prev)
                    except Exception as exc:  # noqa: BLE001 - a refused command fails alone
                        outcomes.append((work, exc))
                        continue
                    outcomes.append((work, result))
        except Exception as exc:  # noqa: BLE001 - nothing committed: every waiting command hears of it
            error = LogError(f"the case log could not commit: {exc}")
            for work in batch:
                work.future.set_exception(error)
            return
        for work, outcome in outcomes:
            if isinstance(outcome, BaseException):
                work.future.set_exception(outcome)
            else:
                work.future.set_result(outcome)

    def _one(self, conn: Connection, work: _Work, pending: dict[str, list[Event]], seq: int, prev: str) -> tuple[Appended, int, str]:
        if work.idempotency_key is not None:
            earlier = conn.execute(select(case_events).where(case_events.c.idempotency_key == work.idempotency_key)).first()
            if earlier is not None:
                rows = conn.execute(
                    select(case_events)
                    .where(and_(case_events.c.case_id == earlier.case_id, case_events.c.seq >= earlier.seq))
                    .order_by(case_events.c.seq)
                ).all()
                same = [r for r in rows if r.seq == earlier.seq or (r.idempotency_key is None and r.recorded_at == earlier.recorded_at)]
                return Appended(str(earlier.case_id), tuple(_stored_of(r) for r in same), replayed=True), seq, prev
        if work.new_case and work.decision_id is not None:
            found = conn.execute(select(cases.c.case_id).where(cases.c.decision_id == work.decision_id)).first()
            opened = next((cid for cid, evs in pending.items() if evs and evs[0].data.get("decision", {}).get("decision_id") == work.decision_id), None)
            if found is not None or opened is not None:
                case_id = str(found[0]) if found is not None else str(opened)
                raise CaseExists(f"decision `{work.decision_id}` already has case `{case_id}`", case_id)
        existing: list[Event] | None
        if work.new_case:
            existing = None
        elif work.case_id in pending:
            existing = pending[work.case_id]
        else:
            rows = conn.execute(select(case_events).where(case_events.c.case_id == work.case_id).order_by(case_events.c.n)).all()
            if not rows:
                raise CaseNotFound(f"no case `{work.case_id}`")
            existing = [_event_of(r) for r in rows]
        new = list(work.build(existing))
        recorded = self._clock()
        stored: list[StoredEvent] = []
        rows_out = []
        for index, event in enumerate(new):
            event = Event(event.n, event.kind, event.at, event.actor, event.data, event.operator, recorded)
            seq += 1
            record_id = new_record_id()
            key = work.idempotency_key if index == 0 else None
            fields = _fields(seq, record_id, work.case_id, event, key, work.policy_digest, prev)
            prev = chain_hash(fields)
            rows_out.append({**fields, "hash": prev})
            stored.append(StoredEvent(seq, record_id, work.case_id, Event(event.n, event.kind, event.at, event.actor, event.data, event.operator, recorded, record_id), key, work.policy_digest, fields["prev_hash"], prev))
        if rows_out:
            conn.execute(case_events.insert(), rows_out)
        events = [*(existing or []), *(s.event for s in stored)]
        pending[work.case_id] = events
        state = work.project(work.case_id, events)
        self._project(conn, state, seq, work.new_case)
        return Appended(work.case_id, tuple(stored), state=state), seq, prev

    @staticmethod
    def _project(conn: Connection, state: CaseState, seq: int, new: bool) -> None:
        nxt = state.next_due()
        values = {
            "state": state.state,
            "lead": state.lead,
            "township": state.township,
            "matter": state.matter,
            "updated_at": format_time(state.last_at),
            "due_at": format_time(nxt.due.at) if nxt else None,
            "due_limit": nxt.limit if nxt else None,
            "warn_at": format_time(nxt.warn.at) if nxt else None,
            "assumed": bool(nxt and nxt.due.assumed),
            "dispute": state.dispute is not None,
            "returns": state.returns,
            "last_seq": seq,
        }
        if new:
            decision_id = state.decision.get("decision_id")
            conn.execute(cases.insert().values(case_id=state.case_id, decision_id=decision_id, opened_at=format_time(state.opened_at), **values))
        else:
            conn.execute(cases.update().where(cases.c.case_id == state.case_id).values(**values))

    def close(self) -> None:
        with self._start:
            writer, self._writer = self._writer, None
            if writer is not None:
                self._queue.put(None)
                writer.join()

    # --- reading ------------------------------------------------------------------

    def events(self, case_id: str) -> list[StoredEvent]:
        with self.db.connect() as conn:
            rows = conn.execute(select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.n)).all()
        if not rows:
            raise CaseNotFound(f"no case `{case_id}`")
        return [_stored_of(r) for r in rows]

    def board(
        self,
        *,
        state: str | None = None,
        lead: str | None = None,
        township: str | None = None,
        overdue_at: datetime | None = None,
        not_overdue_at: datetime | None = None,
        due_before: datetime | None = None,
        final_states: Sequence[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Projected cases matching the filters, by due time (soonest first, none last), and their total."""
        conditions = []
        if state is not None:
            conditions.append(cases.c.state == state)
        if lead is not None:
            conditions.append(cases.c.lead == lead)
        if township is not None:
            conditions.append(cases.c.township == township)
        if overdue_at is not None:
            conditions.append(cases.c.due_at <= format_time(overdue_at))
        if not_overdue_at is not None:
            conditions.append(or_(cases.c.due_at.is_(None), cases.c.due_at > format_time(not_overdue_at)))
        if due_before is not None:
            conditions.append(cases.c.due_at < format_time(due_before))
        if final_states:
            conditions.append(cases.c.state.not_in(list(final_states)))
        stmt = select(cases).order_by(cases.c.due_at.is_(None), cases.c.due_at, cases.c.case_id)
        count = select(func.count()).select_from(cases)
        if conditions:
            stmt, count = stmt.where(and_(*conditions)), count.where(and_(*conditions))
        with self.db.connect() as conn:
            total = int(conn.execute(count).scalar_one())
            rows = conn.execute(stmt.offset(offset).limit(limit)).all()
        return [dict(r._asdict()) for r in rows], total

    def all_events(self, batch: int = 5000) -> Iterator[tuple[str, list[Event]]]:
        """Every case with its events, case by case."""
        case_id: str | None = None
        events: list[Event] = []
        with self.db.connect() as conn:
            rows = conn.execution_options(yield_per=batch).execute(select(case_events).order_by(case_events.c.case_id, case_events.c.n))
            try:
                for row in rows:
                    if row.case_id != case_id:
                        if case_id is not None:
                            yield case_id, events
                        case_id, events = str(row.case_id), []
                    events.append(_event_of(row))
            finally:
                rows.close()
        if case_id is not None:
            yield case_id, events

    def head(self) -> tuple[int, str]:
        """(number of case events, hash of the last one): what a checkpoint signs of them."""
        with self.db.connect() as conn:
            row = conn.execute(select(case_events.c.seq, case_events.c.hash).order_by(case_events.c.seq.desc()).limit(1)).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def hash_at(self, seq: int) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute(select(case_events.c.hash).where(case_events.c.seq == seq)).first()
        return None if row is None else str(row[0])

    def verify(self) -> tuple[int, str, Broken | None]:
        """Walk the event chain from the first; (events, head hash, first break or None)."""
        prev, count = GENESIS, 0
        with self.db.connect() as conn:
            rows = conn.execution_options(yield_per=1000).execute(select(case_events).order_by(case_events.c.seq))
            try:
                for row in rows:
                    stored = _stored_of(row)
                    expected = count + 1
                    if stored.seq != expected:
                        return count, prev, Broken(expected, None, f"case event #{expected} is missing (next is #{stored.seq})")
                    if stored.prev_hash != prev:
                        return count, prev, Broken(stored.seq, stored.id, "its prev_hash does not match the previous event's hash (an event before it was removed or replaced)")
                    if chain_hash(stored.hashed_fields()) != stored.hash:
                        return count, prev, Broken(stored.seq, stored.id, "its content does not match its hash (the event was altered)")
                    prev, count = stored.hash, expected
            finally:
                rows.close()
        return count, prev, None

