"""Wire models of POST /v1/cases/lead and :batch. Requests are strict (no coercion:
durable_rules would coerce silently); responses document the shapes in OpenAPI.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError

from api.http.schemas.common import BasisV1, ErrorBodyV1, IsoDate, OrgV1, PlaceText, PolicyRefV1, ShortId, TicketText
from api.http.schemas.intake import IntakeV1
from engine import Case, LeadRequest, ReplayError

AttributeValue = Annotated[StrictStr, Field(max_length=200)] | StrictInt | StrictFloat | StrictBool


SAND_MINING_EXAMPLE: dict[str, Any] = {
    "matter": "WAT-01",
    "township": "gaojia",
    "attributes": {"site_type": "river"},
    "as_of": "2026-11-01",
    "reference": "12345-20261101-0001",
}

TEXT_EXAMPLE: dict[str, Any] = {
    "text": "高家镇衢江边上有人晚上偷偷挖沙，一车一车往外拉",
    "as_of": "2026-11-01",
    "reference": "12345-20261101-0002",
}


class LeadRequestV1(BaseModel):
    """A case: which matter, where, what is known about it, and on which date."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [SAND_MINING_EXAMPLE]},
    )

    jurisdiction: ShortId | None = Field(default=None, description="jurisdiction (county) id; omit for the default one")
    matter: ShortId | None = Field(default=None, description="matter id from the list; omit for 清单外, or give `text`")
    township: ShortId | None = Field(
        default=None, description="township or street id; or give `place`, or name the township in `text`"
    )
    text: TicketText | None = Field(
        default=None,
        description="the ticket's words (诉求内容, up to 2,000 characters): intake recognises the matter, the "
        "attributes its cues indicate and, without `place`, the township it names; the answer gains `intake`",
    )
    place: PlaceText | None = Field(
        default=None,
        description="a township or street name, an alias, a village or community, or an address containing one",
    )
    attributes: dict[Annotated[str, Field(max_length=40)], AttributeValue] = Field(
        default_factory=dict, max_length=64, description="case attributes from the policy vocabulary"
    )
    as_of: IsoDate | None = Field(default=None, description="date the case is judged on (default: today)")
    reference: Annotated[StrictStr, Field(max_length=128)] | None = Field(
        default=None, description="caller's own reference, e.g. a 12345 ticket number"
    )

    def to_case(self, default_day: date) -> Case | None:
        """The case of a request by ids (township given, no words), else None: the hot path
        builds it directly and pays nothing for intake."""
        if self.township is None or self.text is not None or self.place is not None:
            return None
        return Case(self.township, self.as_of or default_day, self.matter, self.attributes, self.reference)

    def to_request(self, default_day: date) -> LeadRequest:
        """The request as the engine reads it; without `as_of` it is judged on `default_day`."""
        return LeadRequest(
            as_of=self.as_of or default_day,
            matter=self.matter,
            township=self.township,
            text=self.text,
            place=self.place,
            attributes=self.attributes,
            reference=self.reference,
        )


def logged_request(request: str | bytes, response: Any) -> LeadRequest:
    """A logged lead request, read through the same wire model as when it was received. A
    request without `as_of` was judged on the date its response states."""
    try:
        body = LeadRequestV1.model_validate_json(request)
    except ValidationError as exc:
        raise ReplayError(f"the logged request is not a lead request: {exc.errors()[0]['msg']}") from None
    day = response.get("as_of") if isinstance(response, dict) else None
    if body.as_of is None and not isinstance(day, str):
        raise ReplayError("the logged request has no date and its response names none")
    return body.to_request(body.as_of or date.fromisoformat(str(day)))


def logged_case(request: str | bytes, response: Any) -> Case:
    """The case a logged lead request was decided as (for impact analysis). A request in
    words was decided as its answer says: the township and matter intake chose, the
    attributes it inferred, the request's own attributes over them."""
    asked = logged_request(request, response)
    if not asked.in_words:
        if asked.township is None:
            raise ReplayError("the logged request names no township")
        return Case(asked.township, asked.as_of, asked.matter, dict(asked.attributes), asked.reference)
    if not isinstance(response, dict) or not isinstance(response.get("intake"), dict):
        raise ReplayError("the logged request in words has no intake block in its response")
    intake = response["intake"]
    matter = response.get("matter") or {}
    inferred = {a["id"]: a["value"] for a in intake.get("attributes") or () if "overridden_by" not in a}
    return Case(
        township=str(response["township"]["id"]),
        as_of=asked.as_of,
        matter=matter.get("id") if isinstance(matter, dict) else None,
        attributes={**inferred, **asked.attributes},
        reference=asked.reference,
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
    intake: IntakeV1 | None = Field(default=None, description="for a request in words: how it was read")


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
