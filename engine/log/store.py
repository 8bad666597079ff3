"""The decision log: append-only, hash-chained records of every decision, and the policy
versions they were made under.

Contract:
- `DecisionLog.submit(kind, request, response, policy)` queues one record and returns a
  future that resolves only after the record is committed; `log(...)` waits for it. One
  writer thread takes whatever is queued (a group commit) and writes it in one
  transaction, so concurrent requests share one commit without anyone being acknowledged
  before it. While one commit waits for the disk, the next batch gathers in the queue.
- `append(...)` (a coroutine) gathers the records of one event-loop turn and hands them
  to the writer together at the end of the turn: one queue hand-off and one writer
  wake-up per turn, and the requests decided in the same turn share a commit instead of
  the first of them starting a commit of its own.
- Each record carries `seq` (1, 2, 3, … without gaps), its id, time (UTC), kind, the
  request as received, the response as sent, the policy id/version/digest, the engine
  version, the previous record's hash and its own hash: sha256 of the canonical JSON of
  all of those. Changing, removing or reordering a committed record breaks the chain at
  that record (`verify`). Database triggers refuse UPDATE and DELETE on the table.
- Every policy a record names is stored once (files + digest) before the record, so a
  decision can be replayed under exactly that policy (`policy_files`).
- SQLite (WAL) by default; PostgreSQL through a `postgresql+psycopg://` URL. The schema is
  managed by Alembic migrations in `engine/log/migrations/`, applied by `open_log`.
- Several processes may write to one database: each batch takes the database's write lock
  (SQLite `BEGIN IMMEDIATE`, a PostgreSQL advisory lock) before it reads the chain's head.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import queue
import secrets
import threading
import time as _time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from engine.errors import LogError, RecordNotFound
from engine.policy.index import Policy
from engine.policy.load import digest_files

GENESIS = "0" * 64
T = TypeVar("T")
MAX_BATCH = 512  # records per transaction
# An arbitrary constant naming the decision log's advisory lock in PostgreSQL.
PG_LOCK_KEY = 0x7469616F  # "tiao"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

metadata = MetaData()
# On SQLite an INTEGER primary key is the rowid itself: no second index to maintain.
SEQ_TYPE = BigInteger().with_variant(Integer, "sqlite")

policy_versions = Table(
    "policy_versions",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("policy_id", String(64), nullable=False),
    Column("version", String(64), nullable=False),
    Column("files", Text, nullable=False),  # canonical JSON {relative path: text}
    Column("stored_at", String(32), nullable=False),
)

decisions = Table(
    "decisions",
    metadata,
    Column("seq", SEQ_TYPE, primary_key=True, autoincrement=False),
    Column("id", String(64), nullable=False, unique=True),
    Column("time", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reference", String(128)),
    Column("request", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("policy_id", String(64), nullable=False),
    Column("policy_version", String(64), nullable=False),
    Column("policy_digest", String(64), ForeignKey("policy_versions.digest"), nullable=False),
    Column("engine_version", String(32), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_decisions_time", "time"),
    Index("ix_decisions_reference", "reference"),
    Index("ix_decisions_chain", "policy_id", "seq"),
)


activations = Table(
    "activations",
    metadata,
    Column("seq", SEQ_TYPE, primary_key=True, autoincrement=False),
    Column("digest", String(64), ForeignKey("policy_versions.digest"), nullable=False),
    Column("time", String(32), nullable=False),
    Column("source", Text, nullable=False),
)

HEAD = select(decisions.c.seq, decisions.c.hash).order_by(decisions.c.seq.desc()).limit(1)
# Each jurisdiction (policy id) has its own hash chain in the one log: `seq` numbers every
# record of the database without gaps; `prev_hash` links a record to the previous record
# of the same policy id (GENESIS for its first); the writer reads each chain's head by the
# index ix_decisions_chain (policy_id, seq).


Json = Any  # a JSON value: dict, list, str, int, float, bool or None


def canonical(value: Json) -> str:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 characters as they are."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def utc_now() -> str:
    """The current time as fixed-width UTC ISO 8601, so text order is time order."""
    return format_time(datetime.now(UTC))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_record_id() -> str:
    """Time-ordered, unguessable: 12 hex digits of milliseconds, then 10 random hex digits."""
    return f"{int(_time.time() * 1000):012x}{secrets.token_hex(5)}"


def _as_text(value: Json | bytes) -> str:
    """Bytes or str are stored exactly as given (as received / as sent); anything else as canonical JSON."""
    if isinstance(value, bytes):
        # Strict: a record must hold exactly what was received (the API refuses other encodings).
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    return canonical(value)


class Record(NamedTuple):
    """One committed entry of the decision log.

    Its fields are the `decisions` table's columns: a record is the row the writer inserts
    (a tuple, cheap to make in the writer's hot loop).
    """

    seq: int
    id: str
    time: str
    kind: str
    reference: str | None
    request: str
    response: str
    policy_id: str
    policy_version: str
    policy_digest: str
    engine_version: str
    prev_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Json]:
        return {
            "seq": self.seq,
            "id": self.id,
            "time": self.time,
            "kind": self.kind,
            "reference": self.reference,
            "request": self.request,
            "response": self.response,
            "policy_id": self.policy_id,
            "policy_version": self.policy_version,
            "policy_digest": self.policy_digest,
            "engine_version": self.engine_version,
            "prev_hash": self.prev_hash,
        }

    def computed_hash(self) -> str:
        return chain_hash(self.hashed_fields())

    def request_json(self) -> Json:
        return _parse(self.request)

    def response_json(self) -> Json:
        return _parse(self.response)

    def to_dict(self) -> dict[str, Json]:
        """The record as auditors read it: request and response as JSON, not text."""
        return {
            "decision_id": self.id,
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "reference": self.reference,
            "request": self.request_json(),
            "response": self.response_json(),
            "policy": {"id": self.policy_id, "version": self.policy_version, "digest": self.policy_digest},
            "engine_version": self.engine_version,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def _parse(raw: str) -> Json:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


# hashlib lets go of the GIL for an update of 2,048 bytes or more (CPython's
# HASHLIB_GIL_MINSIZE); a record's JSON is fed in smaller pieces so the hash never does.
_HASH_PIECE = 2047


def chain_hash(fields: Mapping[str, Json]) -> str:
    """sha256 of the record's canonical JSON.

    # NOTE: orjson with sorted keys writes exactly the bytes of `canonical(...).encode()` for
    # the record's fields (str, int, None): the same escapes, no whitespace, UTF-8 as is
    # (tests/test_store.py proves it on arbitrary text); it is ~20x faster than `json`.
    # The writer hashes a batch's records while the event loop waits for the GIL: an update
    # that released the GIL would send the writer to the back of the queue for it once per
    # record (bench/http.py measures it: a row of "what each change bought"), so it is fed
    # in pieces below hashlib's release threshold. The digest is the same.
    """
    data = memoryview(orjson.dumps(dict(fields), option=orjson.OPT_SORT_KEYS))
    digest = hashlib.sha256()
    for start in range(0, len(data), _HASH_PIECE):
        digest.update(data[start : start + _HASH_PIECE])
    return digest.hexdigest()


class _Reference(enum.Enum):
    FROM_REQUEST = "read the reference from the request"


# `reference` not given: read it from the request (None given: the request has none).
FROM_REQUEST = _Reference.FROM_REQUEST


class _Turn(NamedTuple):
    """A record queued by a coroutine, waiting for the end of its event-loop turn."""

    id: str
    kind: str
    reference: str | None
    request: str
    response: str
    policy: Policy
    future: asyncio.Future[Record]


class _Pending(NamedTuple):
    """A record queued for the writer (a tuple: one is made per decision on the hot path)."""

    id: str
    time: str
    kind: str
    reference: str | None
    request: str
    response: str
    policy: Policy
    engine_version: str
    # Who waits: a thread (a concurrent Future) or a coroutine (an asyncio Future and its loop).
    future: Future[Record] | asyncio.Future[Record]
    loop: asyncio.AbstractEventLoop | None = None


@dataclass(frozen=True)
class Broken:
    """The first record at which the chain does not hold."""

    seq: int
    id: str | None
    reason: str


@dataclass(frozen=True)
class Verification:
    records: int
    head: str
    policies: int
    broken: Broken | None
    chains: Mapping[str, int] = field(default_factory=dict, compare=False)  # policy id → records in its chain

    @property
    def ok(self) -> bool:
        return self.broken is None


def _reference_of(request: Json | bytes) -> str | None:
    data = request
    if isinstance(request, bytes | str):
        data = _parse(request.decode("utf-8", errors="strict") if isinstance(request, bytes) else request)
    if isinstance(data, dict) and isinstance(data.get("reference"), str):
        return str(data["reference"])[:128]
    return None


def _texts(request: Json | bytes, response: Json | bytes, reference: str | None | _Reference) -> tuple[str | None, str, str]:
    """A record's reference (at most 128 characters), request text and response text."""
    try:
        if reference is FROM_REQUEST:
            reference = _reference_of(request)
        return (None if reference is None else reference[:128]), _as_text(request), _as_text(response)
    except UnicodeDecodeError as exc:  # the API refuses other encodings before deciding
        raise LogError(f"a record must be UTF-8 text: {exc}") from None


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    parsed = make_url(url)
    memory = parsed.database in (None, "", ":memory:")
    if memory:
        # One shared connection, or every thread would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred, too late).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        # Writers take the write lock before reading the chain's head; readers don't block.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writer") else "BEGIN")

    return engine


def make_engine(url: str, sqlite_synchronous: str = "FULL") -> Engine:
    """An SQLAlchemy engine for the log. SQLite gets WAL and `synchronous` (FULL: a commit
    survives power loss; NORMAL: it survives a process crash)."""
    if sqlite_synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"unsupported synchronous mode `{sqlite_synchronous}`")
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_synchronous)
    return create_engine(url, pool_pre_ping=True)


