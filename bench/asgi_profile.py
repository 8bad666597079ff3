"""Where an HTTP decision's time goes inside the process: the served app (its decision log
in a temporary SQLite file, `synchronous=FULL` as by default) and the bare endpoint, called
through ASGI directly (no sockets, no uvicorn), interleaved in blocks of 100 requests.

Method: each lead request's own commit wait (from handing its record to the log until the
writer woke it) is timed by wrapping `DecisionLog.append`, and subtracted from that same
request's latency; the figure reported is the median of those per-request differences —
the Python work of a request — next to the bare endpoint's median latency. (Subtracting a
median wait from a mean latency, as before, counted the wait's tail as Python time.) CPU per
request at 32 concurrent requests, the writer thread included, is measured with
`time.process_time`. A cProfile of the lead requests gives the share of each layer.
"""

from __future__ import annotations

import asyncio
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from api.http.app import create_app
from api.settings import Settings
from bench.http import bodies

Message = dict[str, Any]


async def _call(app: Any, body: bytes) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/v1/cases/lead", "raw_path": b"/v1/cases/lead", "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)
    return int(sent[0]["status"])


# layer → (file suffix, function name); cumulative time, so nested layers overlap
LAYERS = {
    "fast path (api/http/fastpath.py), everything": ("api/http/fastpath.py", "__call__"),
    "request model (LeadRequestV1)": ("", "model_validate"),
    "engine (Runtime.decide, cache hit)": ("engine/runtime.py", "decide"),
    "answer bytes (response_bytes)": ("engine/replay.py", "response_bytes"),
    "handing the record to the log": ("engine/log/store.py", "_enqueue"),
}


def asgi_figures(blocks: int = 30) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return _figures(blocks, f"sqlite:///{Path(tmp) / 'log.sqlite3'}")


def _figures(blocks: int, log_url: str) -> dict[str, Any]:
    from bench.bare_app import app as bare

    app = create_app(Settings.from_env(database_url=log_url))
    log = app.state.decision_log
    append = log.append
    waits: list[float] = []

    async def timed_append(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        try:
            return await append(*args, **kwargs)
        finally:
            waits.append((time.perf_counter_ns() - started) / 1000)

    log.append = timed_append
    items = [json.dumps(b).encode() for b in bodies(200)]

    async def block(target: Any, n: int = 100, paired: list[float] | None = None) -> list[float]:
        out = []
        for i in range(n):
            started = time.perf_counter_ns()
            assert await _call(target, items[i % len(items)]) == 200
            total = (time.perf_counter_ns() - started) / 1000
            out.append(total)
            if paired is not None:
                paired.append(total - waits[-1])
        return out

    async def cpu(target: Any, n: int = 2000, concurrency: int = 32) -> float:
        left = iter(range(n))

        async def worker() -> None:
            for i in left:
                assert await _call(target, items[i % len(items)]) == 200

        started = time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return (time.process_time() - started) / n * 1e6

    async def run() -> dict[str, Any]:
        for body in items:  # warm: every case is now a cache hit, as under wrk
            await _call(app, body)
            await _call(bare, body)
        lead, base, own, cpu_lead, cpu_bare = [], [], [], [], []
        for _ in range(blocks):
            base += await block(bare)
            waits.clear()
            lead += await block(app, paired=own)
        for _ in range(3):
            cpu_bare.append(await cpu(bare))
            cpu_lead.append(await cpu(app))
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            await block(app)
        profiler.disable()
        return {"lead": lead, "bare": base, "own": own, "cpu_lead": cpu_lead, "cpu_bare": cpu_bare, "stats": pstats.Stats(profiler)}

    r = asyncio.run(run())
    log.close()
    raw = r["stats"].stats
    total = sum(v[3] for (file, _, name), v in raw.items() if file.endswith(LAYERS["fast path (api/http/fastpath.py), everything"][0]) and name == "__call__")
    layers = {}
    for label, (path, func) in LAYERS.items():
        cum = sum(v[3] for (file, _, name), v in raw.items() if file.endswith(path) and name == func)
        layers[label] = 100 * cum / total if total else float("nan")
    bare_us = statistics.median(r["bare"])
    own_us = statistics.median(r["own"])
    return {
        "lead_us": statistics.median(r["lead"]), "bare_us": bare_us, "own_us": own_us,
        "commit_wait_us": statistics.median(t - o for t, o in zip(r["lead"], r["own"], strict=True)),
        "own_ratio": own_us / bare_us,
        "cpu_lead_us": statistics.median(r["cpu_lead"]), "cpu_bare_us": statistics.median(r["cpu_bare"]),
        "layers": layers,
    }
