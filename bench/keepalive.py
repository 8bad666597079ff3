"""Latency on one keep-alive connection, the server run as users run it: `tiaokuai serve`
(supervised: the worker serves on the supervisor's socket) next to `--no-supervise`.

A supervised worker that wrapped its socket as AF_UNIX never set TCP_NODELAY, so every
response on a kept-alive connection waited for the client's delayed ACK (~40 ms); the
ratio supervised / unsupervised shows whether the supervisor costs anything per request.
Both servers run at once; rounds alternate between them; figures are medians.

    .venv/bin/python -m bench.keepalive --rounds 5 --n 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CASE = json.dumps({"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}, "as_of": "2026-11-01"})
TARGETS = {"tiaokuai serve (supervised)": [], "tiaokuai serve --no-supervise": ["--no-supervise"]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(flags: list[str], database: str, log: Path) -> Iterator[int]:
    port = _free_port()
    argv = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", *flags]
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "TIAOKUAI_DATABASE_URL": database}, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        conn.close()
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"server {flags} did not start; see {log}")
                time.sleep(0.2)
            yield port
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def one_connection(port: int, n: int) -> dict[str, float]:
    """Median ms per request of n GET /healthz, then n POST /v1/cases/lead, on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out: dict[str, float] = {}
    for name, method, path, body in (("healthz", "GET", "/healthz", None), ("lead", "POST", "/v1/cases/lead", CASE)):
        times = []
        for _ in range(n):
            started = time.perf_counter()
            conn.request(method, path, body=body, headers={"content-type": "application/json"} if body else {})
            response = conn.getresponse()
            response.read()
            times.append((time.perf_counter() - started) * 1000)
            assert response.status == 200, (path, response.status)
        out[name] = statistics.median(times)
    conn.close()
    return out


def keepalive_figures(rounds: int = 5, n: int = 200) -> dict[str, Any]:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in TARGETS}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        (ROOT / "out").mkdir(exist_ok=True)
        ports = {
            name: stack.enter_context(serve(flags, f"sqlite:///{Path(tmp) / f'log-{i}.sqlite3'}", ROOT / "out" / f"bench-keepalive-{i}.log"))
            for i, (name, flags) in enumerate(TARGETS.items())
        }
        for port in ports.values():
            one_connection(port, 20)  # warm-up
        for _ in range(rounds):
            for name, port in ports.items():
                runs[name].append(one_connection(port, n))
    base = runs["tiaokuai serve --no-supervise"]
    summary: dict[str, Any] = {"rounds": rounds, "n": n, "targets": {}}
    for name, results in runs.items():
        summary["targets"][name] = {
            kind: {
                "median_ms": statistics.median(r[kind] for r in results),
                "ratio": statistics.median(r[kind] / b[kind] for r, b in zip(results, base, strict=True)),
            }
            for kind in ("healthz", "lead")
        }
    return summary


def keepalive_section(k: dict[str, Any]) -> list[str]:
    lines = [
        "## One keep-alive connection: supervised vs --no-supervise",
        "",
        (
            f"`bench/keepalive.py`: {k['n']} sequential requests per kind on one connection, {k['rounds']} alternating rounds, "
            "both servers running at once (decision log on, SQLite). Median ms per request; ratio against `--no-supervise` per round."
        ),
        "",
        "| server | GET /healthz ms | ratio | POST /v1/cases/lead ms | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, t in k["targets"].items():
        h, lead = t["healthz"], t["lead"]
        lines.append(f"| {name} | {h['median_ms']:.2f} | {h['ratio']:.2f} | {lead['median_ms']:.2f} | {lead['ratio']:.2f} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    print("\n".join(keepalive_section(keepalive_figures(args.rounds, args.n))))


if __name__ == "__main__":
    main()
