"""Case lifecycle figures through `tiaokuai serve` (supervised worker, decision log on).

1. Events per second: cases are opened, then sign / contact / report_in events are posted
   by 8 client threads, interleaved round by round with the same number of logged lead
   decisions (POST /v1/cases/lead) as the baseline; medians over rounds of the rates and of
   the per-request p50/p99, and the events/decisions ratio per round.
2. Soak: 10,000 cases opened and signed across 国庆 (opened 2026-09-28 … 09-30, every one's
   report_in and handle limits run through the holiday), twice against fresh databases: once
   uninterrupted, once with `kill -9` of the worker halfway (clients retry with the same
   Idempotency-Key). Then: every acknowledged event is stored exactly once, both chains verify,
   and every case's deadlines are identical in both runs.

`python -m bench.cases [--cases 10000] [--rounds 5]`; bench/run.py calls `case_figures`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.http import free_port
from bench.run import RESULTS, write_section
from engine.cases import CHINA

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
SAND = {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "river"}}
SOAK_START = datetime(2026, 9, 28, 9, tzinfo=CHINA)


@contextmanager
def serve(db: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`tiaokuai serve` (supervised) on a free port with its own SQLite decision log."""
    port = free_port()
    env = {**os.environ, "TIAOKUAI_DATABASE_URL": f"sqlite:///{db}", "TIAOKUAI_TOKENS": ""}
    with log.open("ab") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def wait_healthy(base: str, seconds: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        try:
            answer = httpx.get(f"{base}/healthz", timeout=5)
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base} did not become healthy")
        time.sleep(0.2)


def post(client: httpx.Client, url: str, body: dict[str, Any], key: str | None = None, retry_for: float = 0) -> httpx.Response:
    """POST, retrying connection failures for `retry_for` seconds with the same Idempotency-Key."""
    headers = {"Idempotency-Key": key} if key else {}
    deadline = time.monotonic() + retry_for
    while True:
        try:
            return client.post(url, json=body, headers=headers, timeout=30)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed(jobs: list[Callable[[], int]], threads: int) -> tuple[float, list[float], int]:
    """Run jobs on `threads` threads: (requests/s, latencies ms, non-2xx count)."""
    latencies: list[float] = []
    bad = 0
    lock = threading.Lock()

    def run(job: Callable[[], int]) -> None:
        nonlocal bad
        t0 = time.perf_counter()
        status = job()
        elapsed = (time.perf_counter() - t0) * 1000
        with lock:
            latencies.append(elapsed)
            if not 200 <= status < 300:
                bad += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, jobs))
    return len(jobs) / (time.perf_counter() - started), latencies, bad


def events_per_second(rounds: int = 5, per_round: int = 600, threads: int = 8) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "bench.sqlite3", Path(tmp) / "serve.log") as (base, _):
        client = httpx.Client(limits=httpx.Limits(max_connections=threads * 2))
        rows = []
        for _ in range(rounds):
            # a third of the round's events per step: sign, contact, report_in on per_round/3 cases
            n = per_round // 3
            opened = [post(client, f"{base}/v1/cases", {"case": SAND, "actor": "gaojia"}).json()["case_id"] for _ in range(n)]
            events: list[Callable[[], int]] = []
            for kind in ("sign", "contact", "report_in"):
                events += [lambda cid=cid, kind=kind: post(client, f"{base}/v1/cases/{cid}/events", {"kind": kind, "actor": "qj-water"}).status_code
                           for cid in opened]
            # each step must follow the previous one per case: run the three steps in order
            rate_parts, lat, bad = [], [], 0
            for step in range(3):
                r, latencies, b = timed(events[step * n:(step + 1) * n], threads)
                rate_parts.append(r)
                lat += latencies
                bad += b
            event_rate = 3 * n / sum(n / r for r in rate_parts)
            decisions = [lambda: post(client, f"{base}/v1/cases/lead", {**SAND, "as_of": "2026-11-02"}).status_code for _ in range(3 * n)]
            decision_rate, decision_lat, decision_bad = timed(decisions, threads)
            rows.append({
                "events_per_s": event_rate, "event_p50_ms": statistics.median(lat), "event_p99_ms": percentile(lat, 0.99),
                "decisions_per_s": decision_rate, "decision_p50_ms": statistics.median(decision_lat),
                "decision_p99_ms": percentile(decision_lat, 0.99), "ratio": event_rate / decision_rate, "non_2xx": bad + decision_bad,
            })
        client.close()
    keys = rows[0].keys()
    return {"rounds": rows, "median": {k: statistics.median(r[k] for r in rows) for k in keys}, "threads": threads, "per_round": per_round}


