"""Cost of the decision log per decision, against no logging, in one process and one run.

Variants, interleaved round-robin so machine noise hits all of them alike:
  decide            runtime.decide + response_bytes (what POST /v1/cases/lead does without a log)
  log FULL          + DecisionLog.log, one caller: one commit per decision, synchronous=FULL (the default)
  log NORMAL        the same with synchronous=NORMAL (survives a process crash, not a power loss)
  log FULL ×8       8 threads deciding and logging at once: the writer groups their commits
The figures are per decision: the median over rounds of each round's median latency
(single caller) or wall time ÷ decisions (×8), and each round's ratio to `decide` in the
same round. Writes out/bench/log_cost.json.

    .venv/bin/python -m bench.log_cost [--rounds 7] [--n 400] [--dir var/bench]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine.analysis import space
from engine.lead.decision import Case
from engine.log.store import DecisionLog, open_log
from engine.replay import response_bytes
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
THREADS = 8


def cases(runtime: Runtime, n: int) -> list[Case]:
    return random.Random(5).sample(list(space.cases(runtime.policy)), n)


def single(runtime: Runtime, batch: list[Case], log: DecisionLog | None) -> list[float]:
    """Per-decision latencies (µs) for one caller."""
    out = []
    policy = runtime.policy
    for i, case in enumerate(batch):
        t0 = time.perf_counter_ns()
        body = response_bytes(f"b{i:020d}", runtime.decide(case))
        if log is not None:
            log.log("lead", b'{"township": "x"}', body, policy)
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def concurrent(runtime: Runtime, batch: list[Case], log: DecisionLog) -> float:
    """Wall µs per decision with THREADS callers sharing the log's group commit."""
    policy = runtime.policy
    chunks = [batch[i::THREADS] for i in range(THREADS)]

    def work(chunk: list[Case]) -> None:
        for i, case in enumerate(chunk):
            log.log("lead", b'{"township": "x"}', response_bytes(f"c{i:020d}", runtime.decide(case)), policy)

    threads = [threading.Thread(target=work, args=(c,)) for c in chunks]
    t0 = time.perf_counter_ns()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter_ns() - t0) / 1000 / len(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=400, help="decisions per variant per round")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench", help="where the SQLite files go (a real disk)")
    args = parser.parse_args()

    runtime = Runtime.from_dir(ROOT / "policy")
    batch = cases(runtime, args.n)
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    logs = {
        "log FULL": open_log(f"sqlite:///{args.dir / 'full.sqlite3'}", sqlite_synchronous="FULL"),
        "log NORMAL": open_log(f"sqlite:///{args.dir / 'normal.sqlite3'}", sqlite_synchronous="NORMAL"),
        "log FULL ×8": open_log(f"sqlite:///{args.dir / 'group.sqlite3'}", sqlite_synchronous="FULL"),
    }
    variants: dict[str, Callable[[], float]] = {
        "decide": lambda: statistics.median(single(runtime, batch, None)),
        "log FULL": lambda: statistics.median(single(runtime, batch, logs["log FULL"])),
        "log NORMAL": lambda: statistics.median(single(runtime, batch, logs["log NORMAL"])),
        "log FULL ×8": lambda: concurrent(runtime, batch, logs["log FULL ×8"]),
    }
    for run in variants.values():  # warm-up: compile paths, create files
        run()
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, run in variants.items():
            results[name].append(run())
    ratios = {name: [v / b for v, b in zip(values, results["decide"], strict=True)] for name, values in results.items()}
    for log in logs.values():
        assert log.verify().ok
        log.close()

    print(f"{args.rounds} rounds × {args.n} decisions per variant, seed policy, SQLite WAL under {args.dir}")
    print(f"{'variant':<14} {'µs/decision (median)':>22} {'min..max of rounds':>22} {'× decide':>9} {'added µs':>9}")
    base = statistics.median(results["decide"])
    for name, values in results.items():
        med = statistics.median(values)
        spread = f"{min(values):.0f}..{max(values):.0f}"
        print(f"{name:<14} {med:>22.1f} {spread:>22} {statistics.median(ratios[name]):>9.2f} {med - base:>9.1f}")
    out = ROOT / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "log_cost.json").write_text(json.dumps({"rounds": args.rounds, "n": args.n, "us_per_decision": results, "ratio_to_decide": ratios}, indent=1))
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
