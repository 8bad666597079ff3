"""Intake evaluation: the matcher against the labelled tickets, next to the substring baseline.

The labelled set (bench/intake/tickets.yaml) is kept apart from the policy's examples: examples
teach, this set tests (tests/engine/intake/test_tickets.py fails if a text is in both). Both
ways of picking a matter run on the same tickets in the same process:

- matcher: `Intake.classify` (BM25 over the list, jieba words + bigrams);
- substring baseline: the matter whose name or alias occurs in the text, longest first — what a
  caller could do with the list before intake.

Run alone: `.venv/bin/python -m bench.intake_eval` (prints the section); `make bench` includes it.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from engine.intake import Confidence, Intake
from engine.policy.index import Policy
from engine.policy.load import load_policy

ROOT = Path(__file__).resolve().parent.parent
TICKETS = ROOT / "bench" / "intake" / "tickets.yaml"
TARGETS = {"top1": 0.90, "top3": 0.98, "nonlist_dispatched": 0.90, "p50_ms": 2.0}
RESULTS = ROOT / "bench" / "results.md"
INTAKE_BEGIN, INTAKE_END = "<!-- intake:begin -->", "<!-- intake:end -->"


def load_tickets(path: Path = TICKETS) -> list[dict[str, Any]]:
    tickets: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["tickets"]
    return tickets


def substring_rank(policy: Policy, text: str) -> list[str]:
    """Matters whose name or an alias occurs in the text, the longest occurring term first."""
    found: dict[str, int] = {}
    for matter in policy.matters.values():
        lengths = [len(term) for term in (matter.name, *matter.aliases) if term and term in text]
        if lengths:
            found[matter.id] = max(lengths)
    return sorted(found, key=lambda m: (-found[m], m))


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter_ns()
    out = fn()
    return out, (time.perf_counter_ns() - started) / 1e6


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def intake_figures(policy_dir: Path = ROOT / "policy", tickets_path: Path = TICKETS, builds: int = 5) -> dict[str, Any]:
    policy = load_policy(policy_dir)
    tickets = load_tickets(tickets_path)
    _, first_build = _timed(lambda: Intake(policy))  # includes jieba's dictionary, once per process
    build_ms = [_timed(lambda: Intake(policy))[1] for _ in range(builds)]
    intake = Intake(policy)
    listed = [t for t in tickets if t["matter"] is not None]
    nonlist = [t for t in tickets if t["matter"] is None]
    for t in tickets[:20]:  # warm up
        intake.classify(t["text"])
    out: dict[str, Any] = {
        "tickets": len(tickets),
        "listed": len(listed),
        "nonlist": len(nonlist),
        "matters": len(policy.matters),
        "examples": sum(len(m.examples) for m in policy.matters.values()),
        "vocabulary": intake.matcher.vocabulary_size,
        "first_build_ms": first_build,
        "build_ms": statistics.median(build_ms),
    }
    rankers: dict[str, Callable[[str], list[str]]] = {
        "matcher": lambda text: [c.id for c in intake.matcher.rank(text)],
        "substring": lambda text: substring_rank(policy, text),
    }
    for name, rank in rankers.items():
        times: list[float] = []
        top1 = top3 = 0
        confused: Counter[tuple[str, str]] = Counter()
        for t in listed:
            ranked, ms = _timed(lambda t=t, rank=rank: rank(t["text"]))
            times.append(ms)
            ids = ranked[:3]
            if ids[:1] == [t["matter"]]:
                top1 += 1
            else:
                confused[(t["matter"], ids[0] if ids else "—")] += 1
            top3 += t["matter"] in ids
        times += [_timed(lambda t=t, rank=rank: rank(t["text"]))[1] for t in nonlist]
        out[name] = {
            "top1": top1 / len(listed),
            "top3": top3 / len(listed),
            "confused": confused.most_common(8),
            "p50_ms": _pct(times, 0.5),
            "p99_ms": _pct(times, 0.99),
        }
    # what the lead endpoint does with the matcher's confidence
    outcomes: Counter[str] = Counter()
    for t in listed:
        c = intake.classify(t["text"])
        right = c.best is not None and c.best.id == t["matter"]
        outcomes[f"{c.confidence.value}/{'right' if right else 'wrong'}"] += 1
    out["matcher"]["outcomes"] = dict(outcomes)
    out["matcher"]["nonlist_dispatched"] = sum(intake.classify(t["text"]).confidence is Confidence.low for t in nonlist) / len(nonlist)
    out["substring"]["nonlist_dispatched"] = sum(not substring_rank(policy, t["text"]) for t in nonlist) / len(nonlist)
    examples = [(m.id, e) for m in policy.matters.values() for e in m.examples]
    held_out = sum(
        bool(ranked) and ranked[0].id == matter
        for matter, example in examples
        for ranked in [intake.matcher.rank(example, leave_out=(matter, example))]
    )
    out["examples_left_out_top1"] = held_out / len(examples)
    places = [t for t in tickets if t.get("township")]
    out["places"] = {
        "n": len(places),
        "right": sum(intake.place(t["text"], field=False).townships == (t["township"],) for t in places),
    }
    cued = [(t, k, v) for t in tickets if t.get("attributes") for k, v in t["attributes"].items()]
    cue_right = 0
    for t, key, value in cued:
        inferred = {i.attribute: i.value for i in intake.cues.infer(t["text"], (key,))}
        cue_right += inferred.get(key) == value
    out["cues"] = {"n": len(cued), "right": cue_right}
    return out


def intake_section(f: dict[str, Any]) -> list[str]:
    m, s = f["matcher"], f["substring"]

    def pct(x: float) -> str:
        return f"{100 * x:.1f} %"

    met = {
        "top1": m["top1"] >= TARGETS["top1"],
        "top3": m["top3"] >= TARGETS["top3"],
        "nonlist": m["nonlist_dispatched"] >= TARGETS["nonlist_dispatched"],
        "p50": m["p50_ms"] <= TARGETS["p50_ms"],
    }
    lines = [
        "## Intake: matter recognition (`bench/intake_eval.py`)",
        "",
        (f"{f['tickets']} labelled tickets ({f['listed']} of {f['matters']} matters, {f['nonlist']} no matter of the list) in "
        "`bench/intake/tickets.yaml`, disjoint from the policy's "
        f"{f['examples']} examples. Both methods run on the same tickets in the same process "
        "(`.venv/bin/python -m bench.intake_eval --write`, also part of `make bench`)."),
        "",
        "| method | top-1 | top-3 | non-list dispatched | p50 ms/text | p99 ms/text |",
        "|---|---|---|---|---|---|",
        (f"| matcher (BM25, jieba + bigrams) | {pct(m['top1'])} | {pct(m['top3'])} | {pct(m['nonlist_dispatched'])} | "
        f"{m['p50_ms']:.3f} | {m['p99_ms']:.3f} |"),
        (f"| substring baseline (name/alias in text) | {pct(s['top1'])} | {pct(s['top3'])} | {pct(s['nonlist_dispatched'])} | "
        f"{s['p50_ms']:.3f} | {s['p99_ms']:.3f} |"),
        "",
        (f"Targets: top-1 ≥ 90 % ({'met' if met['top1'] else 'NOT met'}), top-3 ≥ 98 % ({'met' if met['top3'] else 'NOT met'}), "
        f"≥ 90 % of non-list texts dispatched ({'met' if met['nonlist'] else 'NOT met'}), p50 ≤ 2 ms ({'met' if met['p50'] else 'NOT met'})."),
        "",
        (f"Build at policy load: {f['build_ms']:.0f} ms median of 5 (a copy of jieba's dictionary plus the policy's "
        f"{f['vocabulary']:,} features); the first build in a process also loads jieba's dictionary: {f['first_build_ms']:.0f} ms."),
        "",
        "What the lead endpoint does with the listed tickets (confidence / first candidate right or wrong): "
        + ", ".join(f"{k} {v}" for k, v in sorted(m["outcomes"].items()))
        + ". high → decided, medium → decided and `needs_confirmation`, low → dispatched.",
        "",
        (f"Township from the text: {f['places']['right']} of {f['places']['n']} tickets that name a place; "
        f"attribute cues: {f['cues']['right']} of {f['cues']['n']} labelled values."),
        "",
        (f"Each policy example scored as if it were not in the policy (leave-one-out): {pct(f['examples_left_out_top1'])} "
         "recognised as its own matter. Read it next to the labelled set's figure: the labelled tickets and the examples "
         "were written by the same people, in the same words, so the labelled set flatters the matcher; "
         "the leave-one-out figure is the sober estimate for words the list has never seen."),
        "",
        "Most confused pairs (expected → matcher's first): "
        + ("; ".join(f"{a} → {b} ×{n}" for (a, b), n in m["confused"]) or "none"),
        "",
    ]
    return lines


def write_section(lines: list[str], results: Path = RESULTS) -> None:
    """Replace the intake section of bench/results.md (or append it) with a fresh run."""
    block = "\n".join([INTAKE_BEGIN, *lines, INTAKE_END])
    text = results.read_text(encoding="utf-8") if results.exists() else ""
    if INTAKE_BEGIN in text and INTAKE_END in text:
        text = text[: text.index(INTAKE_BEGIN)] + block + text[text.index(INTAKE_END) + len(INTAKE_END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    results.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    section = intake_section(intake_figures())
    sys.stdout.write("\n".join(section) + "\n")
    if "--write" in sys.argv:
        write_section(section)
