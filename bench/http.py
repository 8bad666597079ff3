"""HTTP figures under wrk: POST /v1/cases/lead (access log and decision log on) next to a bare FastAPI
endpoint returning a constant decision-shaped response (bench/bare_app.py), at c=1 and
c=32, plus the batch endpoint's decisions/s. All servers run at once, one uvicorn worker
each; the targets are measured round-robin in every repetition and ratios are per
repetition against the bare endpoint of the same repetition."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from engine.analysis import space
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
PORTS = {"lead (cache on)": 8171, "lead (cache off)": 8172, "bare FastAPI": 8173}


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


@contextmanager
def server(app: str, port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "info"],
            cwd=ROOT, env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError(f"{app} did not start on {port}; see {log}") from None
                    time.sleep(0.2)
            yield proc
        finally:
            proc.terminate()
            proc.wait(timeout=30)


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


def http_figures(reps: int = 3, seconds: int = 8) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: run `make bench` (it installs Debian's wrk) or apt-get install wrk")
    OUT.mkdir(exist_ok=True)
    items = bodies()
    batch_cases = bodies(1000, seed=13)
    results: dict[str, dict[int, list[dict[str, float]]]] = {name: {1: [], 32: []} for name in PORTS}
    batch: dict[str, list[float]] = {"lead (cache on)": [], "lead (cache off)": []}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        script = str(Path(tmp) / "post.lua")
        Path(script).write_text(lua_script(items, "/v1/cases/lead"))
        # Each server logs its decisions to its own SQLite decision log (the default configuration).
        logs = {name: f"sqlite:///{Path(tmp) / f'log-{port}.sqlite3'}" for name, port in PORTS.items()}
        stack.enter_context(server("api.http.main:app", PORTS["lead (cache on)"], {"TIAOKUAI_DATABASE_URL": logs["lead (cache on)"]}, OUT / "bench-lead-cache.log"))
        stack.enter_context(
            server("api.http.main:app", PORTS["lead (cache off)"], {"TIAOKUAI_DECISION_CACHE": "0", "TIAOKUAI_DATABASE_URL": logs["lead (cache off)"]}, OUT / "bench-lead-nocache.log")
        )
        stack.enter_context(server("bench.bare_app:app", PORTS["bare FastAPI"], {}, OUT / "bench-bare.log"))
        for port in PORTS.values():
            wrk(port, script, 8, 2)  # warm-up: imports, first decisions, caches
        for _ in range(reps):
            for connections in (1, 32):
                for name, port in PORTS.items():
                    results[name][connections].append(wrk(port, script, connections, seconds))
            for name in batch:
                batch[name].append(batch_rate(PORTS[name], batch_cases))
    summary: dict[str, Any] = {"reps": reps, "seconds": seconds, "targets": {}, "batch": {}}
    for name, by_c in results.items():
        for connections, runs in by_c.items():
            bare = results["bare FastAPI"][connections]
            summary["targets"][f"{name}|{connections}"] = {
                "rate": statistics.median(r["rate"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "p99_ms": statistics.median(r["p99_ms"] for r in runs),
                "non_2xx": sum(r["non_2xx"] for r in runs),
                "socket_errors": sum(r["socket_errors"] for r in runs),
                "ratio": statistics.median(r["rate"] / b["rate"] for r, b in zip(runs, bare, strict=True)),
                "reps": [round(r["rate"]) for r in runs],
            }
    for name, rates in batch.items():
        summary["batch"][name] = {"rate": statistics.median(rates), "reps": [round(r) for r in rates], "cases_per_request": len(batch_cases)}
    return summary
