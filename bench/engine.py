"""In-process figures: decisions/s and latency of the engine next to plain Python, and the
time to load, validate and compile the policy, at seed size and ×10 (bench/synthetic.py).

Variants run round-robin in every round (the machine is shared: medians of per-round
figures, ratios computed per round against the baseline of the same round):
- engine, cache miss: `Runtime.decide_uncached`, durable_rules evaluates every case;
- engine, cache miss, whole facts: the same, on an adapter that sends every property of the
  fact (`DurableRules(whole_facts=True)`: the adapter before it sent only the tested ones);
- engine, cache miss, as of `BASELINE`: the same `decide`, on the policy compiled and decided
  the way engine/rules/compile.py and engine/rules/durable.py did at that revision (read from
  git): 200 matters per shard; assert, collect, retract, check (docs/durable_rules.md §8); a
  closure per decision, as `Runtime` made then;
- engine, cache hit: `Runtime.decide` on cases already in the decision cache;
- plain Python: the same `engine.lead.decide.decide`, with bench/plain.py matching instead of
  durable_rules (dict by matter + scan of compiled conditions);
- floor, durable_rules' C calls alone: the same `decide`, its hits known in advance, and for
  each case only the C calls the adapter makes (`update_state`, one action per fired rule) on
  the very message text it sent for that case: what this design costs without any Python
  around the engine (not a way to decide: the limit the miss path can approach);
- matching only: `DurableRules.fire` vs `PlainFire` on prebuilt facts.
"""

from __future__ import annotations

import cProfile
import gc
import io
import json
import pstats
import random
import statistics
import subprocess
import sys
import tarfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from bench.plain import PlainFire
from bench.synthetic import synthetic_files
from engine.analysis import space
from engine.lead.decide import Prepared, decide
from engine.lead.decision import Case
from engine.lead.facts import build_fact
from engine.rules import durable
from engine.rules.durable import DurableRules, shared_adapter
from engine.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "policy"
# the engine's compile and adapter before the session protocol (docs/durable_rules.md §8) and
# the smaller shards
BASELINE = "93f8bd9"
BEFORE = f"engine, cache miss, as of {BASELINE}"
FLOOR = "floor: same decide, hits known, only durable_rules' C calls"


