"""Concurrent deciding gives exactly the answers of a single-threaded run.

durable_rules' C core is not thread-safe between its calls (docs/durable_rules.md §4:
unlocked threads lost or garbled results); engine/rules/durable.py serialises each decision.
These tests decide a varied slice of the declared case space single-threaded first, then
with 8 threads (switch interval 1 µs to force interleaving) and with 32 concurrent HTTP
clients against a real uvicorn server, and compare every answer.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from api.http.app import create_app
from api.settings import Settings
from engine.analysis import space
from engine.lead.decision import Case
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY
from tests.support.live import serve

N_CASES = 600


@pytest.fixture(scope="module")
def uncached() -> Runtime:
    """A runtime without decision cache: every decision below goes through durable_rules."""
    return Runtime.from_dir(SEED_POLICY, cache_size=0)


@pytest.fixture(scope="module")
def varied_cases(uncached: Runtime) -> list[Case]:
    by_matter: dict[str | None, list[Case]] = {}
    for case in space.cases(uncached.policy):
        by_matter.setdefault(case.matter, []).append(case)
    rng = random.Random(7)
    per_matter = max(2, N_CASES // max(1, len(by_matter)))
    chosen = [c for cases in by_matter.values() for c in rng.sample(cases, min(per_matter, len(cases)))]
    day = chosen[0].as_of
    return chosen + [Case(township=t.id, as_of=day) for t in uncached.policy.townships()]  # 清单外: dispatch


@contextmanager
def fast_switching() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def test_varied_cases_cover_every_outcome(uncached: Runtime, varied_cases: list[Case]) -> None:
    outcomes = {uncached.decide(c).outcome for c in varied_cases}
    assert outcomes >= {"assigned", "dispatch"}
    assert {c.matter for c in varied_cases} >= set(uncached.policy.matters)


def test_eight_threads_match_single_threaded(uncached: Runtime, varied_cases: list[Case]) -> None:
    expected = [uncached.decide(c).to_dict() for c in varied_cases]
    work = list(itertools.islice(itertools.cycle(range(len(varied_cases))), 8 * len(varied_cases)))
    with fast_switching(), ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda i: (i, uncached.decide(varied_cases[i]).to_dict()), work))
    wrong = [i for i, d in got if d != expected[i]]
    assert len(got) == len(work) and not wrong, f"{len(wrong)} answers differ, e.g. case {varied_cases[wrong[0]]}"


def _body(case: Case) -> dict[str, Any]:
    body: dict[str, Any] = {"township": case.township, "attributes": dict(case.attributes), "as_of": case.as_of.isoformat()}
    if case.matter is not None:
        body["matter"] = case.matter
    return body


def test_thirty_two_http_clients_match_single_threaded(uncached: Runtime, varied_cases: list[Case]) -> None:
    expected = [uncached.decide(c).to_dict() for c in varied_cases]
    app = create_app(Settings(SEED_POLICY, "sqlite://", decision_cache=0), runtime=uncached)
    with serve(app) as base:
        clients = [httpx.Client(base_url=base, timeout=30) for _ in range(32)]

        def run(client_index: int) -> list[tuple[int, int, dict[str, Any]]]:
            client = clients[client_index]
            out = []
            for i in range(client_index, len(varied_cases), 32):
                r = client.post("/v1/cases/lead", json=_body(varied_cases[i]))
                out.append((i, r.status_code, r.json()))
            return out

        with ThreadPoolExecutor(max_workers=32) as pool:
            answers = [a for chunk in pool.map(run, range(32)) for a in chunk]
        for client in clients:
            client.close()
    assert len(answers) == len(varied_cases)
    assert all(status == 200 for _, status, _ in answers)
    wrong = [i for i, _, body in answers if {k: v for k, v in body.items() if k != "decision_id"} != expected[i]]
    assert not wrong, f"{len(wrong)} HTTP answers differ from the single-threaded run"
    assert len({body["decision_id"] for _, _, body in answers}) == len(answers)