def _lock(conn: Connection) -> None:
    """Serialise writers across processes (SQLite already holds its write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


def upgrade(db: Engine) -> None:
    """Apply the Alembic migrations up to head (idempotent, safe with concurrent starters)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    with db.connect().execution_options(writer=True) as conn, conn.begin():
        _lock(conn)
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


# Rows per INSERT statement: one statement (one step of the database, one release of the
# GIL) inserts many records; 64 × 13 parameters stay under SQLite's oldest limit of 999.
ROWS_PER_INSERT = 64


@dataclass(frozen=True)
class _Statements:
    """The writer's SQL for one dialect: the head queries, how a write transaction begins and
    takes the cross-process lock, and multi-row inserts in the driver's parameter style."""

    mark: str  # the driver's positional parameter mark
    heads: str  # the log's last seq and one policy id's chain head; one positional parameter
    begin: str | None
    lock: str | None
    chain_head: str  # the last hash of one policy id's chain; one positional parameter
    inserts: dict[int, str] = field(default_factory=dict)  # rows → INSERT of that many rows

    def insert(self, rows: int) -> str:
        """INSERT INTO decisions of `rows` records, their fields in Record's order."""
        sql = self.inserts.get(rows)
        if sql is None:
            row = "(" + ", ".join([self.mark] * len(Record._fields)) + ")"
            sql = self.inserts[rows] = f"INSERT INTO decisions ({', '.join(Record._fields)}) VALUES {', '.join([row] * rows)}"
        return sql


