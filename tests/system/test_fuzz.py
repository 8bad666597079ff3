"""Schemathesis against the OpenAPI schema: generated valid and invalid requests for every
operation, checked for 5xx, undocumented status codes, content types and response bodies
that break the documented schema. Bounded (examples per operation, no deadline) to keep
`make test` short; the seed policy's ids make most generated cases 422, the examples and
the explicit cases below reach the engine."""

from __future__ import annotations

import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from api.http.app import create_app
from api.settings import Settings
from api.tokens import AuthConfig
from tests.conftest import SEED_POLICY, runtime_for

TOKEN = "fuzz-token-with-every-scope-0123456789"
AUTH = AuthConfig.parse(
    f'{{"tokens": [{{"name": "fuzz", "token": "{TOKEN}", "scopes": ["decisions:read", "policy:admin", "cases:decide", "list:read"]}}]}}',
    "test",
    decide="token",
    list_="token",
)
# The decision log needs a file (an in-memory SQLite database is private to one connection).
_log_dir = tempfile.TemporaryDirectory(prefix="tiaokuai-fuzz-")
_log_url = f"sqlite:///{Path(_log_dir.name) / 'log.sqlite3'}"
app = create_app(Settings(SEED_POLICY, _log_url, auth=AUTH, max_body_bytes=256 * 1024), runtime=runtime_for(SEED_POLICY))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    # NOTE: positive_data_acceptance is off: a schema-valid body naming a township or
    # matter the policy does not have is rightly a 422 (the vocabulary lives in policy/,
    # reloadable, not in the OpenAPI schema). Every other check runs.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
