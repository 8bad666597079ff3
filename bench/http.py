"""HTTP figures under wrk: POST /v1/cases/lead as users serve it, next to a bare FastAPI
endpoint on the same server stack (uvicorn + uvloop + httptools, one worker, access log on),
and the rows of "what each change bought": the baseline revision as it was, then issue 17's
changes one at a time (bench/variants.py). Every server runs at once; each repetition
measures every target round-robin at c=1 and c=32, and ratios are per repetition against
the bare endpoint (or the previous row) of the same repetition. Every lead server logs
each decision to its own SQLite decision log (`synchronous=FULL`, the default).

The cost of one durable commit on this disk (`commit_cost`) is measured beside them: with
`synchronous=FULL` every commit waits for an fsync, which bounds c=1 whatever the code does.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx

from engine.analysis import space
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
# main just before issue 17 (lean log writer, lead fast path, uvloop/httptools, gc.freeze).
BASELINE = "e2369835501712f0c75e9de2db61f984437e7ab7"
# main with those changes, before the log's hand-off once per event-loop turn: the rows up to
# gc.freeze() are served from it, so each row adds one change to the row above.
BEFORE_TURNS = "2e86c4e8abd78a7e757636bfddf364090dd23c01"


@dataclass(frozen=True)
class Target:
    name: str
    argv: tuple[str, ...]  # after `python -m`; {port} is filled in
    revision: str | None = None  # served from this revision's tree (None: the current tree)
    env: dict[str, str] = field(default_factory=dict)
    lead: bool = True


# The revision before the fast path moved in front of FastAPI's own __call__ (its per-request
# telemetry check).
BEFORE_CALL = "93f8bd94d5685299a449aff75d9424eca660f3fd"
# The revisions before each of the log writer's and the request reading's later changes: the
# fast path in front (0b5ac66), multi-row inserts and tuple records (ed07bdb), one-pass request
# validation (a42bc60); the last row, the chain hash that keeps the GIL, is the current tree.
BEFORE_ROWS = "0b5ac662cedd4a9f6da00af610cb744bd1265b04"
BEFORE_ONE_PASS = "ed07bdbf758bdfae3dc1f178f321f512556f3489"
BEFORE_HASH = "a42bc603104da3f2951e8dc5545c1de888dfc3af"
TURNS = "+ one log hand-off per event-loop turn: tiaokuai serve --no-supervise"
IN_FRONT = "+ fast path in front of FastAPI's own call: tiaokuai serve --no-supervise"
ROWS = "+ multi-row INSERT, records as tuples: tiaokuai serve --no-supervise"
ONE_PASS = "+ one-pass request validation (model_validate_json): tiaokuai serve --no-supervise"
CURRENT = "+ chain hash keeps the GIL, one head query: tiaokuai serve --no-supervise"
NO_FSYNC = "tiaokuai serve, synchronous=NORMAL (no fsync per commit; not the default)"
UVICORN = ("uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--log-level", "info")
SERVE = ("api.cli", "serve", "--host", "127.0.0.1", "--port", "{port}")
TARGETS = (
    Target("before: baseline, h11 + asyncio", (*UVICORN, "--loop", "asyncio", "--http", "h11", "api.http.main:app"), revision=BASELINE),
    Target("before: baseline, uvloop + httptools", (*UVICORN, "--loop", "uvloop", "--http", "httptools", "api.http.main:app"), revision=BASELINE),
    Target("+ lean log writer, orjson, cached answer bytes", (*UVICORN, "bench.variants:without_fast_path"), revision=BEFORE_TURNS),
    Target("+ lead fast path", (*UVICORN, "bench.variants:without_gc_freeze"), revision=BEFORE_TURNS),
    Target("+ gc.freeze(): tiaokuai serve --no-supervise", (*SERVE, "--no-supervise"), revision=BEFORE_TURNS),
    Target(TURNS, (*SERVE, "--no-supervise"), revision=BEFORE_CALL),
    Target(IN_FRONT, (*SERVE, "--no-supervise"), revision=BEFORE_ROWS),
    Target(ROWS, (*SERVE, "--no-supervise"), revision=BEFORE_ONE_PASS),
    Target(ONE_PASS, (*SERVE, "--no-supervise"), revision=BEFORE_HASH),
    Target(CURRENT, (*SERVE, "--no-supervise")),
    Target("tiaokuai serve (supervised)", SERVE),
    Target("tiaokuai serve, cache off", SERVE, env={"TIAOKUAI_DECISION_CACHE": "0"}),
    # Not the default: what the same server does when a commit does not wait for the disk.
    Target(NO_FSYNC, SERVE, env={"TIAOKUAI_SQLITE_SYNCHRONOUS": "NORMAL"}),
    Target("bare FastAPI (same stack)", (*UVICORN, "bench.bare_app:app"), lead=False),
)
BARE = "bare FastAPI (same stack)"
SERVED = "tiaokuai serve (supervised)"
STEPS = [t.name for t in TARGETS[:10]]  # the cumulative rows of "what each change bought"


def bodies(n: int = 200, seed: int = 11) -> list[dict[str, Any]]:
    runtime = Runtime.from_dir(ROOT / "policy")
    every = list(space.cases(runtime.policy))
    out = []
    for case in random.Random(seed).sample(every, min(n, len(every))):
        body: dict[str, Any] = {"township": case.township, "attributes": dict(case.attributes), "as_of": case.as_of.isoformat()}
        if case.matter:
            body["matter"] = case.matter
        out.append(body)
    return out


def lua_script(items: list[dict[str, Any]], path: str) -> str:
    lines = ["local bodies = {"]
    lines += [f"  [==[{json.dumps(b)}]==]," for b in items]
    lines += [
        "}",
        "local i = 0",
        'wrk.method = "POST"',
        'wrk.headers["Content-Type"] = "application/json"',
        "request = function()",
        "  i = i % #bodies + 1",
        f'  return wrk.format(nil, "{path}", nil, bodies[i])',
        "end",
    ]
    return "\n".join(lines) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def baseline_tree(into: Path, revision: str = BASELINE) -> Path | None:
    """A revision's files (git archive), or None where git or the revision is missing."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tree = into / f"tree-{revision[:12]}"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    return tree


