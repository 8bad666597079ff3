"""The lead fast path (api/http/fastpath.py) answers exactly like the FastAPI route it bypasses.

Every request below goes once through the app as served (fast path in front) and once
through the FastAPI stack alone; status, headers and body must be the same (the body up to
its fresh decision id), every 200 must be in the decision log with the bytes sent, and the
fast path must really be the one answering the plain valid requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from api.http import app as app_module
from api.http.app import create_app
from api.http.body_limits import utf8_without_bom
from api.http.fastpath import LeadFastPath
from api.http.logged import REPLAY_KINDS
from api.http.schemas.lead import LeadRequestV1
from api.settings import Settings
from api.tokens import AuthConfig
from engine import LogError, Replayer, Runtime
from tests.conftest import SEED_POLICY

CASE = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
DECIDER = "decider-1b2c3d4e5f6a7b8c9d0e1f2a"
TOKENS = json.dumps({"tokens": [{"name": "hotline", "token": DECIDER, "scopes": ["cases:decide"]},
                                {"name": "lister", "token": "lister-00000000000000000000000", "scopes": ["list:read"]}]})
JSON = {"content-type": "application/json"}

# (body, headers, query): valid cases, and every kind of request the fast path must hand on
REQUESTS: list[tuple[bytes, dict[str, str], str]] = [
    (json.dumps(CASE).encode(), JSON, ""),
    (json.dumps({**CASE, "reference": "12345-20261101-0001"}).encode(), JSON, ""),
    (json.dumps({**CASE, "reference": "引号\"与反斜杠\\"}, ensure_ascii=False).encode(), {"content-type": "application/json; charset=utf-8"}, ""),
    (json.dumps({"township": "zhangtan", "as_of": "2026-11-01"}).encode(), {"content-type": "application/problem+json"}, ""),
    (json.dumps({"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01", "attributes": {"site_type": "farmland"}}).encode(), JSON, ""),
    (json.dumps({**CASE, "jurisdiction": "qujiang"}).encode(), JSON, ""),  # the default jurisdiction named
    (json.dumps({**CASE, "jurisdiction": "qujang"}).encode(), JSON, ""),  # unknown jurisdiction: 404 listing the served
    (json.dumps({**CASE, "township": "gaojai"}).encode(), JSON, ""),  # unknown township: 422 with a hint
    (json.dumps({**CASE, "attributes": {"site_type": "rivr"}}).encode(), JSON, ""),
    (json.dumps({**CASE, "severity": 2}).encode(), JSON, ""),  # an attribute outside `attributes`
    (json.dumps({**CASE, "as_of": "2026-13-01"}).encode(), JSON, ""),
    (json.dumps({**CASE, "as_of": 20261101}).encode(), JSON, ""),
    (b'{"township": "gaojia", "attributes": {"severity": NaN}}', JSON, ""),
    (b'{"township": "gaojia",', JSON, ""),
    (b"", JSON, ""),
    (b"null", JSON, ""),
    (b"[]", JSON, ""),
    (b"\xff\xfe\x00", JSON, ""),
    (b"[" * 5000 + b"]" * 5000, JSON, ""),
    (json.dumps(CASE).encode(), {"content-type": "text/plain"}, ""),
    (json.dumps(CASE).encode(), {}, ""),
    (json.dumps(CASE).encode(), JSON, "x=1"),
    (json.dumps(CASE).encode(), {**JSON, "content-length": "abc"}, ""),
    # bodies a one-pass JSON parser could read otherwise than json.loads
    (b'{"matter":"WAT-01","township":"zhangtan","township":"gaojia","attributes":{"site_type":"river"},"as_of":"2026-11-01"}', JSON, ""),
    (b'{"matter":"WAT-01","township":"gaojia","attributes":{"site_type":"river","severity":123456789012345678901234567890}}', JSON, ""),
    (b'{"matter":"WAT-01","township":"gaojia","attributes":{"site_type":"river","severity":1e400}}', JSON, ""),
    (b'{"matter":"WAT-01","township":"gaojia","attributes":{"site_type":"river"},"reference":"\\ud800"}', JSON, ""),
    (b'{"matter":"WAT-01","township":"gaojia","attributes":{"site_type":"river"},"as_of":"2026-11-01T00:00:00"}', JSON, ""),
]


def make_app(tmp_path: Path, runtime: Runtime, auth: AuthConfig | None = None, max_body: int = 1 << 20) -> FastAPI:
    settings = Settings(SEED_POLICY, f"sqlite:///{tmp_path / 'log.sqlite3'}", max_body_bytes=max_body, auth=auth or AuthConfig())
    return create_app(settings, runtime=runtime)


class Counting:
    """The FastAPI stack behind the fast path, counting the requests it is handed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.calls += 1
        await self.inner(scope, receive, send)


