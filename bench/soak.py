"""`make soak`: memory over 1 M in-process decisions, over 1,000 reloads and over a 5-minute HTTP load.

Prints RSS at intervals and writes the soak section of bench/results.md. Not part of
`make test` (it takes ~10 minutes on the shared 2-core machine).

1. 1,000,000 decisions in-process with the decision cache off (durable_rules evaluates
   every one), then 1,000,000 with the default cache (10,000 entries) over more distinct
   cases than it holds, so it keeps evicting: RSS every 100,000 decisions.
2. 1,000 hot reloads in one process (four versions of the policy that really differ),
   durable_rules deciding under each: RSS every 100 reloads.
3. `tiaokuai serve` (supervised worker, access log on) under `wrk -c32` for 5 minutes,
   the worker's RSS every 30 s; afterwards /healthz must show no restart.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.http import ROOT, bodies, free_port, lua_script
from bench.run import RESULTS, write_section
from engine.analysis import space
from engine.runtime import Runtime


def rss_mb(pid: int | str = "self") -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def in_process(total: int, cache_size: int, distinct: int) -> dict[str, Any]:
    runtime = Runtime.from_dir(ROOT / "policy", cache_size=cache_size)
    every = list(space.cases(runtime.policy))
    cases = random.Random(3).sample(every, min(distinct, len(every)))
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    started = time.perf_counter()
    for i in range(1, total + 1):
        runtime.decide(cases[i % len(cases)])
        if i % (total // 10) == 0:
            samples.append((i, rss_mb()))
            print(f"  cache={cache_size:>6} decisions {i:>9,}: RSS {samples[-1][1]:.1f} MB", file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - started
    after_warmup = samples[1][1]
    return {
        "cache": cache_size, "distinct": len(cases), "total": total, "seconds": elapsed, "rate": total / elapsed,
        "samples": samples, "growth_after_first_interval_mb": samples[-1][1] - after_warmup,
        "stats": runtime.active.cache.stats(),
    }


def reloads(total: int, decisions_each: int = 30) -> dict[str, Any]:
    """`total` hot swaps in one process, alternating four policy versions that really differ
    (the sand-mining rule's priority), durable_rules deciding `decisions_each` cases under
    each version; RSS every tenth of the way, and every 50th version's decisions compared
    with the Python evaluator of the same compiled rules."""
    from engine.lead.decide import decide
    from engine.policy.load import policy_from_files, read_policy_dir
    from engine.rules.evaluate import PythonRules

    files = read_policy_dir(ROOT / "policy")
    versions = []
    for k in range(4):
        changed = dict(files)
        changed["rules/integrated.yaml"] = files["rules/integrated.yaml"].replace("priority: 0", f"priority: {k}", 1) + f"\n# soak version {k}\n"
        versions.append(policy_from_files(changed))
    runtime = Runtime.from_files(files)
    cases = random.Random(5).sample(list(space.cases(runtime.policy)), 400)
    samples: list[tuple[int, float]] = [(0, rss_mb())]
    mismatches = 0
    started = time.perf_counter()
    for i in range(1, total + 1):
        active = runtime.swap(versions[i % len(versions)], "soak")
        for case in random.Random(i).sample(cases, decisions_each):
            got = runtime.decide_uncached(case)
            if i % 50 == 0:
                mismatches += got.to_dict() != decide(case, active.compiled, PythonRules(active.compiled).fire).to_dict()
        if i % (total // 10) == 0:
            samples.append((i, rss_mb()))
            print(f"  reloads {i:>6,}: RSS {samples[-1][1]:.1f} MB", file=sys.stderr, flush=True)
    return {"total": total, "decisions_each": decisions_each, "seconds": time.perf_counter() - started, "samples": samples,
            "growth_after_first_interval_mb": samples[-1][1] - samples[1][1], "mismatches": mismatches}


def http_soak(seconds: int, interval: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TIAOKUAI_DATABASE_URL": f"sqlite:///{Path(tmp) / 'log.sqlite3'}"}
        log = Path(tmp) / "serve.log"
        script = Path(tmp) / "post.lua"
        script.write_text(lua_script(bodies(2000, seed=5), "/v1/cases/lead"))
        port = free_port()
        with log.open("wb") as sink:
            server = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            pid = health["worker"]["pid"]
            load = subprocess.Popen(
                ["wrk", "-t1", "-c32", f"-d{seconds}s", "--timeout", "5s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}"],
                stdout=subprocess.PIPE, text=True,
            )
            samples: list[tuple[int, float]] = [(0, rss_mb(pid))]
            started = time.monotonic()
            while load.poll() is None:
                time.sleep(min(interval, max(0.1, seconds + 1 - (time.monotonic() - started))))
                elapsed = int(time.monotonic() - started)
                if load.poll() is None or not samples or samples[-1][0] < elapsed - 1:
                    samples.append((elapsed, rss_mb(pid)))
                    print(f"  http t={elapsed:>4}s: worker RSS {samples[-1][1]:.1f} MB", file=sys.stderr, flush=True)
            out = load.communicate()[0]
            after = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
        finally:
            server.terminate()
            server.wait(timeout=30)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "seconds": seconds, "requests": requests, "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(non2xx.group(1)) if non2xx else 0, "socket_errors": re.search(r"Socket errors: (.*)", out) is not None,
        "samples": samples, "restarts": after["worker"]["restarts"], "same_pid": after["worker"]["pid"] == pid,
    }


def write(runs: list[dict[str, Any]], reload: dict[str, Any] | None, http: dict[str, Any] | None) -> None:
    lines = ["## Soak (`make soak`, bench/soak.py)", "", f"Run on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; load average then {' / '.join(f'{x:.2f}' for x in os.getloadavg())}.", ""]
    lines += ["| in-process run | distinct cases | decisions | decisions/s | RSS MB at 0 / 100k / … / 1M | growth after the first 100k |", "|---|---|---|---|---|---|"]
    for r in runs:
        label = "cache off (durable_rules every time)" if r["cache"] == 0 else f"cache {r['cache']:,} entries (evicting)"
        series = " / ".join(f"{mb:.1f}" for _, mb in r["samples"])
        lines.append(f"| {label} | {r['distinct']:,} | {r['total']:,} | {r['rate']:,.0f} | {series} | {r['growth_after_first_interval_mb']:+.1f} MB |")
    if reload is not None:
        series = " / ".join(f"{mb:.1f}" for _, mb in reload["samples"])
        lines += [
            "",
            (
                f"Reloads: {reload['total']:,} hot swaps in one process (`Runtime.swap`, four versions that differ in a rule's "
                f"priority, {reload['decisions_each']} durable_rules decisions under each; every 50th version checked against the "
                f"Python evaluator: {reload['mismatches']} mismatches), {reload['seconds']:.0f} s. RSS MB at 0 / 10 % / … / 100 %: "
                f"{series} (growth {reload['growth_after_first_interval_mb']:+.1f} MB after the first tenth)."
            ),
        ]
    if http is not None:
        series = " / ".join(f"{mb:.1f}" for _, mb in http["samples"])
        lines += [
            "",
            (
                f"HTTP: `tiaokuai serve` (supervised, access log and decision log on), `wrk -t1 -c32 -d{http['seconds']}s` over 2,000 case bodies: "
                f"{http['requests']:,} requests, {http['rate']:,.0f} req/s, {http['non_2xx']} non-2xx, socket errors: {'yes' if http['socket_errors'] else 'none'}; "
                f"worker restarts afterwards: {http['restarts']} (same pid: {http['same_pid']})."
            ),
            "",
            f"Worker RSS MB every ~30 s: {series} (growth {http['samples'][-1][1] - http['samples'][1][1]:+.1f} MB after the first interval).",
        ]
    write_section("soak", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=1_000_000)
    parser.add_argument("--reloads", type=int, default=1000)
    parser.add_argument("--http-seconds", type=int, default=300)
    args = parser.parse_args()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    runs = [in_process(args.decisions, 0, 5000), in_process(args.decisions, 10_000, 13_680)]
    reload = reloads(args.reloads) if args.reloads > 0 else None
    http = http_soak(args.http_seconds, 30) if args.http_seconds > 0 else None
    write(runs, reload, http)
    print(f"wrote the soak section of {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
