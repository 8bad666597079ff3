"""Cost of one grid admission review in the engine, against a lead decision side by side.

    .venv/bin/python -m bench.review [--n 20000]

Runs in one process on the seed policy. Each round times, interleaved so that load on the
machine hits all three alike:
  review  Runtime.review on one of the API's five worked examples (round robin): vocabulary
          check, fact derivation, one durable_rules assert/retract, findings;
  derive  the same check and derivation in plain Python, no durable_rules (the floor);
  decide  Runtime.decide on the README's sand-mining case (the existing baseline).
Prints the median, p90 and p99 of each in µs, and the review/decide ratio of medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date

from api.http.schemas.admission import (
    CENSUS_EXAMPLE,
    DUPLICATE_DATA_EXAMPLE,
    EMERGENCY_EXAMPLE,
    GAS_SAFETY_EXAMPLE,
    NO_ENFORCEMENT_EXAMPLE,
    AdmissionReviewRequestV1,
)
from api.settings import DEFAULT_POLICY
from engine.admission.review import check_proposal, derive
from engine.lead.decision import Case
from engine.policy.grid import grid_of
from engine.runtime import Runtime

EXAMPLES = [CENSUS_EXAMPLE, GAS_SAFETY_EXAMPLE, NO_ENFORCEMENT_EXAMPLE, DUPLICATE_DATA_EXAMPLE, EMERGENCY_EXAMPLE]


def quantiles(samples: list[int]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples) / 1000, cuts[89] / 1000, cuts[98] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20000, help="rounds (each times one review, derive and decide)")
    args = parser.parse_args()

    runtime = Runtime.from_dir(DEFAULT_POLICY)
    policy = runtime.policy
    grid = grid_of(policy)
    assert grid is not None
    proposals = [AdmissionReviewRequestV1.model_validate(e).to_proposal(date(2026, 11, 25)) for e in EXAMPLES]
    case = Case(township="gaojia", matter="WAT-01", attributes={"site_type": "river"}, as_of=date(2026, 11, 1))
    outcomes = [runtime.review(p).outcome for p in proposals]

    for p in proposals * 200:  # warm-up
        runtime.review(p)
        runtime.decide(case)

    review_ns: list[int] = []
    derive_ns: list[int] = []
    decide_ns: list[int] = []
    clock = time.perf_counter_ns
    for i in range(args.n):
        p = proposals[i % len(proposals)]
        t0 = clock()
        runtime.review(p)
        t1 = clock()
        check_proposal(policy, grid, p)
        derive(policy, grid, p)
        t2 = clock()
        runtime.decide(case)
        t3 = clock()
        review_ns.append(t1 - t0)
        derive_ns.append(t2 - t1)
        decide_ns.append(t3 - t2)

    print(f"seed policy {policy.id} {policy.version}, {len(grid.criteria)} criteria; examples → {outcomes}")
    print(f"{args.n} rounds; µs per call: median / p90 / p99")
    for name, samples in (("review", review_ns), ("derive", derive_ns), ("decide", decide_ns)):
        median, p90, p99 = quantiles(samples)
        print(f"  {name:<7} {median:8.1f} {p90:8.1f} {p99:8.1f}")
    ratio = statistics.median(review_ns) / statistics.median(decide_ns)
    print(f"review / decide (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