@contextmanager
def server(argv: list[str], cwd: Path, port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", *argv], cwd=cwd, env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"{argv} did not start on {port}; see {log}") from None
                    time.sleep(0.2)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=90)  # a loaded machine: shutting down took 12-16 s at load 14, over 30 s at 24
            except subprocess.TimeoutExpired:
                proc.kill()  # the figures are taken: do not lose them to a slow shutdown
                proc.wait()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(port: int, script: str, connections: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency", "-s", script, f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rate": rate, "p50_ms": pct("50"), "p99_ms": pct("99"), "non_2xx": float(errors.group(1)) if errors else 0.0,
            "socket_errors": 1.0 if socket_errors else 0.0}


def batch_rate(port: int, cases: list[dict[str, Any]], requests: int = 5) -> float:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        client.post("/v1/cases/lead:batch", json={"cases": cases[:10]})  # warm up the route
        started = time.perf_counter()
        for _ in range(requests):
            r = client.post("/v1/cases/lead:batch", json={"cases": cases})
            assert r.status_code == 200 and r.json()["total"] == len(cases), r.text[:300]
        return requests * len(cases) / (time.perf_counter() - started)


def commit_cost(directory: Path, commits: int = 300) -> dict[str, float]:
    """µs per SQLite WAL commit of a 2 KB row here, `synchronous=FULL` (one fsync) and NORMAL."""
    out: dict[str, float] = {}
    for mode in ("FULL", "NORMAL"):
        path = directory / f"commit-{mode}.sqlite3"
        for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            stale.unlink(missing_ok=True)  # a fresh database each time it is measured
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={mode}")
        db.execute("CREATE TABLE t (x TEXT)")
        times = []
        for _ in range(commits):
            started = time.perf_counter_ns()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (?)", ("x" * 2000,))
            db.execute("COMMIT")
            times.append((time.perf_counter_ns() - started) / 1000)
        db.close()
        out[mode] = statistics.median(times[commits // 3 :])  # after the WAL stopped growing
    return out


def http_figures(reps: int = 3, seconds: int = 8) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench` (it installs Debian's wrk) or apt-get install wrk")
    OUT.mkdir(exist_ok=True)
    items = bodies()
    batch_cases = bodies(1000, seed=13)
    with tempfile.TemporaryDirectory() as tmp_name, ExitStack() as stack:
        tmp = Path(tmp_name)
        trees = {r: baseline_tree(tmp, r) for r in {t.revision for t in TARGETS if t.revision is not None}}
        baseline = trees.get(BASELINE)
        targets = [t for t in TARGETS if t.revision is None or trees[t.revision] is not None]
        script = str(tmp / "post.lua")
        Path(script).write_text(lua_script(items, "/v1/cases/lead"))
        ports = {t.name: free_port() for t in targets}
        for i, t in enumerate(targets):
            port = ports[t.name]
            # Each lead server logs its decisions to its own SQLite decision log (the default configuration).
            env = {**t.env, "TIAOKUAI_DATABASE_URL": f"sqlite:///{tmp / f'log-{i}.sqlite3'}"}
            argv = [a.replace("{port}", str(port)) for a in t.argv]
            cwd = ROOT if t.revision is None else trees[t.revision] or ROOT
            stack.enter_context(server(argv, cwd, port, env, OUT / f"bench-http-{i}.log"))
        for t in targets:
            wrk(ports[t.name], script, 8, 2)  # warm-up: imports, first decisions, caches
        results: dict[str, dict[int, list[dict[str, float]]]] = {t.name: {1: [], 32: []} for t in targets}
        batch: dict[str, list[float]] = {SERVED: [], "tiaokuai serve, cache off": []}
        commits: list[dict[str, float]] = []
        for _ in range(reps):
            for connections in (1, 32):
                for t in targets:
                    results[t.name][connections].append(wrk(ports[t.name], script, connections, seconds))
            for name in batch:
                batch[name].append(batch_rate(ports[name], batch_cases))
            commits.append(commit_cost(tmp))
    summary: dict[str, Any] = {"reps": reps, "seconds": seconds, "targets": {}, "batch": {}, "baseline": BASELINE if baseline else None,
                               "before_turns": BEFORE_TURNS if trees.get(BEFORE_TURNS) else None,
                               "before_call": BEFORE_CALL if trees.get(BEFORE_CALL) else None,
                               "later": {r[:12]: bool(trees.get(r)) for r in (BEFORE_ROWS, BEFORE_ONE_PASS, BEFORE_HASH)}}
    for name, by_c in results.items():
        for connections, runs in by_c.items():
            bare = results[BARE][connections]
            summary["targets"][f"{name}|{connections}"] = {
                "rate": statistics.median(r["rate"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "non_2xx": sum(r["non_2xx"] for r in runs),
                "socket_errors": sum(r["socket_errors"] for r in runs),
                "ratio": statistics.median(r["rate"] / b["rate"] for r, b in zip(runs, bare, strict=True)),
                "p99_ratio": statistics.median(r["p99_ms"] / b["p99_ms"] for r, b in zip(runs, bare, strict=True)),
                "reps": [round(r["rate"]) for r in runs],
            }
    steps = [s for s in STEPS if s in results]
    summary["steps"] = {}
    for connections in (1, 32):
        for prev, cur in zip([None, *steps], steps, strict=False):
            gain = 1.0 if prev is None else statistics.median(
                a["rate"] / b["rate"] for a, b in zip(results[cur][connections], results[prev][connections], strict=True)
            )
            summary["steps"][f"{cur}|{connections}"] = gain
    for name, rates in batch.items():
        summary["batch"][name] = {"rate": statistics.median(rates), "reps": [round(r) for r in rates], "cases_per_request": len(batch_cases)}
    summary["commit_us"] = {mode: statistics.median(c[mode] for c in commits) for mode in ("FULL", "NORMAL")}
    return summary