def served(app: FastAPI) -> tuple[TestClient, TestClient, Counting]:
    """(the app as served, the FastAPI stack alone, the counter of hand-overs)."""
    fast = app._fast_path  # type: ignore[attr-defined]  # TiaokuaiApp: in front of FastAPI's own call
    assert isinstance(fast, LeadFastPath)
    counter = Counting(fast.inner)  # FastAPI.__call__ of the same app
    fast.inner = counter
    return TestClient(app), TestClient(counter.inner), counter


def normalised(response: Any) -> tuple[int, dict[str, str], Any]:
    headers = {k: v for k, v in response.headers.items() if k != "content-length"}
    try:
        body = response.json()
    except ValueError:
        return response.status_code, headers, response.text
    if isinstance(body, dict) and "decision_id" in body:
        body["decision_id"] = "…"
    return response.status_code, headers, body


def post(client: TestClient, body: bytes, headers: dict[str, str], query: str) -> Any:
    return client.post("/v1/cases/lead" + (f"?{query}" if query else ""), content=body, headers=headers)


def test_same_answers_as_the_fastapi_route(tmp_path: Path, seed_runtime: Runtime) -> None:
    app = make_app(tmp_path, seed_runtime)
    fast, full, handed_on = served(app)
    for body, headers, query in REQUESTS:
        before = handed_on.calls
        a, b = post(fast, body, headers, query), post(full, body, headers, query)
        assert normalised(a) == normalised(b), (body[:80], headers, query)
        assert a.status_code < 500, (body[:80], a.text)
        if a.status_code == 200:
            assert handed_on.calls == before  # answered by the fast path itself
        else:
            assert handed_on.calls == before + 1  # errors are the FastAPI stack's own answers


def test_every_answer_is_logged_with_the_bytes_sent_and_replays(tmp_path: Path, seed_runtime: Runtime) -> None:
    app = make_app(tmp_path, seed_runtime)
    fast, _, _ = served(app)
    sent = {}
    for body in [{**CASE, "reference": f"R-{i}"} for i in range(5)] + [{"township": "hunan", "as_of": "2026-11-01"}]:
        raw = json.dumps(body, ensure_ascii=False).encode()
        r = fast.post("/v1/cases/lead", content=raw, headers=JSON)
        assert r.status_code == 200
        sent[r.json()["decision_id"]] = (raw, r.content)
    log = app.state.decision_log
    assert log.verify().ok and log.verify().records == len(sent)
    replayer = Replayer(log, REPLAY_KINDS)
    for decision_id, (raw, content) in sent.items():
        record = log.get(decision_id)
        assert record.request == raw.decode() and record.response == content.decode()
        assert replayer.replay(record).identical
    assert log.get(next(iter(sent))).reference == "R-0"


def test_the_scope_is_honoured(tmp_path: Path, seed_runtime: Runtime) -> None:
    app = make_app(tmp_path, seed_runtime, AuthConfig.parse(TOKENS, "test", decide="token"))
    fast, full, handed_on = served(app)
    raw = json.dumps(CASE).encode()
    for headers in ({}, {"Authorization": "Bearer nope-nope-nope-nope-nope-nope"}, {"Authorization": "Basic " + DECIDER},
                    {"Authorization": "Bearer lister-00000000000000000000000"}, {"Authorization": "Bearer"}):
        a, b = post(fast, raw, {**JSON, **headers}, ""), post(full, raw, {**JSON, **headers}, "")
        assert a.status_code in (401, 403) and normalised(a) == normalised(b), headers
    before = handed_on.calls
    ok = post(fast, raw, {**JSON, "Authorization": f"Bearer {DECIDER}"}, "")
    assert ok.status_code == 200 and handed_on.calls == before


def test_body_limit(tmp_path: Path, seed_runtime: Runtime) -> None:
    app = make_app(tmp_path, seed_runtime, max_body=200)
    fast, full, _ = served(app)
    big = json.dumps({**CASE, "reference": "x" * 120}).encode()
    assert len(big) > 200
    for client in (fast, full):
        r = post(client, big, JSON, "")
        assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield big[:100]
        yield big[100:]

    r = fast.post("/v1/cases/lead", content=chunks(), headers=JSON)
    assert r.status_code == 413 and r.json()["error"]["code"] == "body_too_large"


