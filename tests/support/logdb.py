"""Decision-log databases for tests: SQLite always, PostgreSQL when one is configured.

`make test` starts a private PostgreSQL when it can (scripts/with-postgres.sh) and names it
in TIAOKUAI_TEST_POSTGRES_URL; `make test-postgres` sets TIAOKUAI_DATABASE_URL instead.

Each PostgreSQL test gets its own schema (dropped afterwards), so the tests never touch
tables outside it even when the URL points at a shared database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.log.store import DecisionLog, open_log

ENVS = ("TIAOKUAI_TEST_POSTGRES_URL", "TIAOKUAI_DATABASE_URL")


def postgres_url() -> str | None:
    for env in ENVS:
        url = os.environ.get(env)
        if url and make_url(url).get_backend_name() == "postgresql":
            return url
    return None


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema of the test PostgreSQL (dropped afterwards)."""
    base = postgres_url()
    assert base is not None
    schema = f"tk_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(base).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# PostgreSQL joins only when configured, so plain `make test` lists no skipped copies.
BACKENDS = ["sqlite"] + (["postgresql"] if postgres_url() else [])


@pytest.fixture(params=BACKENDS)
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty decision-log URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.sqlite3'}"
        return
    with pg_schema_url() as url:
        yield url


@pytest.fixture
def decision_log(log_url: str) -> Iterator[DecisionLog]:
    log = open_log(log_url)
    yield log
    log.close()
