"""Wire models of the case lifecycle (v1): opening a case, events, rulings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr
from pydantic_core import PydanticCustomError

from api.http.schemas.common import ShortId
from api.http.schemas.lead import AttributeValue, LeadRequestV1

Text = Annotated[StrictStr, Field(min_length=1, max_length=500)]
LimitText = Annotated[StrictStr, Field(pattern=r"^\d{1,4}(min|h|d|wd)$")]
EventKind = Literal["sign", "contact", "return", "reassign", "report_in", "extend", "handle", "close", "reopen"]


def _iso_time_only(value: object) -> object:
    # NOTE: lax pydantic also reads numbers as Unix time; on the wire a time is only ever an
    # ISO 8601 string with its offset, as the OpenAPI schema says.
    if isinstance(value, datetime) or isinstance(value, str):
        return value
    raise PydanticCustomError("datetime_parsing", "input should be an ISO 8601 time with its offset")


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_time_only)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class At(_Strict):
    at: IsoTime | None = Field(
        default=None,
        description="when it happened (ISO 8601 with offset, e.g. 2026-09-30T10:00:00+08:00); default: now. "
        "Never in the future, never before the case's last event",
    )

    model_config = ConfigDict(strict=False, extra="forbid")  # a datetime arrives as a string


class CaseOpenV1(At):
    """Open a case from a logged decision, or decide `case` and open it in one call."""

    decision_id: ShortId | None = Field(default=None, description="a `lead` decision from POST /v1/cases/lead")
    case: LeadRequestV1 | None = Field(default=None, description="decide this case and open it")
    actor: ShortId | None = Field(default=None, description="who blows the whistle (default: the case's township)")
    reason: Text | None = None

    model_config = ConfigDict(
        strict=False,
        extra="forbid",
        json_schema_extra={"examples": [{"decision_id": "01a2148e7fef3beb4e6ee2", "actor": "gaojia"}]},
    )


class CorrectionsV1(_Strict):
    attributes: dict[Annotated[str, Field(max_length=40)], AttributeValue] = Field(default_factory=dict, max_length=64)
    township: ShortId | None = None
    matter: ShortId | None = None


class CaseEventV1(At):
    """An event on a case. `reason` is required for return (one of the lifecycle's return
    reasons, by id or name), reassign, extend and reopen."""

    kind: EventKind
    actor: ShortId | None = Field(default=None, description="the organization acting; a token bound to one acts as it")
    reason: Text | None = None
    note: Text | None = None
    claim: ShortId | None = Field(default=None, description="return: who the department says should lead")
    corrections: CorrectionsV1 | None = Field(default=None, description="return: what the case really is")
    lead: ShortId | None = Field(default=None, description="reassign: the new lead")
    supports: list[ShortId] | None = Field(default=None, max_length=32, description="reassign: the new supports")
    limit: ShortId | None = Field(default=None, description="extend: which time limit")
    by: LimitText | None = Field(default=None, description="extend: by how much (e.g. 5wd)")

    model_config = ConfigDict(
        strict=False,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "sign", "actor": "qj-water"},
                {"kind": "return", "actor": "qj-water", "reason": "not_our_duty", "claim": "qj-nrp",
                 "corrections": {"attributes": {"site_type": "farmland"}}},
                {"kind": "extend", "actor": "qj-water", "limit": "handle", "by": "5wd", "reason": "需等待鉴定结论"},
            ]
        },
    )


class BasisInV1(_Strict):
    document: Text
    article: Text | None = None
    issuer: Text | None = None


class RulingV1(At):
    """The arbiter's ruling on an open dispute."""

    actor: ShortId | None = Field(default=None, description="the arbiter (编办)")
    lead: ShortId = Field(description="who leads cases like this one")
    supports: list[ShortId] | None = Field(default=None, max_length=32)
    basis: BasisInV1 = Field(description="the meeting minute (会议纪要) or document the ruling rests on")
    reason: Text | None = None

    model_config = ConfigDict(
        strict=False,
        extra="forbid",
        json_schema_extra={
            "examples": [{"actor": "qj-bb", "lead": "qj-nrp", "basis": {"document": "衢江区委编办职责争议协调会议纪要", "article": "〔2026〕5号"},
                          "reason": "河道管理范围外的采砂由自然资源和规划分局牵头"}]
        },
    )


class DeadlineV1(BaseModel):
    limit: str
    name: str
    length: str
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    status: Literal["running", "overdue", "met", "late", "cancelled"]
    colour: Literal["green", "amber", "red"]
    calendar: Literal["official", "weekdays_assumed"]
    lead: str | None = None
    extended_by: list[str] | None = None
    stopped_at: datetime | None = None
    stopped_by: str | None = None
    escalations: list[dict[str, Any]] | None = None


class CaseV1(BaseModel):
    case_id: str
    state: dict[str, Any]
    lead: dict[str, Any]
    supports: list[dict[str, Any]]
    township: dict[str, Any]
    matter: dict[str, Any] | None
    decision_id: str | None
    rule: dict[str, Any] | None
    opened_at: datetime
    colour: Literal["green", "amber", "red"]
    deadlines: list[DeadlineV1]
    clocks: list[DeadlineV1]
    calendar: Literal["official", "weekdays_assumed"]
    dispute: dict[str, Any] | None
    returns: int
    allowed: list[dict[str, Any]]
    history: list[dict[str, Any]]
    version: int
    as_of: datetime
    policy: dict[str, str]
    proposed_rule: dict[str, Any] | None = None


class CaseSummaryV1(BaseModel):
    case_id: str
    state: dict[str, Any]
    lead: dict[str, Any]
    township: dict[str, Any]
    matter: dict[str, Any] | None
    opened_at: datetime
    due_at: datetime | None
    due_limit: str | None
    colour: Literal["green", "amber", "red"]
    overdue: bool
    calendar: Literal["official", "weekdays_assumed"]
    dispute: bool
    returns: int


class CasesV1(BaseModel):
    items: list[CaseSummaryV1]
    total: int
    next_offset: int | None
