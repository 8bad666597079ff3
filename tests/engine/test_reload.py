"""Hot reload: a changed policy directory is checked in a throwaway process, then swapped in;
a broken or hanging policy is rejected with its findings and the old one keeps serving;
requests in flight during reloads all succeed."""

from __future__ import annotations

import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import Settings
from api.tokens import AuthConfig
from engine.policy.load import load_policy
from tests.conftest import SEED_POLICY
from tests.support.live import serve

ADMIN = "admin-token-for-reload-tests-0123456789"
AUTH = AuthConfig.parse(f'{{"tokens": [{{"name": "ops", "token": "{ADMIN}", "scopes": ["policy:admin"]}}]}}', "test")
HEADERS = {"Authorization": f"Bearer {ADMIN}"}
CASE = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}


def copy_policy(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, target)
    return target


def set_version(policy_dir: Path, version: str) -> None:
    manifest = policy_dir / "policy.yaml"
    text = re.sub(r"(?m)^  version: .*$", f'  version: "{version}"', manifest.read_text(encoding="utf-8"))
    manifest.write_text(text, encoding="utf-8")


def make_app(policy_dir: Path, timeout: float = 60.0) -> TestClient:
    settings = Settings(policy_dir, "sqlite://", auth=AUTH, reload_timeout=timeout)
    return TestClient(create_app(settings))


def test_reload_activates_a_changed_policy(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir) as client:
        before = client.get("/healthz").json()["policy"]
        assert client.post("/v1/policy/reload", headers=HEADERS).json()["status"] == "unchanged"
        set_version(policy_dir, "2099.1.1")
        r = client.post("/v1/policy/reload", headers=HEADERS)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "reloaded" and body["previous"] == before
        assert body["policy"]["version"] == "2099.1.1" and body["policy"]["digest"] == load_policy(policy_dir).digest
        assert client.get("/healthz").json()["policy"] == body["policy"]
        assert client.get("/v1/policy").json()["digest"] == body["policy"]["digest"]
        assert client.post("/v1/cases/lead", json=CASE).json()["policy"]["version"] == "2099.1.1"


def test_reload_warns_when_the_content_changes_and_the_version_does_not(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir) as client:
        water = policy_dir / "matters" / "water.yaml"
        water.write_text(water.read_text(encoding="utf-8").replace("name: 河道非法采砂", "name: 河道非法采砂(含河滩)", 1), encoding="utf-8")
        body = client.post("/v1/policy/reload", headers=HEADERS).json()
        assert body["status"] == "reloaded" and body["policy"]["version"] == body["previous"]["version"]
        (warning,) = body["warnings"]
        assert warning.startswith("policy.yaml:4: qujiang: the policy's content changed since the previous active policy")
        assert "raise `version` in policy.yaml, e.g. to `2026.11.3`" in warning
        set_version(policy_dir, "2026.11.3")
        assert client.post("/v1/policy/reload", headers=HEADERS).json()["warnings"] == []


def test_an_impossible_date_is_rejected_with_file_line_and_id(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir) as client:
        rules = policy_dir / "rules" / "delegation.yaml"
        rules.write_text(rules.read_text(encoding="utf-8").replace("valid_from: 2021-07-01", "valid_from: 2021-13-01", 1), encoding="utf-8")
        r = client.post("/v1/policy/reload", headers=HEADERS)
        assert r.status_code == 422
        assert any(f.startswith("rules/delegation.yaml:48: FQ-2021-01:") and "`2021-13-01` is not a calendar date" in f for f in r.json()["error"]["findings"])


def test_broken_policy_is_rejected_with_findings_and_old_one_serves(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir) as client:
        before = client.get("/healthz").json()["policy"]
        rules = policy_dir / "rules" / "integrated.yaml"
        rules.write_text(rules.read_text(encoding="utf-8").replace("lead: qj-water", "lead: qj-watr", 1), encoding="utf-8")
        r = client.post("/v1/policy/reload", headers=HEADERS)
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "policy_rejected" and error["hint"] == "the active policy keeps serving"
        assert any("rules/integrated.yaml" in f and "YJS-SAND-RIVER" in f and "qj-watr" in f for f in error["findings"])
        assert client.get("/healthz").json()["policy"] == before
        assert client.post("/v1/cases/lead", json=CASE).json()["lead"]["id"] == "qj-water"


def hanging_rules(policy_dir: Path) -> None:
    """600 thresholds on one attribute under one matter: 600 sibling tests under one node,
    which makes durable_rules' create_ruleset spin forever (docs/durable_rules.md §3)."""
    rules = [
        {
            "id": f"HANG-{k}",
            "title": "阈值规则",
            "kind": "integrated",
            "when": {"matter": "WAT-01", "severity": {"gte": k}},
            "then": {"lead": "qj-water"},
            "basis": [{"document": "测试"}],
        }
        for k in range(600)
    ]
    (policy_dir / "rules" / "hang.yaml").write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")


def test_policy_that_would_hang_the_engine_is_rejected(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir) as client:
        before = client.get("/healthz").json()["policy"]
        hanging_rules(policy_dir)
        started = time.monotonic()
        r = client.post("/v1/policy/reload", headers=HEADERS)
        assert time.monotonic() - started < 60
        assert r.status_code == 422
        assert any("hangs above 512" in f for f in r.json()["error"]["findings"]), r.json()
        assert client.get("/healthz").json()["policy"] == before
        assert client.post("/v1/cases/lead", json=CASE).status_code == 200