CHECKED_AT = datetime(2026, 12, 1, tzinfo=CHINA)  # statuses as of a fixed moment, so both runs compare


def stored_deadlines(db: Path, now: datetime) -> tuple[dict[str, list[tuple[str, str, str, str]]], dict[str, list[str]]]:
    """Each case's clocks folded from its stored events with the seed policy's lifecycle."""
    from engine.cases import CaseStore, chapter_of, fold, iso
    from engine.log import open_log
    from engine.policy import load_policy

    chapter = chapter_of(load_policy(ROOT / "policy"))
    log = open_log(f"sqlite:///{db}", migrate=False)
    store = CaseStore(log.db)
    deadlines, kinds = {}, {}
    for case_id, events in store.all_events():
        state = fold(case_id, events, chapter)
        deadlines[case_id] = [(c.limit, iso(c.due.at), c.status(now), "weekdays_assumed" if c.due.assumed else "official") for c in state.clocks]
        kinds[case_id] = [e.kind for e in events]
    log.close()
    return deadlines, kinds


def _soak_run(cases: int, kill_at: int | None, threads: int, tmp: Path, name: str) -> dict[str, Any]:
    db = tmp / f"{name}.sqlite3"
    acked = {"open": 0, "sign": 0}
    lock = threading.Lock()
    ids: dict[int, str] = {}
    killed: dict[str, Any] = {}
    with serve(db, tmp / f"{name}.log") as (base, _):
        client = httpx.Client(limits=httpx.Limits(max_connections=threads * 2))
        done = 0

        def one(i: int) -> None:
            nonlocal done
            at = SOAK_START + timedelta(seconds=20 * i)
            opened = post(client, f"{base}/v1/cases", {"case": {**SAND, "reference": f"soak-{i}", "as_of": at.date().isoformat()},
                                                       "actor": "gaojia", "at": at.isoformat()}, key=f"{name}-open-{i}", retry_for=120)
            assert opened.status_code in (200, 201), opened.text
            case_id = opened.json()["case_id"]
            signed = post(client, f"{base}/v1/cases/{case_id}/events", {"kind": "sign", "actor": "qj-water",
                          "at": (at + timedelta(minutes=30)).isoformat()}, key=f"{name}-sign-{i}", retry_for=120)
            assert signed.status_code == 200, signed.text
            with lock:
                ids[i] = case_id
                acked["open"] += 1
                acked["sign"] += 1
                done += 1
                if kill_at is not None and done == kill_at and not killed:
                    pid = wait_healthy(base)["worker"]["pid"]
                    os.kill(pid, signal.SIGKILL)
                    killed.update({"pid": pid, "after": done, "at": time.monotonic()})

        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(cases)))
        elapsed = time.monotonic() - started
        health = wait_healthy(base)
        # the API's view of a sample of cases, to hold the stored-events view below to it
        served = {}
        for i in list(ids)[:: max(1, len(ids) // 200)]:
            case = client.get(f"{base}/v1/cases/{ids[i]}", timeout=30).json()
            served[i] = [(d["limit"], d["due_at"], d["status"], d["calendar"]) for d in case["clocks"]]
        client.close()
    # every case's deadlines from its stored events (what a restarted server computes), and its events
    deadlines, kinds = stored_deadlines(db, CHECKED_AT)
    by_case = {case_id: i for i, case_id in ids.items()}
    deadlines = {by_case[cid]: rows for cid, rows in deadlines.items()}
    assert all(kinds[cid] == ["open", "sign"] for cid in by_case), "a case's events differ from open, sign"
    mismatched = [i for i, rows in served.items() if [r[:2] + r[3:] for r in rows] != [r[:2] + r[3:] for r in deadlines[i]]]
    assert not mismatched, f"the API and the stored events disagree on cases {mismatched[:5]}"
    verify = subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify", "--db", f"sqlite:///{db}", "--json"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    report = json.loads(verify.stdout)
    return {"seconds": elapsed, "acked": acked, "deadlines": deadlines, "restarts": health["worker"]["restarts"], "killed": killed,
            "verify": report, "verify_rc": verify.returncode}


def soak(cases: int = 10_000, threads: int = 4) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        plain = _soak_run(cases, None, threads, Path(tmp), "uninterrupted")
        killed = _soak_run(cases, cases // 2, threads, Path(tmp), "killed")
    different = [i for i in range(cases) if plain["deadlines"].get(i) != killed["deadlines"].get(i)]
    holiday = sum(1 for rows in plain["deadlines"].values() for limit, due, _, _ in rows if limit == "report_in" and due >= "2026-10-08")
    return {
        "cases": cases,
        "uninterrupted_s": plain["seconds"], "killed_s": killed["seconds"],
        "events_stored": {"uninterrupted": plain["verify"]["case_events"]["records"], "killed": killed["verify"]["case_events"]["records"]},
        "events_acked": {"uninterrupted": sum(plain["acked"].values()), "killed": sum(killed["acked"].values())},
        "restarts": {"uninterrupted": plain["restarts"], "killed": killed["restarts"]},
        "killed_after": killed["killed"].get("after"),
        "verify_ok": plain["verify_rc"] == 0 and killed["verify_rc"] == 0,
        "deadlines_differing": len(different),
        "report_in_after_holiday": holiday,
        "sample": plain["deadlines"].get(cases // 2),
    }


def case_figures(cases: int = 10_000, rounds: int = 5) -> dict[str, Any]:
    return {"events": events_per_second(rounds), "soak": soak(cases)}


def section(result: dict[str, Any]) -> list[str]:
    """The bench/results.md section."""
    ev, soaked = result["events"], result["soak"]
    m = ev["median"]
    per_round = ", ".join(f"{r['ratio']:.2f}" for r in ev["rounds"])
    lines = [
        "## Case lifecycle through `tiaokuai serve` (`bench/cases.py`)",
        "",
        f"Supervised worker, access log and decision log on (SQLite, synchronous=FULL), {ev['threads']} client threads.",
        f"Each round: open {ev['per_round'] // 3} cases, then post sign, contact and report_in on each (events), then as many",
        "logged lead decisions (`POST /v1/cases/lead`, the baseline). Medians over rounds; the ratio is per round.",
        "",
        "| | per second | p50 ms | p99 ms |",
        "|---|---|---|---|",
        f"| case events (`POST /v1/cases/{{id}}/events`) | {m['events_per_s']:.0f} | {m['event_p50_ms']:.1f} | {m['event_p99_ms']:.1f} |",
        f"| lead decisions (baseline) | {m['decisions_per_s']:.0f} | {m['decision_p50_ms']:.1f} | {m['decision_p99_ms']:.1f} |",
        "",
        (f"Events / decisions per second: median {m['ratio']:.2f} (rounds: {per_round}); "
        f"non-2xx answers: {sum(r['non_2xx'] for r in ev['rounds'])}."),
        "",
        f"### Soak: {soaked['cases']:,} cases across 国庆, `kill -9` of the worker halfway",
        "",
        "Each case is opened between 2026-09-28 and 09-30 and signed 30 minutes later, so its report_in (3wd) and handle",
        "(15wd) limits run through the 10-01…10-07 holiday. Run twice on fresh databases: uninterrupted, and with the",
        "supervised worker killed (SIGKILL) after half the cases; clients retry with the same Idempotency-Key.",
        "",
        "| | uninterrupted | killed halfway |",
        "|---|---|---|",
        f"| seconds | {soaked['uninterrupted_s']:.0f} | {soaked['killed_s']:.0f} |",
        f"| events acknowledged | {soaked['events_acked']['uninterrupted']:,} | {soaked['events_acked']['killed']:,} |",
        f"| events stored (audit verify) | {soaked['events_stored']['uninterrupted']:,} | {soaked['events_stored']['killed']:,} |",
        f"| worker restarts | {soaked['restarts']['uninterrupted']} | {soaked['restarts']['killed']} |",
        "",
        f"Killed after {soaked['killed_after']:,} cases. Chains verify: {'yes' if soaked['verify_ok'] else 'NO'}. "
        f"Cases whose deadlines differ between the runs: **{soaked['deadlines_differing']}**. "
        f"report_in due after the holiday: {soaked['report_in_after_holiday']:,} of {soaked['cases']:,}. "
        f"Sample (case {soaked['cases'] // 2}): " + "; ".join(f"{limit} {due}" for limit, due, _, _ in soaked["sample"] or []) + ".",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000, help="cases in the soak")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print("case events/s …", file=sys.stderr)
    events = events_per_second(args.rounds)
    print(json.dumps(events["median"]), file=sys.stderr)
    print(f"soak of {args.cases:,} cases (twice) …", file=sys.stderr)
    result = {"events": events, "soak": soak(args.cases)}
    OUT.mkdir(exist_ok=True)
    (OUT / "bench-cases.json").write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    lines = section(result)
    lines.insert(1, f"\nRun on {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; load average then {' / '.join(f'{x:.2f}' for x in os.getloadavg())}.")
    write_section("cases", lines)
    print(f"wrote the case section of {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
