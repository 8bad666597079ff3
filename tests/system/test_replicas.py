"""Replicas: two `tiaokuai serve` processes on one PostgreSQL decision log, one SIGKILLed midway.

Under concurrent load spread over both replicas and two jurisdictions (two hash chains in
the one log), one replica (supervisor and worker) is killed with SIGKILL after a third of
the requests. Every decision a client received (HTTP 200) must be in the log with the
very response it was sent, and every chain must verify. Runs only on PostgreSQL (`make
test` starts a private server when it can; the skip reason says so otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.log.store import open_log
from tests.conftest import ROOT
from tests.support.live import free_port, wait_until_up
from tests.support.logdb import pg_schema_url, postgres_url

pytestmark = pytest.mark.skipif(postgres_url() is None, reason="needs PostgreSQL: make test starts one when it can be installed")

REQUESTS_PER_CLIENT = 60
CLIENTS = 6
CASES = [
    {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"},
    {"jurisdiction": "kecheng", "matter": "URB-03", "township": "hangbu", "as_of": "2026-11-01"},
    {"matter": "ENV-01", "township": "zhangtan", "as_of": "2026-11-01"},
    {"jurisdiction": "kecheng", "matter": "ENV-01", "township": "fushan", "as_of": "2026-11-01"},
]




@pytest.fixture
def database() -> Iterator[str]:
    with pg_schema_url() as url:
        yield url


def _replica(url: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TIAOKUAI_DATABASE_URL": url, "TIAOKUAI_DECISION_CACHE": "0",
           # signed checkpoints of this test's log stay with the test, not in the repository's var/
           "TIAOKUAI_CHECKPOINTS": str(tmp / "checkpoints.jsonl"), "TIAOKUAI_CHECKPOINT_KEY": str(tmp / "checkpoint.key")}
    cli = [sys.executable, "-c", "from api.cli.app import main; main()"]
    with (tmp / f"replica-{port}.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [*cli, "serve", "--policy", str(ROOT / "policy"), "--jurisdictions", str(ROOT / "jurisdictions"), "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )


def test_two_replicas_one_killed_every_acknowledged_decision_is_logged(database: str, tmp_path: Path) -> None:
    ports = [free_port(), free_port()]
    replicas = [_replica(database, port, tmp_path) for port in ports]
    try:
        for port in ports:
            wait_until_up(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60)
        acknowledged: dict[str, bytes] = {}
        answered_by: dict[int, int] = dict.fromkeys(ports, 0)
        failures: list[str] = []
        sent = 0
        lock = threading.Lock()
        killed = threading.Event()

        def client(n: int) -> None:
            nonlocal sent
            for i in range(REQUESTS_PER_CLIENT):
                port = ports[(n + i) % 2]
                body = {**CASES[(n + i) % len(CASES)], "reference": f"replica-{n}-{i}"}
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/cases/lead", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
                )
                try:
                    with urllib.request.urlopen(request, timeout=15) as response:
                        raw = response.read()
                    with lock:
                        acknowledged[json.loads(raw)["decision_id"]] = raw
                        answered_by[port] += 1
                except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                    with lock:
                        failures.append(f"{port}: {exc}")
                with lock:
                    sent += 1
                    if sent == CLIENTS * REQUESTS_PER_CLIENT // 3 and not killed.is_set():
                        os.killpg(replicas[0].pid, signal.SIGKILL)  # supervisor and worker, mid-load
                        killed.set()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert killed.is_set() and replicas[0].wait(timeout=10) == -signal.SIGKILL
        assert failures, "requests to the killed replica must fail after the kill"
        assert all(answered_by.values()), f"both replicas must have answered: {answered_by}"
        assert len(acknowledged) >= CLIENTS * REQUESTS_PER_CLIENT // 2, f"too few answers: {len(acknowledged)}, {failures[:3]}"

        log = open_log(database)
        try:
            for decision_id, raw in acknowledged.items():
                record = log.get(decision_id)
                assert record.response_json() == json.loads(raw), f"logged response of {decision_id} differs from the one sent"
            verification = log.verify()
            assert verification.ok, verification.broken
            assert set(verification.chains) == {"qujiang", "kecheng"}
            assert verification.records == log.count() >= len(acknowledged)
        finally:
            log.close()
    finally:
        for replica in replicas:
            if replica.poll() is None:
                os.killpg(replica.pid, signal.SIGTERM)
                replica.wait(timeout=20)