def _settle(batch: list[_Pending], records: list[Record] | None, exc: Exception | None) -> None:
    """Tell a batch's waiters: threads directly, each event loop once for all its records."""
    error = None if exc is None else LogError(f"the decision log could not commit: {exc}")
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Record], Record | None]]] = {}
    for i, item in enumerate(batch):
        record = records[i] if records is not None else None
        if item.loop is None:
            future: Future[Record] = item.future  # type: ignore[assignment]
            if error is None:
                future.set_result(record)  # type: ignore[arg-type]
            else:
                future.set_exception(error)
        else:
            by_loop.setdefault(item.loop, []).append((item.future, record))  # type: ignore[arg-type]
    for loop, waiters in by_loop.items():
        try:
            loop.call_soon_threadsafe(_wake, waiters, error)
        except RuntimeError:  # that loop is closed: nobody is waiting any more
            pass


def _wake(waiters: list[tuple[asyncio.Future[Record], Record | None]], error: LogError | None) -> None:
    for future, record in waiters:
        if future.done():  # the waiting request was cancelled (client gone)
            continue
        if error is None:
            future.set_result(record)  # type: ignore[arg-type]
        else:
            future.set_exception(error)


class DecisionLog:
    """The decision log of one database. Thread-safe; one writer thread per instance."""

    def __init__(self, db: Engine, engine_version: str, clock: Callable[[], str] = utc_now) -> None:
        self.db = db
        self.engine_version = engine_version
        self._clock = clock
        self._queue: queue.SimpleQueue[_Pending | list[_Pending] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._start = threading.Lock()
        self._known_policies: set[str] = set()
        self.last_failure: tuple[str, str] | None = None  # (time, message) of the last failed commit, until one succeeds
        # NOTE: one write transaction at a time in this process: an in-memory SQLite log is a
        # single shared connection, which two threads must never use at once (it segfaults).
        self._writing = threading.Lock()
        self._compiled: _Statements | None = None
        # Records appended by coroutines in the current turn of each event loop (under _start).
        self._turns: dict[asyncio.AbstractEventLoop, list[_Turn]] = {}

    # --- writing ------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        request: Json | bytes,
        response: Json | bytes,
        policy: Policy,
        record_id: str | None = None,
        reference: str | None | _Reference = FROM_REQUEST,
    ) -> Future[Record]:
        """Queue one record; the future resolves with it once committed, or fails with LogError.

        `request` and `response` given as bytes or str are stored exactly as they are (the
        bytes received and sent); other values are stored as canonical JSON. `reference`
        is the caller's reference when the caller has read it already (None: the request
        has none); by default it is read from the request.
        """
        future: Future[Record] = Future()
        reference, request_text, response_text = _texts(request, response, reference)
        # Under the lock: a concurrent close() must not strand the record behind its stop
        # mark, and times follow log order.
        with self._start:
            self._put(_Pending(record_id or new_record_id(), self._clock(), kind, reference, request_text, response_text,
                               policy, self.engine_version, future))
        return future

    async def append(
        self,
        kind: str,
        request: Json | bytes,
        response: Json | bytes,
        policy: Policy,
        record_id: str | None = None,
        reference: str | None | _Reference = FROM_REQUEST,
    ) -> Record:
        """`submit` for a coroutine: returns the record once it is committed.

        The records appended during one turn of the event loop reach the writer together
        when the turn ends (one hand-off, one batch); the writer wakes each event loop
        once per committed batch (not once per record), and the coroutine waits on a
        plain asyncio future, not a wrapped thread future.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Record] = loop.create_future()
        reference, request_text, response_text = _texts(request, response, reference)
        item = _Turn(record_id or new_record_id(), kind, reference, request_text, response_text, policy, future)
        with self._start:
            turn = self._turns.get(loop)
            if turn is None:
                turn = self._turns[loop] = []
                # Runs after every callback already scheduled for this turn: the requests
                # decided in this turn are all in `turn` by then.
                loop.call_soon(self._hand_over, loop)
            turn.append(item)
        return await future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """The end of an event-loop turn: its records go to the writer as one batch."""
        with self._start:
            self._hand_over_locked(loop)

    def _hand_over_locked(self, loop: asyncio.AbstractEventLoop) -> None:
        turn = self._turns.pop(loop, None)
        if not turn:
            return  # close() handed them over already
        now = self._clock()  # one time for the turn: times still follow log order
        version = self.engine_version
        self._put([_Pending(t.id, now, t.kind, t.reference, t.request, t.response, t.policy, version, t.future, loop) for t in turn])

    def _put(self, item: _Pending | list[_Pending]) -> None:
        """Queue a record or a turn's records for the writer, starting it if needed (under _start)."""
        if self._writer is None:
            self._writer = threading.Thread(target=self._run, name="tiaokuai-decision-log", daemon=True)
            self._writer.start()
        self._queue.put(item)

    def log(
        self,
        kind: str,
        request: Json | bytes,
        response: Json | bytes,
        policy: Policy,
        record_id: str | None = None,
    ) -> Record:
        """Append one record and return it once committed (blocking)."""
        return self.submit(kind, request, response, policy, record_id).result()

    def store_policy(self, policy: Policy) -> None:
        """Store a policy version (files + digest) if it is not stored yet."""
        with self._writing, self.db.connect().execution_options(writer=True) as conn, conn.begin():
            _lock(conn)
            self._store_policy(conn, policy)
        self._known_policies.add(policy.digest)

    def activate(self, policy: Policy, source: str) -> None:
        """Record that `policy` is now the active version (stored first if needed)."""
        with self._writing, self.db.connect().execution_options(writer=True) as conn, conn.begin():
            _lock(conn)
            self._store_policy(conn, policy)
            last = conn.execute(select(activations.c.seq).order_by(activations.c.seq.desc()).limit(1)).first()
            if self._active_of(conn, policy.id) == policy.digest:
                return
            conn.execute(activations.insert().values(seq=(last[0] if last else 0) + 1, digest=policy.digest, time=self._clock(), source=source[:500]))
        self._known_policies.add(policy.digest)

    def active_digest(self, policy_id: str | None = None) -> str | None:
        """The digest of the most recently activated policy version, if any; with
        `policy_id`, of that jurisdiction's (each jurisdiction activates its own)."""
        with self.db.connect() as conn:
            return self._active_of(conn, policy_id)

    @staticmethod
    def _active_of(conn: Connection, policy_id: str | None) -> str | None:
        query = select(activations.c.digest).order_by(activations.c.seq.desc()).limit(1)
        if policy_id is not None:
            query = query.join(policy_versions, policy_versions.c.digest == activations.c.digest).where(policy_versions.c.policy_id == policy_id)
        row = conn.execute(query).first()
        return None if row is None else str(row[0])

    def head(self) -> tuple[int, str]:
        """(number of records, hash of the last one): what a checkpoint signs."""
        with self.db.connect() as conn:
            row = conn.execute(HEAD).first()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def hash_at(self, seq: int) -> str | None:
        with self.db.connect() as conn:
            row = conn.execute(select(decisions.c.hash).where(decisions.c.seq == seq)).first()
        return None if row is None else str(row[0])

    def chain_heads(self) -> dict[str, tuple[int, str]]:
        """Each jurisdiction's chain: policy id → (records in it, hash of its last record)."""
        last = (
            select(decisions.c.policy_id, func.count().label("records"), func.max(decisions.c.seq).label("seq"))
            .group_by(decisions.c.policy_id)
            .subquery()
        )
        query = select(last.c.policy_id, last.c.records, decisions.c.hash).join(decisions, decisions.c.seq == last.c.seq)
        with self.db.connect() as conn:
            return {str(r.policy_id): (int(r.records), str(r.hash)) for r in conn.execute(query)}

    def chain_hash_at(self, policy_id: str, n: int) -> str | None:
        """The hash of the n-th record (from 1) of one jurisdiction's chain."""
        query = select(decisions.c.hash).where(decisions.c.policy_id == policy_id).order_by(decisions.c.seq).offset(n - 1).limit(1)
        with self.db.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else str(row[0])

    def _store_policy(self, conn: Connection, policy: Policy) -> None:
        if policy.digest in self._known_policies:
            return
        found = conn.execute(select(policy_versions.c.digest).where(policy_versions.c.digest == policy.digest)).first()
        if found is None:
            conn.execute(
                policy_versions.insert().values(
                    digest=policy.digest,
                    policy_id=policy.id,
                    version=policy.version,
                    files=canonical(dict(policy.files)),
                    stored_at=self._clock(),
                )
            )

    def _run(self) -> None:
        # The writer keeps one connection for its lifetime (reopened after a failure).
        conn: Connection | None = None
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                taken, stop = take_batch(self._queue, first, MAX_BATCH)
                pending = [p for item in taken for p in (item if isinstance(item, list) else (item,))]
                for start in range(0, len(pending), MAX_BATCH):
                    batch = pending[start : start + MAX_BATCH]
                    if conn is None:
                        conn = self._connect_writer(batch)
                        if conn is None:
                            continue
                    if not self._write_batch(conn, batch):
                        conn.invalidate()
                        conn.close()
                        conn = None
                if stop:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _connect_writer(self, batch: list[_Pending]) -> Connection | None:
        try:
            return self.db.connect().execution_options(writer=True)
        except Exception as exc:  # noqa: BLE001 - the waiting requests must hear of it
            self.last_failure = (self._clock(), f"the decision log could not commit: {exc}")
            _settle(batch, None, exc)
            return None

    def _statements(self, conn: Connection) -> _Statements:
        """The writer's SQL in the driver's own dialect and parameter style, compiled once.

        # NOTE: the writer's hot path runs on the driver connection itself: SQLAlchemy's
        # statement and transaction handling cost more than the SQLite write
        # (bench/results.md, "what each change bought").
        """
        if self._compiled is None:
            dialect = conn.dialect
            if dialect.name == "sqlite":
                begin, lock = "BEGIN IMMEDIATE", None
            else:
                begin, lock = None, f"SELECT pg_advisory_xact_lock({PG_LOCK_KEY})"
            mark = "?" if dialect.paramstyle == "qmark" else "%s"  # sqlite3 / psycopg
            chain_head = f"SELECT hash FROM decisions WHERE policy_id = {mark} ORDER BY seq DESC LIMIT 1"
            heads = f"SELECT (SELECT seq FROM decisions ORDER BY seq DESC LIMIT 1), ({chain_head})"
            self._compiled = _Statements(mark, heads, begin, lock, chain_head)
        return self._compiled

    def _write_batch(self, conn: Connection, batch: list[_Pending]) -> bool:
        """Write one batch in one transaction on the driver connection; wake its waiters
        only after COMMIT returned. False if it failed (nothing of it was committed)."""
        with self._writing:
            return self._write_batch_locked(conn, batch)

    def _write_batch_locked(self, conn: Connection, batch: list[_Pending]) -> bool:
        new_policies = {p.policy.digest: p.policy for p in batch if p.policy.digest not in self._known_policies}
        try:
            if new_policies:
                # Stored (in its own transaction) before any record that names it.
                with conn.begin():
                    _lock(conn)
                    for policy in new_policies.values():
                        self._store_policy(conn, policy)
                self._known_policies.update(new_policies)
            sql = self._statements(conn)
            dbapi = conn.connection.driver_connection
            if dbapi is None:
                raise LogError("the decision log's connection is closed")
            cursor = dbapi.cursor()
            try:
                if sql.begin is not None:
                    cursor.execute(sql.begin)
                if sql.lock is not None:
                    cursor.execute(sql.lock)
                # the log's last seq and the first record's chain head, in one query
                cursor.execute(sql.heads, (batch[0].policy.id,))
                last_seq, first_head = cursor.fetchone()
                seq = 0 if last_seq is None else int(last_seq)
                heads = {batch[0].policy.id: GENESIS if first_head is None else str(first_head)}  # policy id → its chain's last hash
                records: list[Record] = []
                for item in batch:
                    seq += 1
                    policy = item.policy
                    if policy.id not in heads:
                        cursor.execute(sql.chain_head, (policy.id,))
                        found = cursor.fetchone()
                        heads[policy.id] = str(found[0]) if found is not None else GENESIS
                    prev = heads[policy.id]
                    fields = {
                        "seq": seq,
                        "id": item.id,
                        "time": item.time,
                        "kind": item.kind,
                        "reference": item.reference,
                        "request": item.request,
                        "response": item.response,
                        "policy_id": policy.id,
                        "policy_version": policy.version,
                        "policy_digest": policy.digest,
                        "engine_version": item.engine_version,
                        "prev_hash": prev,
                    }
                    digest = heads[policy.id] = chain_hash(fields)
                    records.append(Record(**fields, hash=digest))  # type: ignore[arg-type]
                for start in range(0, len(records), ROWS_PER_INSERT):
                    rows = records[start : start + ROWS_PER_INSERT]
                    cursor.execute(sql.insert(len(rows)), [value for row in rows for value in row])
                dbapi.commit()
            except BaseException:
                try:
                    dbapi.rollback()
                finally:
                    cursor.close()
                raise
            cursor.close()
            # the transaction has committed here: only now may anyone be told
        except Exception as exc:  # noqa: BLE001 - every failure must reach the waiting requests
            self.last_failure = (self._clock(), f"the decision log could not commit: {exc}")
            _settle(batch, None, exc)
            return False
        self.last_failure = None
        _settle(batch, records, None)
        return True

    def close(self) -> None:
        """Commit what is queued, stop the writer and release the database's connections.

        The log stays usable: a later `submit` starts a new writer.
        """
        with self._start:
            for loop in list(self._turns):
                self._hand_over_locked(loop)  # records of a turn not yet ended are committed too
            writer, self._writer = self._writer, None
            if writer is not None:
                self._queue.put(None)
                writer.join()
        self.db.dispose()

    # --- reading ------------------------------------------------------------------

    def get(self, record_id: str) -> Record:
        with self.db.connect() as conn:
            row = conn.execute(select(decisions).where(decisions.c.id == record_id)).first()
        if row is None:
            raise RecordNotFound(f"no decision `{record_id}` in the log")
        return Record(**row._asdict())

    def query(
        self,
        *,
        reference: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[Record]:
        """Records in log order; `since` inclusive, `until` exclusive (UTC times as stored),
        `after` a `seq` to continue from."""
        stmt = select(decisions).order_by(decisions.c.seq).limit(limit)
        if reference is not None:
            stmt = stmt.where(decisions.c.reference == reference)
        if kind is not None:
            stmt = stmt.where(decisions.c.kind == kind)
        if since is not None:
            stmt = stmt.where(decisions.c.time >= since)
        if until is not None:
            stmt = stmt.where(decisions.c.time < until)
        if after is not None:
            stmt = stmt.where(decisions.c.seq > after)
        with self.db.connect() as conn:
            return [Record(**row._asdict()) for row in conn.execute(stmt)]

    def count(self) -> int:
        with self.db.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())

    def records(self, kind: str | None = None, batch: int = 1000) -> Iterator[Record]:
        """Every record in log order, read page by page."""
        after = 0
        while True:
            page = self.query(kind=kind, after=after, limit=batch)
            yield from page
            if len(page) < batch:
                return
            after = page[-1].seq

    def policy_files(self, digest: str) -> dict[str, str]:
        """The files of a stored policy version, checked against their digest."""
        with self.db.connect() as conn:
            row = conn.execute(select(policy_versions.c.files).where(policy_versions.c.digest == digest)).first()
        if row is None:
            raise RecordNotFound(f"no stored policy with digest `{digest}`")
        files: dict[str, str] = json.loads(row[0])
        if digest_files(files) != digest:
            raise LogError(f"stored policy `{digest[:12]}` does not match its digest: it was altered")
        return files

    def verify(self) -> Verification:
        """Walk every chain from the first record; report the first link that does not hold.

        One hash chain per policy id (jurisdiction); `seq` numbers the database's records.
        Also checks the stored policy versions: each must match its digest and its own
        `policy.yaml` id and version, and every record's policy must be stored under the
        id and version the record names (else it could not be replayed).
        """
        heads: dict[str, str] = {}
        lengths: dict[str, int] = {}
        prev, count = GENESIS, 0
        broken: Broken | None = None
        named: dict[str, tuple[int, str, str, str]] = {}  # digest → first (seq, id, policy id, version) naming it
        with self.db.connect() as conn:
            stored = {
                str(r.digest): (str(r.policy_id), str(r.version), str(r.files))
                for r in conn.execute(select(policy_versions.c.digest, policy_versions.c.policy_id, policy_versions.c.version, policy_versions.c.files))
            }
            rows = conn.execution_options(yield_per=1000).execute(select(decisions).order_by(decisions.c.seq))
            try:
                for row in rows:
                    record = Record(**row._asdict())
                    broken = _check_link(record, count + 1, heads.get(record.policy_id, GENESIS))
                    if broken is not None:
                        break
                    named.setdefault(record.policy_digest, (record.seq, record.id, record.policy_id, record.policy_version))
                    prev = heads[record.policy_id] = record.hash
                    lengths[record.policy_id] = lengths.get(record.policy_id, 0) + 1
                    count += 1
            finally:
                rows.close()  # a server-side cursor on PostgreSQL: release it even when stopping early
        if broken is not None:
            return Verification(count, prev, len(stored), broken, lengths)
        broken = _check_policies(stored, named)
        return Verification(count, prev, len(stored), broken, lengths)


