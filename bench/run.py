"""`make bench`: run every benchmark once and write bench/results.md.

Sections: machine and load, engine (seed and ×10) with plain-Python ratios and a profile
of the cache-miss path, policy load/validate/compile times, HTTP under wrk with ratios to
a bare FastAPI endpoint, and the batch endpoint. The soak section (`make soak`) is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

from bench.asgi_profile import asgi_figures
from bench.engine import engine_figures, load_figures
from bench.http import http_figures

RESULTS = Path(__file__).resolve().parent / "results.md"
SOAK_BEGIN, SOAK_END = "<!-- soak:begin -->", "<!-- soak:end -->"
TARGET_P50, TARGET_P99 = 60.0, 300.0


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = "unknown"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, AttributeError):
        pass
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "memory": mem,
        "python": platform.python_version(),
        "os": platform.platform(),
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def engine_section(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Engine, in-process (`bench/engine.py`)",
        "",
        "One decision = `Runtime.decide`: check the case, build the fact, durable_rules, precedence, frozen `Decision`.",
        "Medians over rounds; every round runs all variants back to back; ratios are per round against plain Python.",
        f"Target: p50 ≤ {TARGET_P50:.0f} µs and p99 ≤ {TARGET_P99:.0f} µs at both sizes.",
        "",
        "| size | matters / rules / shards | variant | p50 µs | p99 µs | decisions/s | × plain p50 | × plain decisions/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        v, ratios = r["variants"], r["ratios"]
        size = f"seed ×{r['scale']}"
        shape = f"{r['matters']} / {r['rules']} / {r['shards']}"
        plain = v["plain Python (same decide, dict by matter + scan)"]
        for name, fig in v.items():
            if name.startswith("matching only"):
                continue
            p50_ratio = fig["p50"] / plain["p50"]
            rate_ratio = fig["rate"] / plain["rate"]
            if name.startswith("engine, cache miss"):
                p50_ratio, rate_ratio = ratios["miss_p50"], ratios["miss_rate"]
            elif name.startswith("engine, cache hit"):
                p50_ratio = ratios["hit_p50"]
            lines.append(f"| {size} | {shape} | {name} | {fmt(fig['p50'])} | {fmt(fig['p99'])} | {fmt(fig['rate'], 0)} | {p50_ratio:.2f} | {rate_ratio:.2f} |")
        d, p = v["matching only: durable_rules fire"], v["matching only: plain Python"]
        lines.append(f"| {size} | {shape} | matching only: durable_rules fire | {fmt(d['p50'])} | {fmt(d['p99'])} | {fmt(d['rate'], 0)} | {ratios['fire_p50']:.2f} | {ratios['fire_rate']:.2f} |")
        lines.append(f"| {size} | {shape} | matching only: plain Python | {fmt(p['p50'])} | {fmt(p['p99'])} | {fmt(p['rate'], 0)} | 1.00 | 1.00 |")
    lines += [""]
    for r in results:
        miss = r["variants"]["engine, cache miss (durable_rules)"]
        hit = r["variants"]["engine, cache hit"]
        verdict = lambda f: "met" if f["p50"] <= TARGET_P50 and f["p99"] <= TARGET_P99 else "NOT met"  # noqa: E731
        lines.append(
            f"- seed ×{r['scale']}: {r['cases']} sampled cases; plain Python and durable_rules fired the same rules on "
            f"every case ({r['mismatches']} mismatches) and gave the same decision ({r['different_decisions']} different). "
            f"Target on the miss path: **{verdict(miss)}** (p50 {fmt(miss['p50'])} µs, p99 {fmt(miss['p99'])} µs); "
            f"on a cache hit: **{verdict(hit)}** (p50 {fmt(hit['p50'])} µs, p99 {fmt(hit['p99'])} µs)."
        )
    lines += ["", "### Where a cache-miss decision spends its time (cProfile, ×10, 3,000 decisions)", "",
              "Profiling inflates each function call; the shares, not the absolute µs, are the point.", "",
              "| function | µs per decision (profiled) | share % |", "|---|---|---|"]
    big = max(results, key=lambda r: r["scale"])
    for where, us, share in big["profile"]:
        lines.append(f"| `{where}` | {us:.1f} | {share:.1f} |")
    return lines + [""]


def load_section(loads: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## Policy load + validate + compile (`bench/engine.py`, median of 5)",
        "",
        "| size | files | parse + validate ms | compile ms | register with durable_rules ms | total ms | × seed total |",
        "|---|---|---|---|---|---|---|",
    ]
    seed = loads[0]["total_ms"]
    for scale, f in zip((1, 10), loads, strict=True):
        lines.append(f"| seed ×{scale} | {f['files']} | {fmt(f['parse_validate_ms'])} | {fmt(f['compile_ms'])} | {fmt(f['register_ms'])} | {fmt(f['total_ms'])} | {f['total_ms'] / seed:.2f} |")
    return lines + [""]


def http_section(h: dict[str, Any]) -> list[str]:
    lines = [
        "## HTTP (`bench/http.py`, wrk)",
        "",
        (
            f"`wrk -t1 -cC -d{h['seconds']}s --latency`, rotating 200 different case bodies; median of {h['reps']} repetitions, "
            "targets round-robin in each; one uvicorn worker per server, access log on (to a file), every decision in the server's own SQLite decision log. "
            "`lead (cache on)` is the default configuration; `cache off` makes durable_rules evaluate every request. "
            "Ratio = requests/s ÷ the bare endpoint's in the same repetition. Targets: ≥ 80 % of bare, p99 at c=1 ≤ 2 ms."
        ),
        "",
        "| target | c | requests/s | p50 ms | p99 ms | × bare req/s | non-2xx | per-rep req/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, f in h["targets"].items():
        name, c = key.split("|")
        lines.append(f"| {name} | {c} | {fmt(f['rate'], 0)} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} | {f['ratio']:.2f} | {int(f['non_2xx'])} | {f['reps']} |")
    lines += ["", "### Batch: `POST /v1/cases/lead:batch`", "", "| server | cases per request | decisions/s | per-rep |", "|---|---|---|---|"]
    for name, f in h["batch"].items():
        lines.append(f"| {name} | {f['cases_per_request']} | {fmt(f['rate'], 0)} | {f['reps']} |")
    return lines + [""]


def asgi_section(a: dict[str, Any]) -> list[str]:
    lines = [
        "### Why the lead endpoint is slower than the bare one (`bench/asgi_profile.py`)",
        "",
        (
            f"Through ASGI directly (no sockets, no uvicorn), cache hits, interleaved blocks: **{fmt(a['lead_us'])} µs** per "
            f"lead request vs **{fmt(a['bare_us'])} µs** for the bare endpoint (bare ÷ lead = {a['ratio']:.2f}). "
            f"Of a lead request, the median wait from handing its record to the decision log until the record is "
            f"committed (SQLite, `synchronous=FULL`: one fsync) is **{fmt(a['commit_wait_us'])} µs**, time the request "
            "spends suspended. Share of the rest by layer (cProfile, cumulative; layers nest, so shares overlap):"
        ),
        "",
        "| layer | share % |",
        "|---|---|",
    ]
    lines += [f"| {name} | {share:.1f} |" for name, share in a["layers"].items()]
    lines += [
        "",
        (
            "The engine is a small share on a cache hit. The difference to the bare endpoint is the wait for the "
            "decision log's commit, then FastAPI's per-request work for a validated endpoint (dependency solving — "
            "runtime, decision log, query check, strict body model — and serialising a full decision), which the bare "
            "endpoint skips by design."
        ),
        "",
    ]
    return lines


def analysis(engines: list[dict[str, Any]], http: dict[str, Any] | None) -> list[str]:
    lines = ["## Targets and gaps", ""]
    for r in engines:
        v = r["variants"]
        miss, plain = v["engine, cache miss (durable_rules)"], v["plain Python (same decide, dict by matter + scan)"]
        fire, pfire = v["matching only: durable_rules fire"], v["matching only: plain Python"]
        lines.append(
            f"- seed ×{r['scale']}: a cache miss costs p50 {fmt(miss['p50'])} µs (target 60). Of that, durable_rules' matching "
            f"is {fmt(fire['p50'])} µs (the same matching in plain Python: {fmt(pfire['p50'])} µs), and about "
            f"{fmt(miss['p50'] - fire['p50'])} µs is the Python around it — check the case, build the fact, precedence, "
            f"explanation, the frozen `Decision` — which the plain-Python baseline pays too (its whole decision: "
            f"{fmt(plain['p50'])} µs). Both parts would have to shrink to reach 60 µs here; the profile below shows no single "
            "hot spot left in either."
        )
    lines += [
        (
            "- p99 on this machine is set by CPU contention: the 2 cores are shared with other jobs (load average above), "
            "a process loses its core for milliseconds at a time, and the plain-Python baseline's p99 moves with the "
            "engine's in the same rounds. The cache-hit path stays within the targets."
        ),
    ]
    if http is not None:
        t = http["targets"]
        on1, on32, bare1 = t["lead (cache on)|1"], t["lead (cache on)|32"], t["bare FastAPI|1"]
        lines.append(
            f"- HTTP: the lead endpoint reaches {on1['ratio']:.2f} (c=1) and {on32['ratio']:.2f} (c=32) of the bare "
            f"endpoint's requests/s (target 0.80); p99 at c=1 is {on1['p99_ms']:.2f} ms against {bare1['p99_ms']:.2f} ms for "
            "the bare endpoint in the same run (target 2 ms). Not met. The in-process profile below shows where: "
            "with the decision log on, each answer waits for its record's SQLite commit (`synchronous=FULL`, one fsync, "
            "shared by the requests waiting at the same time), which is why c=32 fares better than c=1; the rest is "
            "FastAPI's per-request work for a validated endpoint. The engine is a few per cent on a cache hit."
        )
    return lines + [""]


def keep_soak() -> list[str]:
    if RESULTS.exists():
        text = RESULTS.read_text(encoding="utf-8")
        if SOAK_BEGIN in text and SOAK_END in text:
            return [text[text.index(SOAK_BEGIN) : text.index(SOAK_END) + len(SOAK_END)], ""]
    return [SOAK_BEGIN, "## Soak", "", "Not run yet: `make soak`.", SOAK_END, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=3000, help="decisions per variant per round")
    parser.add_argument("--http-reps", type=int, default=3)
    parser.add_argument("--http-seconds", type=int, default=8)
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC)
    before = machine()
    print("engine ×1 …", file=sys.stderr)
    engines = [engine_figures(1, args.rounds, args.n)]
    print("engine ×10 …", file=sys.stderr)
    engines.append(engine_figures(10, args.rounds, args.n))
    print("load …", file=sys.stderr)
    loads = [load_figures(1), load_figures(10)]
    http = None
    asgi = None
    if not args.no_http:
        print("http …", file=sys.stderr)
        http = http_figures(args.http_reps, args.http_seconds)
        print("asgi profile …", file=sys.stderr)
        asgi = asgi_figures()
    after = machine()
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {started:%Y-%m-%d %H:%M} UTC ({(dt.datetime.now(dt.UTC) - started).total_seconds() / 60:.1f} min).",
        "",
        (
            f"Machine: {before['cpu']}, {before['memory']}, Python {before['python']}, {before['os']}. "
            f"Load average (1/5/15 min) before: {before['load']}, after: {after['load']} — the machine is shared, "
            "so absolute figures are pessimistic and noisy; compare the ratios, which are measured side by side."
        ),
        "",
    ]
    lines += analysis(engines, http)
    lines += engine_section(engines)
    lines += load_section(loads)
    if http is not None:
        lines += http_section(http)
    if asgi is not None:
        lines += asgi_section(asgi)
    lines += keep_soak()
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
