"""POST /v1/cases/lead: who leads this case."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response

from api.http.deps import DecisionLogDep, JurisdictionsDep, new_decision_id, today
from api.http.logged import policy_used
from api.http.schemas.common import ErrorV1
from api.http.schemas.lead import SAND_MINING_EXAMPLE, TEXT_EXAMPLE, DecisionV1, LeadRequestV1
from engine import Answer, Jurisdictions, response_bytes
from engine.policy import Policy

router = APIRouter(prefix="/v1/cases", tags=["cases"])

EXAMPLES: dict[str, Any] = {
    "sand_mining": {
        "summary": "河道非法采砂 (illegal river sand mining) in 高家镇",
        "value": SAND_MINING_EXAMPLE,
    },
    "ticket_text": {
        "summary": "a 12345 ticket's words: intake recognises matter, place and attributes",
        "value": TEXT_EXAMPLE,
    },
    "outside_list": {
        "summary": "清单外: no matter given, dispatched to the centre",
        "value": {"township": "zhangtan", "attributes": {}, "as_of": "2026-11-01"},
    },
}


@router.post(
    "/lead",
    summary="Who leads this case",
    response_model=DecisionV1,
    responses={422: {"model": ErrorV1}, 400: {"model": ErrorV1}, 404: {"model": ErrorV1}, 503: {"model": ErrorV1}},
)
async def lead(
    served: JurisdictionsDep,
    decision_log: DecisionLogDep,
    request: Request,
    body: Annotated[LeadRequestV1, Body(openapi_examples=EXAMPLES)],
) -> Response:
    """Decide the lead (牵头), supports (协同), township duties and time limits, with reasons.

    Give ids (`matter`, `township`) or the ticket's words: `text` instead of `matter`, `place`
    instead of `township` (or a township named in `text`). The answer to words has an `intake`
    block: the matter chosen, its score and evidence, the runners-up, the attributes cues set,
    how the township was found. High confidence is decided; medium is decided with
    `needs_confirmation`; low is dispatched to the centre with the candidates. Explicit ids and
    attributes always win.

    The decision is in the decision log (GET /v1/decisions/{decision_id}) before it is
    answered: if the log cannot commit, the answer is a 503 and no decision is given.
    `jurisdiction` names the county (GET /v1/jurisdictions); without it the default one decides.
    """
    decision_id, content, used = answer(served, body)
    await decision_log.append("lead", await request.body(), content, used, decision_id, body.reference)  # LogError → 503
    return Response(content, media_type="application/json")


def answer(served: Jurisdictions, body: LeadRequestV1) -> tuple[str, bytes, Policy]:
    """Decide a lead request in its jurisdiction: its decision id, the answer's bytes, the
    policy it was made under.

    The one implementation behind this route and its fast path (api/http/fastpath.py).
    Raises CaseError for a case the policy rejects, UnknownJurisdiction for a jurisdiction
    this process does not serve.
    """
    runtime = served.get(body.jurisdiction)
    policy = runtime.policy
    day = today()
    case = body.to_case(day)
    # ids only: straight to the engine (the hot path); words go through intake first
    answered = runtime.decide(case) if case is not None else runtime.answer(body.to_request(day))
    decision_id = new_decision_id()
    digest = (answered.decision if isinstance(answered, Answer) else answered).policy["digest"]
    used = policy_used(digest, policy, runtime.policy)
    # NOTE: the engine's canonical dict is sent as is (not re-validated through DecisionV1):
    # the log stores these bytes and replay reproduces them (api/http/logged.py replay_lead).
    return decision_id, response_bytes(decision_id, answered), used