def _check_policies(stored: Mapping[str, tuple[str, str, str]], named: Mapping[str, tuple[int, str, str, str]]) -> Broken | None:
    import yaml

    for digest, (policy_id, version, files_json) in stored.items():
        files = json.loads(files_json)
        if digest_files(files) != digest:
            return Broken(0, digest, f"stored policy `{digest[:12]}` does not match its digest (its files were altered)")
        try:
            manifest = (yaml.safe_load(files.get("policy.yaml", "")) or {}).get("policy") or {}
        except (yaml.YAMLError, AttributeError):
            manifest = {}
        if (str(manifest.get("id")), str(manifest.get("version"))) != (policy_id, version):
            return Broken(0, digest, f"stored policy `{digest[:12]}` is labelled {policy_id} {version} but its policy.yaml says "
                                     f"{manifest.get('id')} {manifest.get('version')} (relabelled)")
    for digest, (seq, record_id, policy_id, version) in sorted(named.items(), key=lambda item: item[1][0]):
        if digest not in stored:
            return Broken(seq, record_id, f"its policy version `{digest[:12]}` is not stored (deleted): it cannot be replayed")
        if stored[digest][:2] != (policy_id, version):
            return Broken(seq, record_id, f"it names policy {policy_id} {version} but `{digest[:12]}` is stored as {stored[digest][0]} {stored[digest][1]}")
    return None


