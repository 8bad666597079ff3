"""Routes' side of the decision log: log an answer before sending it, and replay admission reviews.

`send_logged` is what a deciding route returns: it renders the answer once, waits until
its record is committed (other requests keep being served meanwhile and share the
commit), and only then sends those same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from fastapi import Request, Response

from engine import Case, EngineFailure, ReplayError, Runtime, json_bytes, response_bytes
from engine.log import DecisionLog, Record, new_record_id
from engine.policy import Policy


def policy_used(digest: str, *candidates: Policy) -> Policy:
    """The policy an answer was made under (a reload may have swapped it meanwhile)."""
    for policy in candidates:
        if policy.digest == digest:
            return policy
    raise EngineFailure("the policy changed twice during one decision; retry")


async def send_logged(
    request: Request,
    decision_log: DecisionLog,
    kind: str,
    record_id: str,
    payload: dict[str, Any],
    policy: Policy,
    logged_request: dict[str, Any] | None = None,
) -> Response:
    """Log `payload` (the whole answer body) as a `kind` record, then send it.

    The record's request is the body as received, or `logged_request` (e.g. the case a
    page's form described) when the body is not the request a replay can read.
    """
    content = json_bytes(payload)
    received = await request.body() if logged_request is None else logged_request
    await decision_log.append(kind, received, content, policy, record_id)  # LogError → 503
    return Response(content, media_type="application/json")


def decide_logged(runtime: Runtime, decision_log: DecisionLog, case: Case, request: Mapping[str, Any]) -> dict[str, Any]:
    """Decide `case` and log it as a `lead` record before returning the answer body (blocking):
    the case lifecycle's decide-and-open and its re-decisions on a return, logged like
    POST /v1/cases/lead (`request` is the lead request as the engine was asked it)."""
    policy = runtime.policy
    decision = runtime.decide(case)
    record_id = new_record_id()
    content = response_bytes(record_id, decision)
    decision_log.log("lead", json_bytes(dict(request)), content, policy_used(decision.policy["digest"], policy, runtime.policy), record_id)
    answer: dict[str, Any] = json.loads(content)
    return answer


def replay_admission(runtime: Runtime, record: Record) -> bytes:
    """Re-review a logged grid admission request (kind `admission`)."""
    from api.http.schemas.admission import AdmissionReviewRequestV1

    response = record.response_json()
    as_of = response.get("as_of") if isinstance(response, dict) else None
    if not isinstance(as_of, str):
        raise ReplayError("the logged admission review names no date")
    proposal = AdmissionReviewRequestV1.model_validate_json(record.request).to_proposal(date.fromisoformat(as_of))
    return json_bytes({"review_id": record.id, **runtime.review(proposal).to_dict()})


def replay_lead(runtime: Runtime, record: Record) -> bytes:
    """Re-decide a logged lead request (kind `lead`) from the request as received."""
    from api.http.schemas.lead import logged_request

    return response_bytes(record.id, runtime.answer(logged_request(record.request, record.response_json())))


# Trial decisions (the playground page) are lead decisions of their own kind.
REPLAY_KINDS = {"lead": replay_lead, "admission": replay_admission, "trial": replay_lead}
