"""Wire models of intake: POST /v1/matters:classify, the `intake` block of a lead answer,
and GET /v1/attributes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from api.http.schemas.common import IsoDate, TicketText

CLASSIFY_EXAMPLE: dict[str, Any] = {"text": "楼上邻居天天半夜跳绳、拖椅子，吵得睡不着", "limit": 3}


class ClassifyRequestV1(BaseModel):
    """A ticket text whose matter to recognise."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": [CLASSIFY_EXAMPLE]})

    text: TicketText = Field(description="the ticket's words (诉求内容), up to 2,000 characters")
    limit: Annotated[StrictInt, Field(ge=1, le=20)] = Field(default=5, description="candidates to return")
    as_of: IsoDate | None = Field(default=None, description="only matters in force on this date (default: today)")


class EvidenceV1(BaseModel):
    """A word (or character bigram) of the text that scored, and where the matter has it."""

    model_config = ConfigDict(populate_by_name=True)

    term: str
    kind: Literal["word", "ngram"]
    in_: list[Literal["name", "alias", "example", "duty"]] = Field(alias="in")
    score: float
    example: str | None = Field(default=None, description="the matter's first example with the term")


class CandidateV1(BaseModel):
    id: str
    name: str
    score: float
    evidence: list[EvidenceV1]


class ClassifyResponseV1(BaseModel):
    """The list's matters ranked for the text, best first, and how sure the first one is:
    high (a lead request would be decided), medium (decided, needs confirmation), low (dispatched)."""

    items: list[CandidateV1]
    confidence: Literal["high", "medium", "low"]
    reason: str


class InferredV1(BaseModel):
    """An attribute value a cue in the text set (or would have: `overridden_by` the request)."""

    id: str
    value: str | int | float | bool
    cue: str
    alternatives: list[str | int | float | bool] | None = None
    overridden_by: Literal["request"] | None = None


class IntakeTownshipV1(BaseModel):
    id: str
    name: str | None
    via: Literal["township", "place", "text"] = Field(description="what named it: the id, the `place`, or the text")
    matched: str | None = Field(default=None, description="the name found in the place or text")
    kind: Literal["name", "alias", "village", "community"] | None = None


class IntakeV1(BaseModel):
    """How intake read a lead request given in words (present when `text` or `place` was given)."""

    text: str | None = None
    township: IntakeTownshipV1
    confidence: Literal["high", "medium", "low"] | None = None
    reason: str | None = None
    matter: dict[str, Any] | None = Field(default=None, description="the matter chosen: id, name, score, source")
    needs_confirmation: bool | None = None
    evidence: list[EvidenceV1] | None = None
    runners_up: list[CandidateV1] | None = None
    candidates: list[CandidateV1] | None = Field(default=None, description="when dispatched: what came closest")
    attributes: list[InferredV1] | None = None


class AttributeValueV1(BaseModel):
    id: str | bool | int
    name: str | None = None
    name_en: str | None = None
    cues: list[str]


class AttributeV1(BaseModel):
    """One word of the case vocabulary: its type, allowed values and the cues that indicate them."""

    id: str
    name: str
    name_en: str | None = None
    type: Literal["enum", "bool", "int", "number", "township"]
    values: list[AttributeValueV1]
    minimum: float | None = None
    maximum: float | None = None
    default: str | int | float | bool | None = None


class AttributesV1(BaseModel):
    items: list[AttributeV1]
    total: int