@dataclass
class Series:
    """Per-round figures of one variant: p50/p99 (µs) and decisions/s."""

    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)

    def add(self, latencies_ns: list[int], rate: float) -> None:
        latencies_ns.sort()
        n = len(latencies_ns)
        self.p50.append(latencies_ns[n // 2] / 1000)
        self.p99.append(latencies_ns[min(n - 1, int(n * 0.99))] / 1000)
        self.rate.append(rate)

    def median(self) -> dict[str, float]:
        return {"p50": statistics.median(self.p50), "p99": statistics.median(self.p99), "rate": statistics.median(self.rate)}


def measure(fn: Callable[[int], Any], n: int) -> tuple[list[int], float]:
    """n timed calls (latency per call), then n untimed calls (throughput)."""
    clock = time.perf_counter_ns
    lat = []
    for i in range(n):
        t = clock()
        fn(i)
        lat.append(clock() - t)
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return lat, n / (time.perf_counter() - t0)


def sample_cases(runtime: Runtime, n: int, seed: int = 7) -> list[Case]:
    """n cases drawn uniformly from the declared case space (reservoir sampling: the ×10
    space has over a million cases, which need not all be held at once)."""
    rng = random.Random(seed)
    chosen: list[Case] = []
    for i, case in enumerate(space.cases(runtime.policy)):
        if i < n:
            chosen.append(case)
        elif (j := rng.randrange(i + 1)) < n:
            chosen[j] = case
    return chosen


def baseline_module(path: str, revision: str = BASELINE) -> types.ModuleType | None:
    """The module at `path` as it was at `revision` (read with git; it imports this tree's
    other modules), or None without git or the revision."""
    try:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:{path}"], capture_output=True, check=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType(f"bench_{revision}_{Path(path).stem}")
    sys.modules[module.__name__] = module  # its dataclasses look their module up
    exec(compile(source, f"{revision}:{path}", "exec"), module.__dict__)  # noqa: S102 - our own file, from git
    return module


class _Recorder:
    """durable_rules' C module, recording every message text `update_state` is sent."""

    def __init__(self, real: Any) -> None:
        self.real, self.sent = real, []  # type: list[tuple[int, str]]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def update_state(self, handle: int, text: str) -> Any:
        self.sent.append((handle, text))
        return self.real.update_state(handle, text)


def floor_fires(runtime: Runtime, cases: list[Case]) -> list[Callable[[str, dict[str, Any]], list[str]]]:
    """Per case, a `fire` that makes only the C calls the adapter made for it (bench variant "floor")."""
    c = durable._c
    prepared = Prepared.of(runtime.active.compiled)
    fire = runtime.active.registration.fire
    recorder = _Recorder(c)
    fires = []
    durable._c = recorder
    try:
        for case in cases:
            sent = len(recorder.sent)
            hits = fire(runtime.active.compiled.shard_of_matter[case.matter], prepared.fact(case)) if case.matter else []
            fires.append((recorder.sent[sent:], hits))
    finally:
        durable._c = c

    def replay(messages: list[tuple[int, str]], hits: list[str]) -> Callable[[str, dict[str, Any]], list[str]]:
        def fire(_shard: str, _fact: dict[str, Any]) -> list[str]:
            for handle, text in messages:
                state = c.update_state(handle, text)
                if c.start_action_for_state(handle, state) is not None:
                    while c.complete_and_start_action(handle, state) is not None:
                        pass
            return hits

        return fire

    return [replay(messages, hits) for messages, hits in fires]


def engine_figures(scale: int, rounds: int, n: int) -> dict[str, Any]:
    files = synthetic_files(SEED, scale)
    runtime = Runtime.from_files(files, source=f"seed×{scale}", cache_size=2 * n)
    policy = runtime.policy
    compiled = runtime.active.compiled
    names = runtime.active.registration.names
    adapter = shared_adapter()
    plain = PlainFire(compiled)
    whole = DurableRules(whole_facts=True)
    whole_names = whole.register(compiled).names

    def whole_fire(shard: str, fact: dict[str, Any]) -> list[str]:
        return whole.fire(whole_names[shard], fact)

    old_compile, old_durable = baseline_module("engine/rules/compile.py"), baseline_module("engine/rules/durable.py")
    before = old_durable.DurableRules() if old_compile is not None and old_durable is not None else None
    before_compiled = old_compile.compile_policy(policy) if before is not None else compiled
    before_names = before.register(before_compiled).names if before is not None else {}

    def before_decide(case: Case) -> Any:
        def fire(shard: str, fact: dict[str, Any]) -> list[str]:  # made per decision, as Runtime did
            hits: list[str] = before.fire(before_names[shard], fact)
            return hits

        return decide(case, before_compiled, fire)

    cases = sample_cases(runtime, n)
    facts = [(compiled.shard_of_matter[c.matter], build_fact(policy, c)) for c in cases if c.matter]

    # The baseline must answer exactly like the engine, or the comparison means nothing.
    mismatches = sum(
        sorted(plain(shard, fact)) != sorted(adapter.fire(names[shard], fact)) for shard, fact in facts
    )
    before_mismatches = sum(
        before_decide(c).to_dict() != runtime.decide_uncached(c).to_dict() for c in cases if before is not None
    )
    different = sum(
        decide(c, compiled, plain).to_dict() != runtime.decide_uncached(c).to_dict() for c in cases
    )
    for c in cases:
        runtime.decide(c)  # warm the cache for the hit path
    k = len(cases)
    floors = floor_fires(runtime, cases)
    variants: dict[str, Callable[[int], Any]] = {
        "engine, cache miss (durable_rules)": lambda i: runtime.decide_uncached(cases[i % k]),
        "engine, cache miss, whole facts (before)": lambda i: decide(cases[i % k], compiled, whole_fire),
        **({BEFORE: lambda i: before_decide(cases[i % k])} if before is not None else {}),
        "engine, cache hit": lambda i: runtime.decide(cases[i % k]),
        "plain Python (same decide, dict by matter + scan)": lambda i: decide(cases[i % k], compiled, plain),
        FLOOR: lambda i: decide(cases[i % k], compiled, floors[i % k]),
        "matching only: durable_rules fire": lambda i: adapter.fire(names[facts[i % len(facts)][0]], facts[i % len(facts)][1]),
        "matching only: plain Python": lambda i: plain(*facts[i % len(facts)]),
    }
    series = {name: Series() for name in variants}
    ratios: dict[str, list[float]] = {
        "miss_p50": [], "miss_p99": [], "miss_rate": [], "hit_p50": [], "fire_p50": [], "fire_rate": [], "whole_p50": [], "whole_rate": [],
        "before_p50": [], "before_rate": [], "floor_p50": [],
    }  # fmt: skip
    for _ in range(rounds):
        for name, fn in variants.items():
            gc.collect()
            series[name].add(*measure(fn, n))
        base = series["plain Python (same decide, dict by matter + scan)"]
        miss, hit = series["engine, cache miss (durable_rules)"], series["engine, cache hit"]
        fire, pfire = series["matching only: durable_rules fire"], series["matching only: plain Python"]
        ratios["miss_p50"].append(miss.p50[-1] / base.p50[-1])
        ratios["miss_p99"].append(miss.p99[-1] / base.p99[-1])
        ratios["miss_rate"].append(miss.rate[-1] / base.rate[-1])
        ratios["hit_p50"].append(hit.p50[-1] / base.p50[-1])
        whole_miss = series["engine, cache miss, whole facts (before)"]
        ratios["whole_p50"].append(whole_miss.p50[-1] / base.p50[-1])
        ratios["whole_rate"].append(whole_miss.rate[-1] / base.rate[-1])
        if before is not None:
            ratios["before_p50"].append(series[BEFORE].p50[-1] / base.p50[-1])
            ratios["before_rate"].append(series[BEFORE].rate[-1] / base.rate[-1])
        ratios["floor_p50"].append(series[FLOOR].p50[-1] / base.p50[-1])
        ratios["fire_p50"].append(fire.p50[-1] / pfire.p50[-1])
        ratios["fire_rate"].append(fire.rate[-1] / pfire.rate[-1])
    return {
        "scale": scale,
        "matters": len(policy.matters),
        "rules": len(policy.rules),
        "shards": len(compiled.shards),
        "cases": len(cases),
        "mismatches": mismatches,
        "before_mismatches": before_mismatches,
        "different_decisions": different,
        "variants": {name: s.median() for name, s in series.items()},
        "ratios": {name: statistics.median(v) for name, v in ratios.items() if v},
        "cache": runtime.active.cache.stats(),
        "profile": profile_miss(runtime, cases),
    }


def profile_miss(runtime: Runtime, cases: list[Case], n: int = 3000) -> list[tuple[str, float, float]]:
    """cProfile of the cache-miss path: (function, tottime µs per decision, share %)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(n):
        runtime.decide_uncached(cases[i % len(cases)])
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{Path(file).name}:{line} {func}" if line else func
        rows.append((where, tottime / n * 1e6, 100 * tottime / total))
    rows.sort(key=lambda r: -r[1])
    return rows[:12]


# Run in a fresh interpreter in the tree being measured (this one, or the baseline revision's).
# Each tree's activation path: where the gate takes the definitions it is about to register
# (engine/runtime.py `activate`), they are built once, before it; else the gate, then compile.
_LOAD_SNIPPET = """
import inspect, json, sys, time
from pathlib import Path
from bench.synthetic import synthetic_files
from engine.analysis.check import gate
from engine.policy.load import policy_from_files
from engine.rules.compile import build_definitions, compile_policy
from engine.rules.durable import shared_adapter
shared = "compiled" in inspect.signature(gate).parameters
# as engine/runtime.py `activate` calls it in that tree: only the checks that can find an error
errors_only = {"warnings": False} if "warnings" in inspect.signature(gate).parameters else {}
out = {}
for scale in map(int, sys.argv[1:]):
    files = synthetic_files(Path("policy"), scale)
    t0 = time.perf_counter(); policy = policy_from_files(files)
    t1 = time.perf_counter()
    if shared:
        compiled = build_definitions(policy); tc = time.perf_counter(); gate(policy, compiled, **errors_only); t2 = time.perf_counter()
        gate_ms, compile_ms = (t2 - tc) * 1000, (tc - t1) * 1000
    else:
        gate(policy); tc = time.perf_counter(); compiled = compile_policy(policy); t2 = time.perf_counter()
        gate_ms, compile_ms = (tc - t1) * 1000, (t2 - tc) * 1000
    t3 = time.perf_counter(); registration = shared_adapter().register(compiled)
    t4 = time.perf_counter(); shared_adapter().unregister(registration)
    ms = lambda a, b: (b - a) * 1000
    out[scale] = {"files": len(files), "matters": len(policy.matters), "rules": len(policy.rules),
                  "parse_validate_ms": ms(t0, t1), "gate_ms": gate_ms, "compile_ms": compile_ms,
                  "register_ms": ms(t3, t4), "total_ms": ms(t0, t4)}
print(json.dumps(out))
"""


def revision_tree(into: Path, revision: str, name: str) -> Path | None:
    """The files of a git revision under `into/name` (git archive), or None without git or it."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into / name, filter="data")
    return into / name


def load_figures(
    trees: dict[str, Path], scales: tuple[int, ...] = (1, 10, 100), reps: int = 3, only: dict[str, tuple[int, ...]] | None = None
) -> dict[str, Any]:
    """Load + validate, the activation gate, compile and register at each scale, for each
    tree (e.g. "now" and "before": the baseline revision), each rep in a fresh process, the
    trees interleaved; medians per tree and scale, and the ×10 → ×100 growth per rep.
    `only` limits a tree to some scales (a revision too slow to load at ×100 in a bench run)."""
    runs: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in trees}
    for _ in range(reps):
        for name, tree in trees.items():
            tree_scales = (only or {}).get(name, scales)
            out = subprocess.run([sys.executable, "-c", _LOAD_SNIPPET, *map(str, tree_scales)], cwd=tree, capture_output=True, text=True, check=True)
            runs[name].append({int(k): v for k, v in json.loads(out.stdout).items()})
    figures: dict[str, Any] = {}
    for name, per_rep in runs.items():
        figures[name] = {
            scale: {key: statistics.median(r[scale][key] for r in per_rep) for key in per_rep[0][scale]} for scale in per_rep[0]
        }
        if 10 in per_rep[0] and 100 in per_rep[0]:
            figures[name]["growth_10_100"] = statistics.median(r[100]["total_ms"] / r[10]["total_ms"] for r in per_rep)
    return figures
