"""Wire models of POST /v1/cases/lead and :batch. Requests are strict (no coercion:
durable_rules would coerce silently); responses document the shapes in OpenAPI.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from api.http.schemas.common import BasisV1, ErrorBodyV1, IsoDate, OrgV1, PolicyRefV1, ShortId

AttributeValue = Annotated[StrictStr, Field(max_length=200)] | StrictInt | StrictFloat | StrictBool


SAND_MINING_EXAMPLE: dict[str, Any] = {
    "matter": "WAT-01",
    "township": "gaojia",
    "attributes": {"site_type": "river"},
    "as_of": "2026-11-01",
    "reference": "12345-20261101-0001",
}


class LeadRequestV1(BaseModel):
    """A case: which matter, where, what is known about it, and on which date."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [SAND_MINING_EXAMPLE]},
    )

    matter: ShortId | None = Field(default=None, description="matter id from the list; omit for 清单外")
    township: ShortId = Field(description="township or street id")
    attributes: dict[Annotated[str, Field(max_length=40)], AttributeValue] = Field(
        default_factory=dict, max_length=64, description="case attributes from the policy vocabulary"
    )
    as_of: IsoDate | None = Field(default=None, description="date the case is judged on (default: today)")
    reference: Annotated[StrictStr, Field(max_length=128)] | None = Field(
        default=None, description="caller's own reference, e.g. a 12345 ticket number"
    )


class TownshipV1(OrgV1):
    duties: list[str]


class RuleV1(BaseModel):
    id: str
    title: str
    kind: str
    basis: list[BasisV1]


class ExplanationV1(BaseModel):
    rule: str
    result: str
    reason: str


class DecisionV1(BaseModel):
    """Who leads the case, who supports, the township's duties, the limits, and why."""

    decision_id: str
    outcome: Literal["assigned", "dispatch", "conflict"]
    lead: OrgV1
    supports: list[OrgV1]
    township: TownshipV1
    matter: dict[str, str] | None
    time_limits: dict[str, str]
    rule: RuleV1
    explanation: list[ExplanationV1]
    coordinator: OrgV1 | None
    candidates: list[OrgV1]
    arbiter: OrgV1 | None
    notes: list[str]
    fired: list[str]
    policy: PolicyRefV1
    as_of: str
    reference: str | None


MAX_BATCH = 1000


class LeadBatchRequestV1(BaseModel):
    """Up to 1,000 cases decided in one request, answered in the same order."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"cases": [SAND_MINING_EXAMPLE, {"township": "zhangtan", "as_of": "2026-11-01"}]}]},
    )

    cases: list[LeadRequestV1] = Field(min_length=1, max_length=MAX_BATCH)


class BatchErrorV1(BaseModel):
    """A case of the batch the policy rejected (the others are still decided)."""

    index: int
    error: ErrorBodyV1


class LeadBatchResponseV1(BaseModel):
    results: list[DecisionV1 | BatchErrorV1]
    total: int
    errors: int
