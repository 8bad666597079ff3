"""Wire models of the decision log (GET /v1/decisions, GET /v1/decisions/{id})."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.http.schemas.common import PolicyRefV1


class DecisionRecordV1(BaseModel):
    """One decision log record: what was asked, what was answered, under which policy."""

    decision_id: str
    seq: int = Field(description="position in the log: 1, 2, 3, … without gaps")
    time: str = Field(description="when the decision was made, UTC ISO 8601")
    kind: str = Field(description="`lead` (POST /v1/cases/lead) or `admission`")
    reference: str | None = Field(description="the caller's reference from the request")
    request: Any = Field(description="the request body as received")
    response: Any = Field(description="the response body as sent")
    policy: PolicyRefV1
    engine_version: str
    prev_hash: str = Field(description="hash of the previous record (64 zeros for the first)")
    hash: str = Field(description="sha256 of this record's canonical JSON, chained to prev_hash")


class DecisionPageV1(BaseModel):
    items: list[DecisionRecordV1]
    next_after: int | None = Field(description="pass as `after` for the next page; null on the last page")