def test_a_log_that_cannot_commit_gives_no_answer(tmp_path: Path, seed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(tmp_path, seed_runtime)
    fast, _, _ = served(app)

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise LogError("the decision log could not commit: disk full")

    monkeypatch.setattr(app.state.decision_log, "append", broken)
    r = fast.post("/v1/cases/lead", json=CASE)
    assert r.status_code == 503 and r.json()["error"]["code"] == "decision_log_unavailable"
    assert "decision_id" not in r.text


def test_openapi_document_is_fastapis_own(tmp_path: Path, seed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path changes no route declaration: the document equals the one plain FastAPI
    builds for the same app, and the lead operation keeps its models and examples."""
    served_doc = make_app(tmp_path / "a", seed_runtime).openapi()
    monkeypatch.setattr(app_module, "TiaokuaiApp", FastAPI)
    plain = make_app(tmp_path / "b", seed_runtime)
    assert not isinstance(plain.build_middleware_stack(), LeadFastPath)
    assert served_doc == plain.openapi()
    post_op = served_doc["paths"]["/v1/cases/lead"]["post"]
    assert post_op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/LeadRequestV1"}
    assert post_op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/DecisionV1"}
    assert set(post_op["requestBody"]["content"]["application/json"]["examples"]) == {"sand_mining", "ticket_text", "outside_list"}


def test_a_failed_group_commit_answers_503_to_every_request_in_it(tmp_path: Path, seed_runtime: Runtime) -> None:
    """Concurrent lead requests share one commit; when it fails, each of them gets a 503 and
    none is in the log, the answers acknowledged before stay, and the next requests are
    logged again."""
    import asyncio

    import httpx
    from sqlalchemy import text

    app = make_app(tmp_path, seed_runtime)
    decision_log = app.state.decision_log

    async def lead_requests(n: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            return await asyncio.gather(*(client.post("/v1/cases/lead", json={**CASE, "reference": f"G-{i}"}) for i in range(n)))

    acknowledged = [r.json()["decision_id"] for r in asyncio.run(lead_requests(4))]
    with decision_log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions RENAME TO decisions_gone"))
    failed = asyncio.run(lead_requests(12))
    with decision_log.db.begin() as conn:
        conn.execute(text("ALTER TABLE decisions_gone RENAME TO decisions"))
    assert [r.status_code for r in failed] == [503] * 12
    assert all(r.json()["error"]["code"] == "decision_log_unavailable" and "decision_id" not in r.text for r in failed)
    assert sorted(r.id for r in decision_log.records()) == sorted(acknowledged)
    again = asyncio.run(lead_requests(3))
    assert [r.status_code for r in again] == [200] * 3
    assert decision_log.count() == 7 and decision_log.verify().ok
    decision_log.close()


class RawJson(str):
    """A number written into the JSON text as it is."""


# Where a one-pass JSON parser and json.loads could part ways: numbers past 64 bits, past a
# double's range, NaN, lone surrogates, duplicate keys, dates with more than a date in them.
SCALARS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["1e400", "-1e400", "-0.0", "1.0", "1E2", "0.1e-400", "12345678901234567890", "123456789012345678901234567890"]).map(RawJson),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["river", "farmland", "\ud800", "\udfff x", "高家镇", "2026-11-01", "2026-11-01T00:00:00", "2026-1-01",
                     "2026-11-01 ", "2026-02-30", "20261101", "2026/11/01"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
TEXTS = st.text(max_size=12) | st.sampled_from(["gaojia", "WAT-01", "qujiang", "\ud800", "\udfff x", "高家镇"])
DATES = st.sampled_from(["2026-11-01", "2026-11-01T00:00:00", "2026-1-01", "2026-11-01 ", "2026-02-30", "20261101", "2026/11/01", "2026-11-0a"])
# Mostly values of the field's own kind (so many bodies are valid), sometimes anything.
FIELDS = {
    "jurisdiction": TEXTS, "matter": TEXTS, "township": TEXTS, "text": TEXTS, "place": TEXTS, "reference": TEXTS,
    "as_of": DATES, "attributes": st.dictionaries(st.sampled_from(["site_type", "severity", "x", "高"]), SCALARS, max_size=3),
}


def _text(value: Any, ascii_only: bool) -> str:
    if isinstance(value, RawJson):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=ascii_only)}:{_text(v, ascii_only)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_text(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


@st.composite
def lead_bodies(draw: st.DrawFn) -> bytes:
    names = draw(st.lists(st.sampled_from([*FIELDS, "severity"]), max_size=6))  # names may repeat
    pairs = [(name, draw(VALUES if name not in FIELDS or draw(st.integers(0, 9)) == 0 else FIELDS[name])) for name in names]
    ascii_only = draw(st.booleans())
    space = draw(st.sampled_from(["", " ", "\n", "\t "]))
    members = ",".join(f"{json.dumps(key)}:{_text(value, ascii_only)}" for key, value in pairs)
    return f"{space}{{{members}}}{space}".encode("utf-8", "surrogatepass")


@settings(max_examples=1500, deadline=None)
@given(lead_bodies())
def test_one_pass_validation_accepts_only_what_the_route_accepts_with_the_same_values(body: bytes) -> None:
    """The fast path reads a body with `model_validate_json`; the route with json.loads and
    python-mode validation. Whatever the first accepts, the second must accept with the same
    values and types (1, 1.0 and True are not the same attribute)."""
    if not utf8_without_bom(body):
        return  # the fast path hands such a body to the app before reading it
    try:
        fast = LeadRequestV1.model_validate_json(body)
    except ValidationError:
        return  # handed to the app, whose answer is the error or the decision
    route = LeadRequestV1.model_validate(json.loads(body))
    assert repr(fast.model_dump()) == repr(route.model_dump()), body