def take_batch(pending: queue.SimpleQueue[T | None], first: T, limit: int) -> tuple[list[T], bool]:
    """A writer's next batch: `first` and whatever else is queued, up to `limit`; and whether
    the stop mark (None) was met. One group commit per batch (the decision log, case events)."""
    batch, stop = [first], False
    while len(batch) < limit:
        try:
            item = pending.get_nowait()
        except queue.Empty:
            break
        if item is None:
            stop = True
            break
        batch.append(item)
    return batch, stop


def _check_link(record: Record, expected_seq: int, prev: str) -> Broken | None:
    if record.seq != expected_seq:
        return Broken(expected_seq, None, f"record #{expected_seq} is missing (next is #{record.seq})")
    if record.prev_hash != prev:
        reason = "its prev_hash does not match the previous record's hash (a record before it was removed or replaced)"
        return Broken(record.seq, record.id, reason)
    if record.computed_hash() != record.hash:
        return Broken(record.seq, record.id, "its content does not match its hash (the record was altered)")
    return None


def open_log(url: str, engine_version: str | None = None, sqlite_synchronous: str = "FULL", migrate: bool = True) -> DecisionLog:
    """Open (and by default migrate) the decision log at `url`. Raises LogError."""
    if engine_version is None:
        from engine.version import ENGINE_VERSION

        engine_version = ENGINE_VERSION
    try:
        db = make_engine(url, sqlite_synchronous)
        if migrate:
            upgrade(db)
    except LogError:
        raise
    except Exception as exc:  # noqa: BLE001 - any driver or migration failure is reported the same way
        raise LogError(f"cannot open the decision log at {describe_url(url)}: {exc}") from exc
    return DecisionLog(db, engine_version)


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))
