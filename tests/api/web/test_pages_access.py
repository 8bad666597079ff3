"""The pages honour the API's scopes: a browser signs in with a token (exchanged for an
HttpOnly, SameSite session cookie), forms carry a CSRF token, case data needs
`decisions:read`, deciding needs `cases:decide` when it is closed and trial decisions are
logged as their own kind, the diff page needs `policy:admin`; every page sends a CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from api.tokens import AuthConfig
from engine import Replayer
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY

TOKENS = {name: f"{name}-token-for-page-access-tests-000" for name in ("reader", "decider", "auditor", "ops")}
SCOPES = {"reader": ["list:read"], "decider": ["cases:decide"], "auditor": ["decisions:read"], "ops": ["policy:admin", "decisions:read"]}
CONFIG = '{"tokens": [' + ", ".join(f'{{"name": "{n}", "token": "{t}", "scopes": {SCOPES[n]}}}'.replace("'", '"') for n, t in TOKENS.items()) + "]}"
CASE = {"matter": "WAT-01", "township": "gaojia", "as_of": "2026-11-01", "attr.site_type": "river"}


@pytest.fixture
def closed(tmp_path: Path, seed_runtime: Runtime) -> Iterator[TestClient]:
    """Deciding closed (TIAOKUAI_AUTH_DECIDE=token), the list open."""
    auth = AuthConfig.parse(CONFIG, "tests", decide="token")
    app = create_app(Settings(SEED_POLICY, f"sqlite:///{tmp_path / 'log.sqlite3'}", auth=auth), runtime=seed_runtime)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def csrf(client: TestClient, path: str = "/signin") -> str:
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', client.get(path).text)
    assert match is not None
    return match.group(1)


def sign_in(client: TestClient, name: str, next_path: str = "/list") -> None:
    r = client.post("/signin", data={"token": TOKENS[name], "next": next_path, "csrf": csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == next_path, r.text
    cookie = r.headers["set-cookie"]
    assert "tiaokuai_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert TOKENS[name] not in cookie  # the cookie names the token, it never holds it


def log_count(client: TestClient) -> int:
    count: int = client.app.state.decision_log.count()  # type: ignore[attr-defined]
    return count


def test_playground_does_not_decide_without_the_scope_when_deciding_is_closed(closed: TestClient) -> None:
    r = closed.post("/playground", data={**CASE, "csrf": csrf(closed, "/playground")})
    assert r.status_code == 401 and 'id="lead"' not in r.text and "cases:decide" in r.text
    assert log_count(closed) == 0
    sign_in(closed, "reader")
    r = closed.post("/playground", data={**CASE, "csrf": csrf(closed, "/playground")})
    assert r.status_code == 403 and 'id="lead"' not in r.text and log_count(closed) == 0


def test_a_trial_decision_is_logged_as_its_own_kind_and_replays(closed: TestClient) -> None:
    sign_in(closed, "decider", "/playground")
    r = closed.post("/playground", data={**CASE, "csrf": csrf(closed, "/playground")})
    assert r.status_code == 200 and 'id="lead" data-id="qj-water"' in r.text
    log = closed.app.state.decision_log  # type: ignore[attr-defined]
    (record,) = log.query(kind="trial")
    assert record.request_json() == {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
    from api.http.logged import REPLAY_KINDS

    assert Replayer(log, REPLAY_KINDS).replay(record).identical


def test_a_form_without_its_csrf_token_is_refused(closed: TestClient) -> None:
    sign_in(closed, "decider")
    r = closed.post("/playground", data=CASE)
    assert r.status_code == 403 and "csrf" in r.text.lower() and log_count(closed) == 0
    r = closed.post("/playground", data={**CASE, "csrf": "0" * 64})
    assert r.status_code == 403 and log_count(closed) == 0
    r = closed.post("/signin", data={"token": TOKENS["ops"], "next": "/diff"})
    assert r.status_code == 403 and "set-cookie" not in {k.lower() for k in r.headers if "session" in r.headers[k]}


def test_the_township_view_of_the_list_decides_only_with_the_scope(closed: TestClient) -> None:
    r = closed.get("/list", params={"township": "lianhua"})
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=/list")
    assert closed.get("/list").status_code == 200  # the list itself stays open
    sign_in(closed, "decider")
    assert closed.get("/list", params={"township": "lianhua"}).status_code == 200


def test_clause_pages_show_logged_decisions_only_with_decisions_read(closed: TestClient) -> None:
    sign_in(closed, "decider", "/playground")
    closed.post("/playground", data={**CASE, "csrf": csrf(closed, "/playground")})
    closed.cookies.clear()
    body = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
    decision_id = closed.post("/v1/cases/lead", json=body, headers={"Authorization": f"Bearer {TOKENS['decider']}"}).json()["decision_id"]
    page = closed.get("/clauses/YJS-SAND-RIVER").text
    assert decision_id not in page and "高家镇" not in page.split("近期决策")[-1] and "decisions:read" in page
    sign_in(closed, "auditor")
    assert decision_id in closed.get("/clauses/YJS-SAND-RIVER").text


def test_the_diff_page_needs_policy_admin(closed: TestClient) -> None:
    r = closed.get("/diff")
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/diff&scope=policy:admin"
    sign_in(closed, "auditor")
    r = closed.get("/diff")
    assert r.status_code == 403 and "policy:admin" in r.text
    sign_in(closed, "ops", "/diff")
    assert closed.get("/diff").status_code == 200


def test_signing_out_ends_the_session_and_a_bad_token_is_401(closed: TestClient) -> None:
    r = closed.post("/signin", data={"token": "not-a-token", "next": "/diff", "csrf": csrf(closed)})
    assert r.status_code == 401 and "tiaokuai_session" not in r.headers.get("set-cookie", "")
    sign_in(closed, "ops", "/diff")
    assert closed.get("/diff").status_code == 200
    r = closed.post("/signout", data={"csrf": csrf(closed, "/list")})
    assert r.status_code == 303
    assert closed.get("/diff").status_code == 303


def test_an_open_redirect_after_sign_in_is_refused(closed: TestClient) -> None:
    r = closed.post("/signin", data={"token": TOKENS["ops"], "next": "//evil.example/x", "csrf": csrf(closed)})
    assert r.status_code == 303 and r.headers["location"] == "/list"


def test_every_page_sends_a_content_security_policy(closed: TestClient) -> None:
    for path in ("/list", "/signin", "/clauses/WAT-01", "/report", "/playground", "/list.html"):
        r = closed.get(path)
        policy = r.headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src" not in policy, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert ' style="' not in r.text, f"{path}: an inline style attribute the policy would block"


def test_case_pages_sign_in_like_the_other_pages(tmp_path: Path, seed_runtime: Runtime) -> None:
    config = CONFIG.replace('"ops", "token"', '"ops", "token"').replace('["policy:admin", "decisions:read"]', '["policy:admin", "decisions:read", "cases:read"]')
    auth = AuthConfig.parse(config, "tests", decide="token", cases="token")
    app = create_app(Settings(SEED_POLICY, f"sqlite:///{tmp_path / 'log.sqlite3'}", auth=auth), runtime=seed_runtime)
    with TestClient(app, follow_redirects=False) as client:
        r = client.get("/cases")
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=/cases&scope=cases:read"
        sign_in(client, "auditor", "/cases")
        assert client.get("/cases").status_code == 403
        sign_in(client, "ops", "/cases")
        page = client.get("/cases")
        assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
