"""A synthetic province in one process: N counties × M matters × T townships.

`python -m bench.province --counties 90 --matters 100 --townships 15` builds a province
template (the zhejiang template's matters, cloned up to M) and N county layers that
extend it (each with T townships, a third of them street offices, one lead override, one
street-office override and one removal), then measures in this one process:
- load: wall time to load, check, compile and register every county (Jurisdictions.load),
  and the process RSS before and after; rulesets registered;
- decide: per county, p50 / p99 of `decide_uncached` over random cases (durable_rules
  every time), reported as the median and the worst county;
- reload: one county's layer is changed and reloaded (compile-check in a child process,
  then the swap) while a thread keeps deciding cases of the other counties; the latencies
  of those decisions during the reload against before it, and the reload's own time;
- rulesets: durable_rules' own limit, measured in a child process (`--ruleset-probe`):
  rulesets created until the engine refuses, or the count given, and their memory.
Prints one JSON document (`--out` writes it to a file too) and replaces the "A province in
one process" section of bench/results.md (`--results`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from bench.run import markers
from engine.jurisdictions import Jurisdictions
from engine.lead.decision import Case
from engine.policy.load import read_layer_dir
from engine.reload import reload_policy

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "jurisdictions" / "zhejiang"
SAMPLE_COUNTY = ROOT / "jurisdictions" / "kecheng" / "organizations.yaml"
AS_OF = date(2026, 11, 1)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build_province(root: Path, counties: int, matters: int, townships: int) -> list[str]:
    """Write the template and the county layers under root; return the county ids."""
    template = root / "province"
    files = read_layer_dir(TEMPLATE)
    base_matters = [m for name, text in files.items() if name.startswith("matters/") for m in (yaml.safe_load(text) or {}).get("matters", [])]
    extra: list[dict[str, Any]] = []
    k = 0
    while len(base_matters) + len(extra) < matters:
        source = base_matters[k % len(base_matters)]
        extra.append({**source, "id": f"{source['id']}-s{k // len(base_matters) + 1}", "name": f"{source['name']}(合成{k + 1})"})
        k += 1
    for name, text in files.items():
        target = template / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == "policy.yaml":
            text = text.replace("id: zhejiang", "id: province")
        target.write_text(text, encoding="utf-8")
    if len(base_matters) > matters:  # fewer matters than the template: keep the first M
        keep = {m["id"] for m in base_matters[:matters]}
        for name in [n for n in files if n.startswith("matters/")]:
            data = yaml.safe_load(files[name]) or {}
            data["matters"] = [m for m in data.get("matters", []) if m["id"] in keep]
            (template / name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    (template / "matters" / "synthetic.yaml").write_text(yaml.safe_dump({"matters": extra}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    roles = [line for line in SAMPLE_COUNTY.read_text(encoding="utf-8").splitlines()
             if line.startswith("  - {id:") and "kind: township" not in line and "kind: street" not in line and "kind: team" not in line]
    ids = []
    for n in range(1, counties + 1):
        cid = f"c{n:03d}"
        ids.append(cid)
        county = root / cid
        county.mkdir()
        (county / "policy.yaml").write_text(
            f"policy:\n  id: {cid}\n  version: \"1\"\n  title: 合成县{n}\n  jurisdiction: 合成省合成县{n}\n  extends: province\n", encoding="utf-8"
        )
        towns = [
            f"  - {{id: t{t:02d}, name: 合成{n}县{t}{'街道' if t <= townships // 3 else '镇'}, kind: {'street' if t <= townships // 3 else 'township'}}}"
            for t in range(1, townships + 1)
        ]
        (county / "organizations.yaml").write_text(
            "organizations:\n" + "\n".join(r.replace("柯城区", f"合成{n}县") for r in roles) + "\n" + "\n".join(towns) + "\n", encoding="utf-8"
        )
        layer = {
            "overrides": [
                {"id": "URB-03", "set": {"lead": "enforce" if n % 2 else "housing"}, "basis": [{"document": f"合成{n}县分工(合成)"}]},
                {"id": "ENV-01", "township_kind": "street", "set": {"lead": "enforce"}, "basis": [{"document": f"合成{n}县街道分工(合成)"}]},
            ],
            "removals": [{"id": "SOC-04", "basis": [{"document": f"合成{n}县清单说明(合成)"}]}],
        }
        (county / "layer.yaml").write_text(yaml.safe_dump(layer, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return ids


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cases_for(served: Jurisdictions, cid: str, rng: random.Random, n: int) -> list[Case]:
    policy = served.get(cid).policy
    matters = list(policy.matters)
    towns = [t.id for t in policy.townships()]
    return [Case(township=rng.choice(towns), matter=rng.choice(matters), as_of=AS_OF) for _ in range(n)]


def measure_decisions(served: Jurisdictions, ids: list[str], per_county: int, rng: random.Random) -> dict[str, Any]:
    p50s, p99s = [], []
    for cid in ids:
        runtime = served.get(cid)
        times = []
        cases = cases_for(served, cid, rng, per_county)
        for case in cases[: per_county // 5]:  # warm: each policy's memo of facts and clauses
            runtime.decide_uncached(case)
        for case in cases:
            started = time.perf_counter()
            runtime.decide_uncached(case)
            times.append((time.perf_counter() - started) * 1e6)
        p50s.append(statistics.median(times))
        p99s.append(percentile(times, 0.99))
    return {
        "per_county": per_county,
        "p50_us_median": round(statistics.median(p50s), 1),
        "p50_us_worst": round(max(p50s), 1),
        "p99_us_median": round(statistics.median(p99s), 1),
        "p99_us_worst": round(max(p99s), 1),
    }


def measure_reload(served: Jurisdictions, ids: list[str], root: Path, rng: random.Random) -> dict[str, Any]:
    target, others = ids[0], ids[1:]
    before = served.get(target).policy.digest
    pool = [(cid, case) for cid in others[:30] for case in cases_for(served, cid, rng, 50)]
    stop = threading.Event()
    during: list[float] = []
    errors: list[str] = []

    def load() -> None:
        i = 0
        while not stop.is_set():
            cid, case = pool[i % len(pool)]
            i += 1
            started = time.perf_counter()
            try:
                served.get(cid).decide_uncached(case)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(repr(exc))
            during.append((time.perf_counter() - started) * 1e6)

    baseline = []
    for cid, case in pool[:1000]:
        started = time.perf_counter()
        served.get(cid).decide_uncached(case)
        baseline.append((time.perf_counter() - started) * 1e6)
    layer = root / target / "layer.yaml"
    layer.write_text(layer.read_text(encoding="utf-8").replace("lead: enforce", "lead: water", 1), encoding="utf-8")
    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(0.2)
    result = reload_policy(served.get(target), served.source(target))
    time.sleep(0.2)
    stop.set()
    worker.join()
    lead = served.get(target).decide(Case(township="t10", matter="URB-03", as_of=AS_OF)).lead.id
    return {
        "reloaded": result.changed and served.get(target).policy.digest != before,
        "reload_ms": round(result.took_ms, 1),
        "new_lead": lead,
        "decisions_during": len(during),
        "errors_during": len(errors),
        "baseline_p50_us": round(statistics.median(baseline), 1),
        "baseline_p99_us": round(percentile(baseline, 0.99), 1),
        "during_p50_us": round(statistics.median(during), 1) if during else None,
        "during_p99_us": round(percentile(during, 0.99), 1) if during else None,
        "during_max_ms": round(max(during) / 1000, 1) if during else None,
    }


def ruleset_probe(limit: int, rules: int) -> dict[str, Any]:
    """In a child process: create `rules`-rule rulesets until durable_rules refuses or `limit`."""
    code = f"""
