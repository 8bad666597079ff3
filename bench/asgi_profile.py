"""Where an HTTP decision's time goes inside the process: the real app (its decision log in
a temporary SQLite file, as configured by default) and the bare endpoint called through
ASGI directly (no sockets, no uvicorn), interleaved in blocks of 100 requests, then a
cProfile (wall-clock) of the real app's requests grouped by layer."""

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


LAYERS = {
    "engine (Runtime.decide)": "engine/runtime.py",
    "Decision.to_dict": "engine/lead/decision.py",
    "request body → LeadRequestV1": "fastapi/dependencies/utils.py:request_body_to_args",
    "FastAPI dependency solving": "fastapi/dependencies/utils.py:solve_dependencies",
    "JSONResponse rendering": "starlette/responses.py:render",
}


def asgi_figures(blocks: int = 30) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        return _figures(blocks, f"sqlite:///{Path(tmp) / 'log.sqlite3'}")


def _figures(blocks: int, log_url: str) -> dict[str, Any]:
    from bench.bare_app import app as bare

    app = create_app(Settings.from_env(database_url=log_url))
    # The wait for the decision log's commit is time the request spends suspended, which a
    # profiler does not attribute to it: measure it directly, from submit to committed.
    waits: list[float] = []
    log = app.state.decision_log
    submit = log.submit

    def timed_submit(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter_ns()
        future = submit(*args, **kwargs)
        future.add_done_callback(lambda _: waits.append((time.perf_counter_ns() - started) / 1000))
        return future

    log.submit = timed_submit
    items = [json.dumps(b).encode() for b in bodies(200)]

    async def block(target: Any, n: int = 100) -> float:
        started = time.perf_counter_ns()
        for i in range(n):
            assert await _call(target, items[i % len(items)]) == 200
        return (time.perf_counter_ns() - started) / n / 1000

    async def run() -> tuple[list[float], list[float], pstats.Stats]:
        for body in items:  # warm: every case is now a cache hit, as under wrk
            await _call(app, body)
            await _call(bare, body)
        lead, base = [], []
        waits.clear()
        for _ in range(blocks):
            base.append(await block(bare))
            lead.append(await block(app))
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            await block(app)
        profiler.disable()
        return lead, base, pstats.Stats(profiler)

    lead, base, stats = asyncio.run(run())
    commit_wait = statistics.median(waits) if waits else float("nan")
    raw = stats.stats  # type: ignore[attr-defined]
    total = max(v[3] for v in raw.values())  # cumulative time of the outermost frame
    layers = {}
    for label, where in LAYERS.items():
        path, _, func = where.partition(":")
        cum = sum(v[3] for (file, _, name), v in raw.items() if file.endswith(path) and (name == func if func else name in ("decide", "to_dict")))
        layers[label] = 100 * cum / total
    return {
        "lead_us": statistics.median(lead), "bare_us": statistics.median(base), "commit_wait_us": commit_wait,
        "ratio": statistics.median(b / a for a, b in zip(lead, base, strict=True)),
        "layers": layers,
    }
