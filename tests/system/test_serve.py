"""`tiaokuai serve --policy DIR` really serves another policy through uvicorn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.conftest import FIXTURES, ROOT
from tests.support.live import free_port, wait_until_up


def test_serve_another_policy_directory(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TIAOKUAI_DATABASE_URL": f"sqlite:///{tmp_path / 'log.sqlite3'}"}
    cli = [sys.executable, "-c", "from api.cli import main; main()"]
    proc = subprocess.Popen(
        [*cli, "serve", "--policy", str(FIXTURES / "haiwan"), "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base + "/healthz", time.monotonic() + 30)
        req = urllib.request.Request(
            base + "/v1/cases/lead",
            data=json.dumps({"matter": "HW-01", "township": "haiwan-east", "as_of": "2026-01-01"}).encode(),
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            body = json.loads(resp.read())
        assert body["lead"]["id"] == "hw-ocean"
        assert body["policy"]["id"] == "haiwan"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
