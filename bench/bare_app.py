"""The HTTP baseline: a bare FastAPI endpoint at the same path that returns a constant,
decision-shaped response (one real decision, computed once at start) without validating
the request or deciding anything. Served by the same uvicorn settings as the real app."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.settings import DEFAULT_POLICY
from engine.lead.decision import Case
from engine.runtime import Runtime

_decision = Runtime.from_dir(DEFAULT_POLICY).decide(
    Case(township="gaojia", matter="WAT-01", attributes={"site_type": "river"}, as_of=date(2026, 11, 1))
)
CONSTANT: dict[str, Any] = {"decision_id": "0" * 22, **_decision.to_dict()}

app = FastAPI(title="bare baseline")


@app.post("/v1/cases/lead")
async def lead(request: Request) -> JSONResponse:
    await request.body()
    return JSONResponse(CONSTANT)
