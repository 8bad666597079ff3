"""POST /v1/cases/lead:batch: many cases in one request, each decided (and logged) as by
POST /v1/cases/lead."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from api.http.deps import DecisionLogDep, JurisdictionsDep, new_decision_id, today
from api.http.logged import policy_used
from api.http.schemas.common import ErrorV1
from api.http.schemas.lead import LeadBatchRequestV1, LeadBatchResponseV1
from engine import Answer, CaseError, ErrorCode, Jurisdictions, UnknownJurisdiction, json_bytes, response_bytes

router = APIRouter(prefix="/v1/cases", tags=["cases"])

BatchItem = Answer | dict[str, Any]  # an answer, or an error item {"index", "error"}


def decide_batch(served: Jurisdictions, body: LeadBatchRequestV1) -> list[BatchItem]:
    """Decide every case in order, each in its own jurisdiction. A case the policy rejects (or
    one naming an unknown jurisdiction) becomes an error item with its index; an engine
    failure fails the whole request (503), as for one case."""
    day = today()
    results: list[BatchItem] = []
    for index, item in enumerate(body.cases):
        try:
            runtime = served.get(item.jurisdiction)
        except UnknownJurisdiction as exc:
            results.append({"index": index, "error": {"code": ErrorCode.UNKNOWN_JURISDICTION.value, "message": str(exc), "field": "jurisdiction", "hint": exc.hint}})
            continue
        try:
            results.append(runtime.answer(item.to_request(day)))
        except CaseError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.field:
                error["field"] = exc.field
            if exc.hint:
                error["hint"] = exc.hint
            results.append({"index": index, "error": error})
    return results


@router.post(
    "/lead:batch",
    summary="Who leads each of up to 1,000 cases",
    response_model=LeadBatchResponseV1,
    responses={422: {"model": ErrorV1}, 400: {"model": ErrorV1}, 413: {"model": ErrorV1}, 503: {"model": ErrorV1}},
)
async def lead_batch(served: JurisdictionsDep, decision_log: DecisionLogDep, body: LeadBatchRequestV1) -> Response:
    """Each result is a decision (as from POST /v1/cases/lead) or `{"index", "error"}`.

    Every decision is in the decision log, as its own `lead` record with the case as its
    request, before the batch is answered; the bytes of each decision in the answer are the
    bytes logged for it.
    """
    before = [runtime.policy for runtime in served]
    # NOTE: a full batch keeps the engine busy for tens of milliseconds: off the event loop.
    outcomes = await run_in_threadpool(decide_batch, served, body)
    parts: list[bytes] = []
    pending: list[Coroutine[Any, Any, Any]] = []
    errors = 0
    for item, outcome in zip(body.cases, outcomes, strict=True):
        if isinstance(outcome, dict):
            errors += 1
            parts.append(json_bytes(outcome))
            continue
        decision_id = new_decision_id()
        content = response_bytes(decision_id, outcome)
        used = policy_used(outcome.decision.policy["digest"], *before, served.get(item.jurisdiction).policy)
        pending.append(decision_log.append("lead", item.model_dump(mode="json", exclude_unset=True), content, used, decision_id, item.reference))
        parts.append(content)
    await asyncio.gather(*pending)  # LogError → 503, nothing answered
    tail = b'],"total":%d,"errors":%d}' % (len(parts), errors)
    return Response(b'{"results":[' + b",".join(parts) + tail, media_type="application/json")
