"""Access control: scopes per surface, open or token-protected by configuration, tokens
compared in constant time and never written to logs."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from api.tokens import AuthConfig, AuthConfigError
from tests.conftest import SEED_POLICY, runtime_for

ADMIN = "admin-3f9c2b7e1d8a4c6b9e0f1a2b"
READER = "reader-7a1e5c3b9d2f4e8a6c0b1d2e"
DECIDER = "decider-1b2c3d4e5f6a7b8c9d0e1f2a"
CASE = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}
TOKENS = {
    "tokens": [
        {"name": "ops", "sha256": hashlib.sha256(ADMIN.encode()).hexdigest(), "scopes": ["policy:admin"]},
        {"name": "audit", "token": READER, "scopes": ["decisions:read", "list:read"]},
        {"name": "hotline", "token": DECIDER, "scopes": ["cases:decide"]},
    ]
}


def client_for(decide: str = "open", list_: str = "open") -> TestClient:
    auth = AuthConfig.parse(json.dumps(TOKENS), "test", decide=decide, list_=list_)  # type: ignore[arg-type]
    return TestClient(create_app(Settings(SEED_POLICY, "sqlite://", auth=auth), runtime=runtime_for(SEED_POLICY)))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_open_by_default_for_deciding_and_the_list() -> None:
    client = client_for()
    assert client.post("/v1/cases/lead", json=CASE).status_code == 200
    assert client.get("/v1/matters").status_code == 200
    assert client.get("/v1/policy").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_reload_always_needs_policy_admin() -> None:
    client = client_for()
    r = client.post("/v1/policy/reload")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["error"] == {"code": "unauthorized", "message": "this needs a bearer token with scope `policy:admin`", "hint": "send Authorization: Bearer <token>"}
    r = client.post("/v1/policy/reload", headers=bearer(READER))
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    assert "`audit` lacks scope `policy:admin`" in r.json()["error"]["message"]
    assert client.post("/v1/policy/reload", headers=bearer(ADMIN)).status_code == 200  # by its sha256
    assert client.post("/v1/policy/reload", headers={"Authorization": f"Basic {ADMIN}"}).status_code == 401


def test_deciding_and_the_list_can_require_tokens() -> None:
    client = client_for(decide="token", list_="token")
    assert client.post("/v1/cases/lead", json=CASE).status_code == 401
    assert client.post("/v1/cases/lead:batch", json={"cases": [CASE]}).status_code == 401
    assert client.post("/v1/cases/lead", json=CASE, headers=bearer(READER)).status_code == 403
    assert client.post("/v1/cases/lead", json=CASE, headers=bearer(DECIDER)).status_code == 200
    assert client.get("/v1/matters").status_code == 401
    assert client.get("/v1/organizations", headers=bearer(DECIDER)).status_code == 403
    assert client.get("/v1/matters/WAT-01", headers=bearer(READER)).status_code == 200
    assert client.get("/v1/policy", headers=bearer(READER)).status_code == 200
    assert client.get("/healthz").status_code == 200  # liveness stays open


def test_tokens_never_appear_in_logs_or_answers(caplog: pytest.LogCaptureFixture) -> None:
    client = client_for(decide="token")
    wrong = "wrong-token-0123456789abcdefghij"
    with caplog.at_level(logging.DEBUG):
        answers = [
            client.post("/v1/cases/lead", json=CASE, headers=bearer(wrong)).text,
            client.post("/v1/policy/reload", headers=bearer(READER)).text,
            client.post("/v1/cases/lead", json=CASE, headers=bearer(DECIDER)).text,
            client.post("/v1/policy/reload", headers=bearer(ADMIN)).text,
        ]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (wrong, READER, DECIDER, ADMIN):
        assert secret not in logged
        assert all(secret not in a for a in answers)


def test_every_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    config = AuthConfig.parse(json.dumps(TOKENS), "test")
    found = config.authenticate(ADMIN)
    assert found is not None and found.name == "ops"
    assert len(compared) == 3  # no early exit on the first match
    compared.clear()
    assert config.authenticate("nope") is None and len(compared) == 3
    assert all(len(a) == len(b) == 32 for a, b in compared)  # digests, not the raw secrets


def test_tokens_from_a_file_and_bad_configurations(tmp_path: Path) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(f"tokens:\n  - name: ops\n    token: {ADMIN}\n    scopes: [policy:admin]\n", encoding="utf-8")
    config = AuthConfig.from_env({"TIAOKUAI_TOKENS_FILE": str(path), "TIAOKUAI_AUTH_DECIDE": "token"})
    assert config.decide == "token" and config.authenticate(ADMIN) is not None
    bad = [
        {"TIAOKUAI_TOKENS": '{"tokens": [{"name": "x", "token": "short", "scopes": ["policy:admin"]}]}'},
        {"TIAOKUAI_TOKENS": '{"tokens": [{"name": "x", "token": "' + "a" * 30 + '", "scopes": ["root"]}]}'},
        {"TIAOKUAI_TOKENS": '{"tokens": [{"name": "x", "scopes": ["policy:admin"]}]}'},
        {"TIAOKUAI_AUTH_LIST": "closed"},
        {"TIAOKUAI_TOKENS_FILE": str(tmp_path / "missing.yaml")},
    ]
    for env in bad:
        with pytest.raises(AuthConfigError) as info:
            AuthConfig.from_env(env)
        assert ADMIN not in str(info.value)
