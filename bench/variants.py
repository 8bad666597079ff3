"""The served app with one of issue 17's changes taken out, for bench/http.py's
"what each change bought" rows (`uvicorn bench.variants:<name>`). Never served otherwise.

- `without_fast_path`: every lead request goes through FastAPI's route, dependencies and
  middleware (api/http/fastpath.py bypassed), and no `gc.freeze()` at start-up;
- `without_gc_freeze`: the fast path, but no `gc.freeze()` at start-up.

Both keep the lean decision-log writer, orjson rendering and the cached answer bytes: the
code before those changes is measured from the baseline revision itself (bench/http.py).
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api.http.app import create_app


@asynccontextmanager
async def _lifespan_without_freeze(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.decision_log.close()


def _app(fast_path: bool) -> Any:
    app = create_app()
    app.router.lifespan_context = _lifespan_without_freeze
    if not fast_path:
        app.build_middleware_stack = types.MethodType(FastAPI.build_middleware_stack, app)  # type: ignore[method-assign]
    return app


VARIANTS = {"without_fast_path": False, "without_gc_freeze": True}


def __getattr__(name: str) -> Any:
    # Built on first access: uvicorn imports the module, then reads the one app it serves.
    if name in VARIANTS:
        return _app(fast_path=VARIANTS[name])
    raise AttributeError(name)
