"""`tiaokuai token` makes a token the server accepts; `tiaokuai wait` waits for a server."""

from __future__ import annotations

import hashlib
import socket
import stat
from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli
from api.http.app import create_app
from api.settings import Settings
from api.tokens import AuthConfig
from tests.conftest import SEED_POLICY
from tests.support.live import serve

runner = CliRunner()


def test_token_is_printed_once_and_the_file_holds_only_its_digest(tmp_path: Path) -> None:
    tokens = tmp_path / "var" / "tokens.yaml"
    result = runner.invoke(cli, ["token", "--name", "auditor", "--scope", "decisions:read", "--tokens-file", str(tokens)])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert len(secret) >= 40 and secret not in tokens.read_text(encoding="utf-8")
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    (entry,) = yaml.safe_load(tokens.read_text(encoding="utf-8"))["tokens"]
    assert entry == {"name": "auditor", "sha256": hashlib.sha256(secret.encode()).hexdigest(), "scopes": ["decisions:read"]}
    second = runner.invoke(cli, ["token", "--name", "ops", "--scope", "policy:admin", "--tokens-file", str(tokens)])
    assert second.exit_code == 0
    assert [t["name"] for t in yaml.safe_load(tokens.read_text(encoding="utf-8"))["tokens"]] == ["auditor", "ops"]
    auth = AuthConfig.from_env({"TIAOKUAI_TOKENS_FILE": str(tokens)})
    with TestClient(create_app(Settings(SEED_POLICY, "sqlite://", auth=auth))) as client:
        assert client.get("/v1/decisions").status_code == 401
        assert client.get("/v1/decisions", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
        ops = second.stdout.strip()
        assert client.get("/v1/decisions", headers={"Authorization": f"Bearer {ops}"}).status_code == 403


def test_token_refuses_unknown_scopes_and_duplicate_names(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.yaml"
    assert runner.invoke(cli, ["token", "--name", "a", "--scope", "decisions:write", "--tokens-file", str(tokens)]).exit_code == 2
    assert not tokens.exists()
    assert runner.invoke(cli, ["token", "--name", "a", "--scope", "list:read", "--tokens-file", str(tokens)]).exit_code == 0
    again = runner.invoke(cli, ["token", "--name", "a", "--scope", "list:read", "--tokens-file", str(tokens)])
    assert again.exit_code == 2 and "already in" in again.output


def test_token_without_a_file_prints_the_entry_to_add(tmp_path: Path) -> None:
    result = runner.invoke(cli, ["token", "--name", "hotline", "--scope", "cases:decide"])
    assert result.exit_code == 0
    secret = result.stdout.strip()
    assert f"sha256: {hashlib.sha256(secret.encode()).hexdigest()}" in result.stderr


def test_wait_returns_once_the_server_answers_and_gives_up_on_a_dead_port() -> None:
    app = create_app(Settings(SEED_POLICY, "sqlite://"))
    with serve(app) as url:
        result = runner.invoke(cli, ["wait", "--url", url, "--timeout", "30"])
        assert result.exit_code == 0 and result.stdout.startswith(f"ready: {url} serves qujiang ")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    dead = runner.invoke(cli, ["wait", "--url", f"http://127.0.0.1:{port}", "--timeout", "1"])
    assert dead.exit_code == 1 and "did not answer /healthz within 1s" in dead.stderr