def test_a_check_that_overruns_its_timeout_is_killed_and_rejected(tmp_path: Path) -> None:
    """The timeout is the last line of defence (a hang no static check foresaw): a check
    process that has not answered in time is killed and the policy rejected. 0.05 s is too
    short for any check process to start, so this one is killed for real."""
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir, timeout=0.05) as client:
        before = client.get("/healthz").json()["policy"]
        set_version(policy_dir, "2099.5.5")
        r = client.post("/v1/policy/reload", headers=HEADERS)
        assert r.status_code == 422
        assert any("did not finish within 0.05s" in f for f in r.json()["error"]["findings"])
        assert client.get("/healthz").json()["policy"] == before


def test_reload_needs_the_admin_scope(tmp_path: Path) -> None:
    with make_app(copy_policy(tmp_path)) as client:
        assert client.post("/v1/policy/reload").status_code == 401
        r = client.post("/v1/policy/reload", headers={"Authorization": "Bearer not-a-token-of-this-service"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


def test_requests_in_flight_during_reloads_all_succeed(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    app = create_app(Settings(policy_dir, "sqlite://", auth=AUTH, decision_cache=0))
    versions: set[str] = set()
    results: list[int] = []
    stop = threading.Event()
    with serve(app) as base:

        def load() -> None:
            with httpx.Client(base_url=base, timeout=60) as client:
                while not stop.is_set():
                    r = client.post("/v1/cases/lead", json=CASE)
                    results.append(r.status_code)
                    if r.status_code == 200:
                        versions.add(r.json()["policy"]["version"])

        workers = [threading.Thread(target=load) for _ in range(6)]
        for w in workers:
            w.start()
        try:
            with httpx.Client(base_url=base, timeout=120, headers=HEADERS) as admin:
                for n in range(4):
                    set_version(policy_dir, f"2099.0.{n}")
                    r = admin.post("/v1/policy/reload")
                    assert r.status_code == 200 and r.json()["status"] == "reloaded", r.text
                    time.sleep(0.2)
        finally:
            stop.set()
            for w in workers:
                w.join(timeout=60)
    assert len(results) > 50
    assert set(results) == {200}, f"{sum(1 for s in results if s != 200)} of {len(results)} requests failed"
    assert {f"2099.0.{n}" for n in range(4)} & versions  # answers came from reloaded versions


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGHUP"), reason="POSIX only")
def test_sighup_handler_reloads(tmp_path: Path) -> None:
    import os
    import signal

    from api.http.routes.admin import install_sighup

    policy_dir = copy_policy(tmp_path)
    app = create_app(Settings(policy_dir, "sqlite://", auth=AUTH))
    previous = signal.getsignal(signal.SIGHUP)
    try:
        install_sighup(app)
        set_version(policy_dir, "2099.9.9")
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 60
        while app.state.runtime.policy.version != "2099.9.9" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.runtime.policy.version == "2099.9.9"
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_reload_that_empties_a_chapter_needs_confirmation_and_shows_the_clause_diff(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir) as client:
        before = client.get("/healthz").json()["policy"]
        integrated = load_policy(policy_dir)
        removed = sorted(r.id for r in integrated.rules if integrated.where("rules", r.id).file == "rules/integrated.yaml")
        assert removed
        (policy_dir / "rules" / "integrated.yaml").write_text("", encoding="utf-8")
        r = client.post("/v1/policy/reload", headers=HEADERS)
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "confirmation_required" and "confirm=rules/integrated.yaml" in error["hint"]
        assert sorted(error["emptied"]["rules/integrated.yaml"]) == removed
        assert client.get("/healthz").json()["policy"] == before  # the 一件事 rules still serve
        assert client.post("/v1/cases/lead", json=CASE).json()["rule"]["id"] == "YJS-SAND-RIVER"
        r = client.post("/v1/policy/reload?confirm=rules/integrated.yaml", headers=HEADERS)
        assert r.status_code == 200, r.text
        assert sorted(c["id"] for c in r.json()["changes"]["removed"]) == removed
        assert client.post("/v1/cases/lead", json=CASE).json()["rule"]["id"] != "YJS-SAND-RIVER"


def test_the_reload_answer_lists_changed_clauses(tmp_path: Path) -> None:
    policy_dir = copy_policy(tmp_path)
    with make_app(policy_dir) as client:
        rules = policy_dir / "rules" / "integrated.yaml"
        rules.write_text(rules.read_text(encoding="utf-8").replace("lead: qj-water", "lead: qj-police", 1), encoding="utf-8")
        body = client.post("/v1/policy/reload", headers=HEADERS).json()
        assert body["changes"]["changed"] == [{"section": "rules", "id": "YJS-SAND-RIVER", "change": "changed", "fields": ["then"],
                                               "where": body["changes"]["changed"][0]["where"]}]
        assert body["changes"]["changed"][0]["where"].startswith("rules/integrated.yaml:")
        assert body["changes"]["added"] == [] and body["changes"]["removed"] == []