import json, time
from durable import engine as de
c = de.durable_rules_engine
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'): return int(line.split()[1]) / 1024
defn = json.dumps({{f"r{{i}}": {{"all": [{{"m": {{"$and": [{{"$ex": {{"decision_id": 1}}}}, {{"matter": f"M{{i}}"}}]}}}}]}} for i in range({rules})}})
r0, t, n, err = rss(), time.perf_counter(), 0, None
try:
    for i in range({limit}):
        c.create_ruleset(f"rs{{i}}", defn); n += 1
except Exception as exc:
    err = str(exc)
made = rss() - r0
print(json.dumps({{"rules_per_ruleset": {rules}, "created": n, "refused_with": err, "seconds": round(time.perf_counter() - t, 1), "rss_mb": round(made, 1), "kb_per_ruleset": round(made * 1024 / max(n, 1), 1)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        return {"rules_per_ruleset": rules, "error": (done.stderr.strip().splitlines() or ["?"])[-1], "exit": done.returncode}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ruleset_churn(cycles: int) -> dict[str, Any]:
    """In a child process: create and delete a ruleset `cycles` times. durable_rules keeps its
    rulesets in a process-wide table of 131,072 handles (src/rules/rules.h MAX_HANDLES);
    more cycles than that without a refusal shows a deleted ruleset's handle is reused,
    so reloads never exhaust the table."""
    code = f"""
import json, time
from durable import engine as de
c = de.durable_rules_engine
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'): return int(line.split()[1]) / 1024
defn = json.dumps({{"r": {{"all": [{{"m": {{"$and": [{{"$ex": {{"decision_id": 1}}}}, {{"matter": "M"}}]}}}}]}}}})
r0, t, n, err = rss(), time.perf_counter(), 0, None
try:
    for i in range({cycles}):
        c.delete_ruleset(c.create_ruleset(f"rs{{i}}", defn)); n += 1
except Exception as exc:
    err = str(exc)
print(json.dumps({{"cycles": n, "refused_with": err, "seconds": round(time.perf_counter() - t, 1), "rss_mb": round(rss() - r0, 1)}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        return {"cycles": 0, "error": (done.stderr.strip().splitlines() or ["?"])[-1], "exit": done.returncode}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counties", type=int, default=90)
    parser.add_argument("--matters", type=int, default=100)
    parser.add_argument("--townships", type=int, default=15)
    parser.add_argument("--per-county", type=int, default=300, help="decisions timed per county")
    parser.add_argument("--ruleset-probe", type=int, default=20000, help="rulesets to create in the probe (0: skip)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.md", help="markdown file whose province section is replaced")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="tk-province-") as tmp:
        root = Path(tmp)
        ids = build_province(root, args.counties, args.matters, args.townships)
        rss0 = rss_mb()
        started = time.perf_counter()
        served = Jurisdictions.load(root / ids[0], root, cache_size=0)
        load_s = time.perf_counter() - started
        rss1 = rss_mb()
        rulesets = sum(len(r.active.registration.names) + (1 if r.active.criteria else 0) for r in served)
        out: dict[str, Any] = {
            "counties": len(served),
            "template_matters": args.matters,
            "matters_per_county": len(served.get(ids[0]).policy.matters),
            "townships_per_county": len(served.get(ids[0]).policy.townships()),
            "load_s": round(load_s, 2),
            "load_ms_per_county": round(load_s * 1000 / len(served), 1),
            "rss_before_mb": round(rss0, 1),
            "rss_after_mb": round(rss1, 1),
            "rss_mb_per_county": round((rss1 - rss0) / len(served), 2),
            "rulesets": rulesets,
            "decide": measure_decisions(served, ids, args.per_county, rng),
            "reload": measure_reload(served, ids, root, rng),
        }
    if args.ruleset_probe:
        out["ruleset_probe"] = [ruleset_probe(args.ruleset_probe, 1), ruleset_probe(max(args.ruleset_probe // 20, 1), 100)]
        out["ruleset_churn"] = ruleset_churn(140_000)
    out["command"] = " ".join(["python -m bench.province", *sys.argv[1:]])
    text = json.dumps(out, ensure_ascii=False, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.results:
        update_results(args.results, render(out))


START, END = markers("province")  # the markers bench/run.py keeps when it rewrites results.md


def render(r: dict[str, Any]) -> str:
    d, rl = r["decide"], r["reload"]
    lines = [
        START,
        "## A province in one process (`python -m bench.province`)",
        "",
        (f"{r['counties']} counties × {r['matters_per_county']} matters × {r['townships_per_county']} townships "
         f"(a {r.get('template_matters', '?')}-matter template; each county overrides two clauses and removes one), "
         f"all in one process (`{r['command']}`). The machine is shared: the load's wall time and the p99s carry "
         "other jobs' CPU use (load average 4–11 on 2 cores while measuring)."),
        "",
        "| measure | value |",
        "|---|---|",
        f"| load, check, compile, register all counties | {r['load_s']} s ({r['load_ms_per_county']} ms per county) |",
        f"| RSS before → after | {r['rss_before_mb']} → {r['rss_after_mb']} MB ({r['rss_mb_per_county']} MB per county) |",
        f"| durable_rules rulesets registered | {r['rulesets']} |",
        f"| decision p50, median county / worst county | {d['p50_us_median']} / {d['p50_us_worst']} µs |",
        f"| decision p99, median county / worst county | {d['p99_us_median']} / {d['p99_us_worst']} µs |",
        f"| reload one county (child compile-check + swap) | {rl['reload_ms']} ms, new lead `{rl['new_lead']}` |",
        f"| other counties' decisions during that reload | {rl['decisions_during']}, errors {rl['errors_during']} |",
        (f"| their p50 / p99 before → during the reload | {rl['baseline_p50_us']} / {rl['baseline_p99_us']} µs → "
        f"{rl['during_p50_us']} / {rl['during_p99_us']} µs (max {rl['during_max_ms']} ms) |"),
    ]
    lines += [
        f"| rulesets of {probe['rules_per_ruleset']} rule(s) created in a fresh process | {probe.get('created')} "
        f"in {probe.get('seconds')} s, {probe.get('kb_per_ruleset')} KB each, refused: {probe.get('refused_with') or 'no'} |"
        for probe in r.get("ruleset_probe", [])
    ]
    churn = r.get("ruleset_churn")
    if churn:
        lines.append(
            f"| create + delete one ruleset, repeated (handle table: 131,072) | {churn.get('cycles')} cycles in {churn.get('seconds')} s, "
            f"RSS +{churn.get('rss_mb')} MB, refused: {churn.get('refused_with') or 'no'} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def update_results(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if START in text and END in text:
        text = text[: text.index(START)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
