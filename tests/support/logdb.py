"""Decision-log databases for tests: SQLite always, PostgreSQL when TIAOKUAI_DATABASE_URL
names one (`make test-postgres` starts a local server and sets it).

Each PostgreSQL test gets its own schema (dropped afterwards), so the tests never touch
tables outside it even when the URL points at a shared database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine.log.store import DecisionLog, open_log

ENV = "TIAOKUAI_DATABASE_URL"


def postgres_url() -> str | None:
    url = os.environ.get(ENV)
    if url and make_url(url).get_backend_name() == "postgresql":
        return url
    return None


# PostgreSQL joins only when configured, so plain `make test` lists no skipped copies.
BACKENDS = ["sqlite"] + (["postgresql"] if postgres_url() else [])


@pytest.fixture(params=BACKENDS)
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty decision-log URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'log.sqlite3'}"
        return
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


@pytest.fixture
def decision_log(log_url: str) -> Iterator[DecisionLog]:
    log = open_log(log_url)
    yield log
    log.close()
