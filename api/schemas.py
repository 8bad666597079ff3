"""Wire models of API v1. Requests are strict (no coercion: durable_rules would coerce
silently); responses document the shapes in OpenAPI.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic_core import PydanticCustomError

AttributeValue = Annotated[StrictStr, Field(max_length=200)] | StrictInt | StrictFloat | StrictBool
ShortId = Annotated[StrictStr, Field(min_length=1, max_length=64)]


def _iso_date_only(value: object) -> object:
    # NOTE: lax pydantic also reads numbers as Unix timestamps (`0` → 1970-01-01); a date
    # on the wire is only ever the string YYYY-MM-DD, as the OpenAPI schema says.
    if isinstance(value, date) or (isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-"):
        return value
    raise PydanticCustomError("date_parsing", "input should be a date as YYYY-MM-DD")


IsoDate = Annotated[date, Strict(False), BeforeValidator(_iso_date_only)]

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


class OrgV1(BaseModel):
    id: str
    name: str
    name_en: str | None = None
    kind: str | None = None
    succeeded: list[str] | None = None


class TownshipV1(OrgV1):
    duties: list[str]


class BasisV1(BaseModel):
    document: str
    article: str | None = None
    issuer: str | None = None
    url: str | None = None


class RuleV1(BaseModel):
    id: str
    title: str
    kind: str
    basis: list[BasisV1]


class ExplanationV1(BaseModel):
    rule: str
    result: str
    reason: str


class PolicyRefV1(BaseModel):
    id: str
    version: str
    digest: str


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


class ItemsV1(BaseModel):
    items: list[dict[str, Any]]
    total: int


class PolicyInfoV1(BaseModel):
    id: str
    version: str
    digest: str
    title: str
    jurisdiction: str
    illustrative: bool
    loaded_at: str
    source: str
    counts: dict[str, int]


class ErrorBodyV1(BaseModel):
    code: str
    message: str
    field: str | None = None
    hint: str | None = None


class ErrorV1(BaseModel):
    error: ErrorBodyV1


# --- decision log (GET /v1/decisions) ----------------------------------------------


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


# --- batch deciding and policy reload (issue 7) ---

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


class ReloadV1(BaseModel):
    status: Literal["reloaded", "unchanged"]
    policy: PolicyRefV1
    previous: PolicyRefV1
    took_ms: float
