"""Wire models of API v1 for grid task admission review (POST /v1/grid/admission-reviews).

The request is strict (no coercion: "true" is not true, "30" is not 30); the CLI validates
review files with the same model, so both edges accept exactly the same proposals.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from api.http.schemas.common import IsoDate, PolicyRefV1, ShortId
from engine.admission import BasisRef, Proposal

Text = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Minutes = Annotated[float, Field(ge=0, le=1440, allow_inf_nan=False)]

# Worked examples (OpenAPI and tests): the four cases the admission chapter must get right.
NO_ENFORCEMENT_EXAMPLE: dict[str, Any] = {
    "title": "网格员核查无证餐饮并下达整改通知",
    "requester": "qj-market",
    "kind": "hazard_check",
    "basis": [{"document": "中华人民共和国食品安全法", "level": "law"}],
    "funding": True,
    "training": True,
    "start_date": "2026-12-01",
    "end_date": "2026-12-31",
    "frequency": "once",
    "minutes_per_household": 0,
    "minutes_per_grid": 240,
    "actions": ["verify_license", "order_rectification"],
    "channel": "county_platform",
    "as_of": "2026-11-25",
}
CENSUS_EXAMPLE: dict[str, Any] = {
    "title": "协助开展人口普查入户登记",
    "description": "网格员引导普查员入户, 核对住户名单",
    "requester": "qj-stats",
    "kind": "info_collection",
    "basis": [
        {"document": "中华人民共和国统计法", "article": "第七条", "level": "law"},
        {"document": "全国人口普查条例", "level": "regulation"},
    ],
    "funding": True,
    "training": True,
    "start_date": "2026-11-01",
    "end_date": "2026-12-15",
    "frequency": "once",
    "minutes_per_household": 3,
    "actions": ["guide_enumerators", "visit"],
    "channel": "county_platform",
    "as_of": "2026-10-20",
    "reference": "QJ-GRID-2026-031",
}
GAS_SAFETY_EXAMPLE: dict[str, Any] = {
    "title": "城镇燃气用户入户安全排查",
    "requester": "qj-housing",
    "kind": "hazard_check",
    "basis": [{"document": "城镇燃气管理条例", "level": "regulation"}],
    "funding": False,
    "training": True,
    "start_date": "2026-12-01",
    "end_date": "2027-01-31",
    "frequency": "once",
    "households": 150,
    "minutes_per_household": 15,
    "fields": ["gas_type", "gas_alarm", "hose_condition"],
    "actions": ["visit", "report_found"],
    "channel": "county_platform",
    "as_of": "2026-11-25",
}
DUPLICATE_DATA_EXAMPLE: dict[str, Any] = {
    "title": "逐户采集户籍人口信息",
    "requester": "qj-police",
    "kind": "info_collection",
    "basis": [{"document": "中华人民共和国户口登记条例", "level": "regulation"}],
    "funding": True,
    "start_date": "2026-12-01",
    "end_date": "2026-12-31",
    "frequency": "once",
    "minutes_per_household": 2,
    "fields": ["name", "id_number", "phone", "household_address", "household_size"],
    "actions": ["visit", "register"],
    "channel": "county_platform",
    "as_of": "2026-11-25",
}
EMERGENCY_EXAMPLE: dict[str, Any] = {
    "title": "台风登陆前危旧房人员转移摸排",
    "requester": "qj-emergency",
    "kind": "hazard_check",
    "start_date": "2026-09-10",
    "end_date": "2026-09-12",
    "frequency": "daily",
    "households": 40,
    "minutes_per_household": 5,
    "fields": ["transfer_status"],
    "actions": ["visit", "report_found"],
    "channel": "work_group",
    "emergency": True,
    "emergency_category": "natural_disaster",
    "as_of": "2026-09-10",
}


class BasisRefV1(BaseModel):
    """A law, regulation or document the proposing department cites, and its rank."""

    model_config = ConfigDict(strict=True, extra="forbid")

    document: Text
    article: Annotated[StrictStr, Field(max_length=200)] | None = None
    level: ShortId = Field(description="basis level id: law, regulation, rules, county_document, department_notice")


class AdmissionReviewRequestV1(BaseModel):
    """A task a department proposes to push down to grid workers (事务进网格申请)."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={"examples": [CENSUS_EXAMPLE]})

    jurisdiction: ShortId | None = Field(default=None, description="jurisdiction (county) id; omit for the default one")
    title: Text = Field(description="the task as the department words it")
    description: Annotated[StrictStr, Field(max_length=2000)] | None = None
    requester: ShortId = Field(description="organization id of the requesting department")
    kind: ShortId = Field(description="task kind id (信息采集 info_collection, 隐患排查 hazard_check, …)")
    basis: list[BasisRefV1] = Field(default_factory=list, max_length=20, description="legal or policy basis")
    funding: StrictBool = Field(default=False, description="funds follow the task (费随事转)")
    training: StrictBool = Field(default=False, description="the department trains grid workers for it")
    start_date: IsoDate
    end_date: IsoDate | None = Field(default=None, description="omit only for an open-ended task")
    frequency: ShortId = Field(description="once, daily, weekly, monthly, quarterly")
    minutes_per_household: Minutes = Field(description="estimated minutes per household each time")
    minutes_per_grid: Annotated[float, Field(ge=0, le=20000, allow_inf_nan=False)] = Field(
        default=0, description="fixed minutes per grid each time (forms, photos, meetings)"
    )
    households: Annotated[StrictInt, Field(ge=1, le=5000)] | None = Field(
        default=None, description="households per grid the task touches (default: the whole grid)"
    )
    fields: list[ShortId] = Field(default_factory=list, max_length=200, description="data field ids to collect")
    actions: list[ShortId] = Field(default_factory=list, max_length=50, description="what grid workers must do")
    channel: ShortId = Field(description="how the task reaches grid workers")
    assesses_grid_workers: StrictBool = Field(
        default=False, description="the department would assess, rank or name grid workers itself"
    )
    emergency: StrictBool = False
    emergency_category: ShortId | None = Field(default=None, description="required when emergency is true")
    as_of: IsoDate | None = Field(default=None, description="date the review is judged on (default: today)")
    reference: Annotated[StrictStr, Field(max_length=128)] | None = Field(
        default=None, description="caller's own reference, e.g. the application number"
    )

    def to_proposal(self, as_of: date) -> Proposal:
        return Proposal(
            title=self.title,
            requester=self.requester,
            kind=self.kind,
            start_date=self.start_date,
            frequency=self.frequency,
            minutes_per_household=self.minutes_per_household,
            channel=self.channel,
            as_of=self.as_of or as_of,
            basis=tuple(BasisRef(b.document, b.level, b.article) for b in self.basis),
            funding=self.funding,
            training=self.training,
            end_date=self.end_date,
            households=self.households,
            minutes_per_grid=self.minutes_per_grid,
            fields=tuple(self.fields),
            actions=tuple(self.actions),
            assesses_grid_workers=self.assesses_grid_workers,
            emergency=self.emergency,
            emergency_category=self.emergency_category,
            description=self.description,
            reference=self.reference,
        )


class ReviewBasisV1(BaseModel):
    document: str
    article: str | None = None
    issuer: str | None = None
    url: str | None = None


class ReviewFindingV1(BaseModel):
    criterion: str
    title: str
    severity: Literal["reject", "return", "note"]
    message: str
    basis: list[ReviewBasisV1]


class ReuseV1(BaseModel):
    field: str
    name: str
    table: str
    source: str | None


class AdmissionReviewV1(BaseModel):
    """The admission decision: outcome, every finding with its basis, and the fields to reuse."""

    review_id: str
    outcome: Literal["admitted", "returned", "rejected"]
    outcome_label: str
    findings: list[ReviewFindingV1]
    reuse: list[ReuseV1]
    task: dict[str, Any]
    facts: dict[str, Any]
    filing_due: str | None
    fired: list[str]
    policy: PolicyRefV1
    as_of: str
    reference: str | None
