"""How long full verification (`tiaokuai check`) takes, and how it grows with the policy.

    .venv/bin/python -m bench.check_scaling [--scales 1 10] [--repeat 3] [--durable]

For each scale N (bench/synthetic.py: the seed policy cloned ×N) it loads the policy once,
then runs `engine.analysis.check.check_policy` `--repeat` times and prints the median wall time,
the cases proved, and µs per case. With `--durable` the same enumeration also runs through
durable_rules itself (the baseline the Python evaluator replaces), side by side, and the
ratio of the medians is printed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.synthetic import synthetic_files
from engine.analysis.check import Evaluator, check_policy
from engine.policy.load import policy_from_files

ROOT = Path(__file__).resolve().parent.parent


def _median_run(policy: object, evaluator: Evaluator, repeat: int) -> tuple[float, int, int]:
    times, cases, findings = [], 0, 0
    for _ in range(repeat):
        started = time.perf_counter()
        report = check_policy(policy, evaluator=evaluator)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        cases, findings = report.cases, len(report.findings)
    return statistics.median(times), cases, findings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", type=Path, default=ROOT / "policy")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--durable", action="store_true", help="also run the enumeration through durable_rules")
    args = parser.parse_args()
    print(f"{'scale':>5} {'matters':>7} {'rules':>5} {'cases':>8} {'engine':>8} {'median s':>9} {'µs/case':>8} {'findings':>8}")
    for scale in args.scales:
        started = time.perf_counter()
        policy = policy_from_files(synthetic_files(args.policy, scale))
        loaded = time.perf_counter() - started
        engines: list[Evaluator] = ["python", "durable"] if args.durable else ["python"]
        medians = {}
        for engine in engines:
            seconds, cases, findings = _median_run(policy, engine, args.repeat)
            medians[engine] = seconds
            counts = policy.counts()
            print(
                f"{scale:>5} {counts['matters']:>7} {counts['rules']:>5} {cases:>8} {engine:>8} {seconds:>9.2f} "
                f"{1e6 * seconds / max(cases, 1):>8.0f} {findings:>8}"
            )
        if args.durable:
            print(f"      load {loaded:.2f} s; durable/python = {medians['durable'] / medians['python']:.2f}")
        else:
            print(f"      load {loaded:.2f} s")


if __name__ == "__main__":
    main()
