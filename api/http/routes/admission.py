"""POST /v1/grid/admission-reviews: may this task enter the grid (事务进网格准入审查)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from api.http.deps import DecisionLogDep, JurisdictionsDep, new_decision_id, today
from api.http.logged import policy_used, send_logged
from api.http.schemas.admission import (
    CENSUS_EXAMPLE,
    DUPLICATE_DATA_EXAMPLE,
    EMERGENCY_EXAMPLE,
    GAS_SAFETY_EXAMPLE,
    NO_ENFORCEMENT_EXAMPLE,
    AdmissionReviewRequestV1,
    AdmissionReviewV1,
)
from api.http.schemas.common import ErrorV1

router = APIRouter(prefix="/v1/grid", tags=["grid"])

EXAMPLES: dict[str, Any] = {
    "census": {"summary": "人口普查入户协助, 有依据和经费: admitted", "value": CENSUS_EXAMPLE},
    "gas_safety": {"summary": "燃气入户排查, 未落实经费: returned", "value": GAS_SAFETY_EXAMPLE},
    "no_enforcement": {"summary": "网格员核查无证餐饮并下达整改通知: rejected", "value": NO_ENFORCEMENT_EXAMPLE},
    "duplicate_data": {"summary": "重复采集一表通已有字段: rejected, with fields to reuse", "value": DUPLICATE_DATA_EXAMPLE},
    "emergency": {"summary": "台风转移摸排, 紧急事项: admitted, file afterwards", "value": EMERGENCY_EXAMPLE},
}


@router.post(
    "/admission-reviews",
    summary="Review a task before it enters the grid",
    response_model=AdmissionReviewV1,
    responses={422: {"model": ErrorV1}, 400: {"model": ErrorV1}, 404: {"model": ErrorV1}, 503: {"model": ErrorV1}},
)
async def admission_review(
    served: JurisdictionsDep,
    decision_log: DecisionLogDep,
    request: Request,
    body: Annotated[AdmissionReviewRequestV1, Body(openapi_examples=EXAMPLES)],
) -> Response:
    """Admitted, returned for amendment or rejected, every finding citing its criterion and basis;
    `reuse` lists the requested fields the grid's shared table (一表通) already holds.
    """
    runtime = served.get(body.jurisdiction)
    policy = runtime.policy
    result = runtime.review(body.to_proposal(today()))
    review_id = new_decision_id()
    used = policy_used(result.policy["digest"], policy, runtime.policy)
    # NOTE: the engine's canonical dict is sent as is, as for /v1/cases/lead, and logged
    # (kind `admission`) before it is sent.
    return await send_logged(request, decision_log, "admission", review_id, {"review_id": review_id, **result.to_dict()}, used)
