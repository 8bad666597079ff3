"""POST /v1/cases/lead:batch: many cases in one request, each decided as by /v1/cases/lead."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.deps import RuntimeDep, new_decision_id, today
from api.schemas import ErrorV1, LeadBatchRequestV1, LeadBatchResponseV1
from engine.decision import Case
from engine.errors import CaseError
from engine.runtime import Runtime

router = APIRouter(prefix="/v1/cases", tags=["cases"])


def decide_batch(runtime: Runtime, body: LeadBatchRequestV1) -> dict[str, Any]:
    """Decide every case in order. A case the policy rejects becomes an error item with
    its index; an engine failure fails the whole request (503), as for one case."""
    day = today()
    results: list[dict[str, Any]] = []
    errors = 0
    for index, item in enumerate(body.cases):
        case = Case(
            township=item.township,
            matter=item.matter,
            attributes=item.attributes,
            as_of=item.as_of or day,
            reference=item.reference,
        )
        try:
            decision = runtime.decide(case)
        except CaseError as exc:
            errors += 1
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.field:
                error["field"] = exc.field
            if exc.hint:
                error["hint"] = exc.hint
            results.append({"index": index, "error": error})
            continue
        results.append({"decision_id": new_decision_id(), **decision.to_dict()})
    return {"results": results, "total": len(results), "errors": errors}


@router.post(
    "/lead:batch",
    summary="Who leads each of up to 1,000 cases",
    response_model=LeadBatchResponseV1,
    responses={422: {"model": ErrorV1}, 400: {"model": ErrorV1}, 413: {"model": ErrorV1}},
)
async def lead_batch(runtime: RuntimeDep, body: LeadBatchRequestV1) -> JSONResponse:
    """Each result is a decision (as from POST /v1/cases/lead) or `{"index", "error"}`."""
    # NOTE: a full batch keeps the engine busy for tens of milliseconds: off the event loop.
    return JSONResponse(await run_in_threadpool(decide_batch, runtime, body))
