"""Cost of the auditors' pages and the spreadsheet round trip, against the JSON list side by side.

    .venv/bin/python -m bench.pages [--rounds 30]

Runs in one process on the seed policy through the ASGI app (no network). Each round
times every item once, interleaved, so that load on the machine hits all alike:
  json      GET /v1/matters (the existing JSON list: the baseline)
  list      GET /list (the whole list as an HTML table)
  township  GET /list?township=lianhua (the engine decides every matter for 莲花镇)
  clause    GET /clauses/WAT-01 (parses every feature file, reads the cucumber JSON)
  report    GET /report
  xlsx      export_xlsx of the whole list to memory
  import    import_sheet of that workbook into a fresh directory (parse, validate, write,
            load and compile the whole policy)
Prints the median and p90 of each in ms, and each median's ratio to the json median.
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from api.http.app import create_app
from api.settings import DEFAULT_POLICY, Settings
from engine.listing.sheet import export_xlsx, import_sheet
from engine.runtime import Runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    runtime = Runtime.from_dir(DEFAULT_POLICY)
    app = create_app(Settings.from_env(DEFAULT_POLICY, f"sqlite:///{scratch / 'log.sqlite3'}"), runtime=runtime)
    workbook = scratch / "list.xlsx"
    export_xlsx(runtime.policy, workbook)
    counter = iter(range(10**9))

    def imported() -> None:
        import_sheet(workbook, scratch / f"p{next(counter)}", DEFAULT_POLICY)

    with TestClient(app) as client:

        def get(url: str) -> Callable[[], None]:
            def run() -> None:
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)

            return run

        items: dict[str, Callable[[], None]] = {
            "json": get("/v1/matters"),
            "list": get("/list?as_of="),
            "township": get("/list?township=lianhua&as_of=2026-11-01"),
            "clause": get("/clauses/WAT-01"),
            "report": get("/report"),
            "xlsx": lambda: export_xlsx(runtime.policy, io.BytesIO()),
            "import": imported,
        }
        for run in items.values():  # warm up: templates, features, first compile
            run()
        samples: dict[str, list[float]] = {name: [] for name in items}
        for _ in range(args.rounds):
            for name, run in items.items():
                start = time.perf_counter_ns()
                run()
                samples[name].append((time.perf_counter_ns() - start) / 1e6)
    shutil.rmtree(scratch, ignore_errors=True)
    base = statistics.median(samples["json"])
    print(f"{len(runtime.policy.matters)} matters, {args.rounds} rounds, interleaved")
    print(f"{'item':<10} {'median ms':>10} {'p90 ms':>9} {'× json':>8}")
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10, method="inclusive")[8]
        print(f"{name:<10} {median:>10.1f} {p90:>9.1f} {median / base:>8.1f}")


if __name__ == "__main__":
    main()
