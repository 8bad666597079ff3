"""Crash containment: the engine runs in the HTTP worker's process, and `tiaokuai serve`
supervises that worker. A worker that dies (here by SIGSEGV, as a durable_rules crash
would, and by SIGKILL) is logged at ERROR, restarted, and reported by /healthz; the
service answers again. SIGHUP to the supervisor reloads the policy in the worker."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SEED_POLICY

CASE = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"}


class Supervised:
    def __init__(self, policy_dir: Path) -> None:
        # Its own decision log: the worker resumes the policy last activated in it.
        env = dict(os.environ, TIAOKUAI_POLICY=str(policy_dir), TIAOKUAI_DATABASE_URL=f"sqlite:///{policy_dir.parent / 'log.sqlite3'}")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", "0", "--no-access-log"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        match = self.wait_for(r"listening on (http://\S+)")
        self.base = match.group(1)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            time.sleep(0.05)
        raise AssertionError(f"no log line matching {pattern!r}: {''.join(self.lines)[-2000:]}")

    def health(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = httpx.get(f"{self.base}/healthz", timeout=10)
                if r.status_code == 200:
                    body: dict[str, Any] = r.json()
                    return body
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Supervised]:
    policy_dir = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, policy_dir)
    server = Supervised(policy_dir)
    try:
        yield server
    finally:
        server.stop()


def test_engine_crash_restarts_the_worker_loudly(supervised: Supervised) -> None:
    first = supervised.health()
    assert first["worker"]["restarts"] == 0
    assert httpx.post(f"{supervised.base}/v1/cases/lead", json=CASE, timeout=30).status_code == 200

    os.kill(first["worker"]["pid"], signal.SIGSEGV)
    supervised.wait_for(rf"ERROR tiaokuai.supervise: worker pid {first['worker']['pid']} killed by SIGSEGV")
    # The supervisor keeps the socket: this request waits for the new worker, it is not refused.
    r = httpx.post(f"{supervised.base}/v1/cases/lead", json=CASE, timeout=60)
    assert r.status_code == 200 and r.json()["lead"]["id"] == "qj-water"
    second = supervised.health()
    assert second["worker"]["pid"] != first["worker"]["pid"]
    assert second["worker"]["restarts"] == 1 and second["worker"]["last_exit"] == "killed by SIGSEGV"

    os.kill(second["worker"]["pid"], signal.SIGKILL)
    supervised.wait_for(rf"worker pid {second['worker']['pid']} killed by SIGKILL")
    third = supervised.health()
    assert third["worker"]["restarts"] == 2 and third["worker"]["last_exit"] == "killed by SIGKILL"


def test_sighup_to_the_supervisor_reloads_the_policy(supervised: Supervised, tmp_path: Path) -> None:
    before = supervised.health()
    manifest = tmp_path / "policy" / "policy.yaml"
    manifest.write_text(re.sub(r"(?m)^  version: .*$", '  version: "2099.12.31"', manifest.read_text(encoding="utf-8")), encoding="utf-8")
    supervised.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while supervised.health()["policy"]["version"] != "2099.12.31":
        assert time.monotonic() < deadline, "SIGHUP did not reload the policy"
        time.sleep(0.1)
    after = supervised.health()
    assert after["worker"]["pid"] == before["worker"]["pid"]  # reloaded in place, not restarted
    assert after["policy"]["digest"] != before["policy"]["digest"]


def test_supervised_connections_send_without_delay() -> None:
    """The worker adopts the supervisor's socket as it is; every accepted connection must
    have TCP_NODELAY, or keep-alive answers wait for the client's delayed ACK."""
    import socket

    from api.cli.supervise import bind

    listener = bind("127.0.0.1", 0)
    try:
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        accepted.close()
        client.close()
    finally:
        listener.close()


def test_a_restarted_worker_serves_the_last_activated_policy_not_a_rejected_edit(supervised: Supervised, tmp_path: Path) -> None:
    first = supervised.health()
    rules = tmp_path / "policy" / "rules" / "integrated.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("lead: qj-water", "lead: qj-watr", 1), encoding="utf-8")
    supervised.proc.send_signal(signal.SIGHUP)
    supervised.wait_for(r"SIGHUP reload rejected")
    os.kill(first["worker"]["pid"], signal.SIGKILL)
    supervised.wait_for(rf"worker pid {first['worker']['pid']} killed by SIGKILL")
    second = supervised.health()
    assert second["worker"]["restarts"] == 1 and second["status"] == "ok"
    assert second["policy"] == first["policy"]  # the activated version, not the broken file on disk
    r = httpx.post(f"{supervised.base}/v1/cases/lead", json=CASE, timeout=60)
    assert r.status_code == 200 and r.json()["lead"]["id"] == "qj-water"
    supervised.wait_for(r"serving the last activated policy")


@pytest.mark.parametrize("problem", ["tokens", "policy"])
def test_a_start_that_cannot_work_exits_at_once_with_the_message(tmp_path: Path, problem: str) -> None:
    policy_dir = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, policy_dir)
    env = dict(os.environ, TIAOKUAI_POLICY=str(policy_dir), TIAOKUAI_DATABASE_URL=f"sqlite:///{tmp_path / 'log.sqlite3'}")
    if problem == "tokens":
        env["TIAOKUAI_TOKENS"] = "tokens: [{name: ops, token: short, scopes: [policy:admin]}]"
        expected = "invalid token configuration"
    else:
        rules = policy_dir / "rules" / "integrated.yaml"
        rules.write_text(rules.read_text(encoding="utf-8").replace("lead: qj-water", "lead: qj-watr", 1), encoding="utf-8")
        expected = "qj-watr"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 78, done.stderr[-2000:]
    assert expected in done.stderr and "restarting in" not in done.stderr
    assert time.monotonic() - started < 60
