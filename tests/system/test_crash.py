"""A real server (uvicorn in a subprocess) killed with SIGKILL mid-load loses no decision
whose response was received; the log it leaves verifies, and replays."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from api.http.logged import REPLAY_KINDS
from engine.log.store import open_log
from engine.replay import Replayer
from tests.conftest import AUDITOR, AUDITOR_TOKENS, SEED_POLICY
from tests.engine.log.test_store import drop_append_only_triggers

CLIENTS = 8
KILL_AFTER = 300  # answered decisions
BODIES = [
    b'{"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01", "reference": "K-%d"}',
    b'{"matter": "FOR-03", "township": "lingyang", "as_of": "2018-06-01", "reference": "K-%d"}',
    b'{"matter": "LND-02", "township": "lianhua", "as_of": "2021-07-01", "reference": "K-%d"}',
    b'{"township": "zhangtan", "reference": "K-%d"}',
]


def start_server(tmp_path: Path, url: str) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "TIAOKUAI_DATABASE_URL": url, "TIAOKUAI_POLICY": str(SEED_POLICY), "TIAOKUAI_TOKENS": AUDITOR_TOKENS}
    log_path = tmp_path / "server.log"
    out = log_path.open("wb")
    proc = subprocess.Popen(
        # --no-supervise: SIGKILL below must take the serving process itself down
        [sys.executable, "-m", "api.cli", "serve", "--no-supervise", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
    )
    out.close()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = re.search(rb"Uvicorn running on (http://127\.0\.0\.1:\d+)", log_path.read_bytes())
        if found:
            return proc, found.group(1).decode()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"server did not start: {log_path.read_text(errors='replace')[-2000:]}")


def test_sigkill_mid_load_loses_no_answered_decision(tmp_path: Path) -> None:
    db = tmp_path / "log.sqlite3"
    url = f"sqlite:///{db}"
    proc, base = start_server(tmp_path, url)
    answered: dict[str, bytes] = {}
    failures: list[str] = []
    lock = threading.Lock()
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            first = client.post("/v1/cases/lead", content=BODIES[0] % 0, headers={"content-type": "application/json"})
            assert first.status_code == 200
            record = client.get(f"/v1/decisions/{first.json()['decision_id']}", headers=AUDITOR)
            assert record.status_code == 200 and record.json()["response"] == first.json()
            answered[first.json()["decision_id"]] = first.content

        def load(worker: int) -> None:
            with httpx.Client(base_url=base, timeout=10) as client:
                for n in range(20_000):  # bounded; ends at the first request the dead server drops
                    body = BODIES[n % len(BODIES)] % (worker * 100_000 + n)
                    try:
                        r = client.post("/v1/cases/lead", content=body, headers={"content-type": "application/json"})
                    except httpx.HTTPError as exc:  # the server is gone
                        with lock:
                            failures.append(type(exc).__name__)
                        return
                    assert r.status_code == 200, r.text
                    with lock:
                        answered[r.json()["decision_id"]] = r.content

        threads = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(CLIENTS)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(answered) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)  # mid-load: every client has a request in flight or about to be
        for t in threads:
            t.join(timeout=30)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert len(answered) >= KILL_AFTER, f"only {len(answered)} answers before the deadline"
    assert len(failures) == CLIENTS  # each client saw the server die under it

    log = open_log(url)
    try:
        for decision_id, sent in answered.items():
            assert log.get(decision_id).response.encode() == sent
        result = log.verify()
        assert result.ok and result.records >= len(answered)
        print(f"answered {len(answered)}, logged {result.records} (committed but not answered: {result.records - len(answered)})")
        replayer = Replayer(log, REPLAY_KINDS)
        for decision_id in list(answered)[:: max(1, len(answered) // 20)]:
            assert replayer.replay(log.get(decision_id)).identical
        victim = log.get(next(iter(answered)))
        drop_append_only_triggers(log.db)
        with log.db.begin() as conn:
            conn.execute(text("UPDATE decisions SET time = '2020-01-01T00:00:00.000000Z' WHERE id = :i"), {"i": victim.id})
    finally:
        log.close()

    cli = [sys.executable, "-m", "api.cli", "audit", "verify", "--db", url]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and f"record #{victim.seq} ({victim.id})" in done.stdout, done.stdout + done.stderr
