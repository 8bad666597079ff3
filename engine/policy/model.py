"""The policy as authors write it: pydantic models for every YAML section.

These models are the schema of `policy/` (exported to `policy/schema/policy.schema.json`).
They check shape and local consistency only; cross-references (a rule naming an unknown
organization, a condition on an undeclared attribute) are checked in `engine.policy.validate`.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Id = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$", description="stable id")]
AttributeId = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="snake_case attribute id")
]
Scalar = str | int | float | bool

# A time limit such as "30min", "1h", "3d" or "5wd" (working days).
TIME_LIMIT_PATTERN = re.compile(r"^(\d+)(min|h|d|wd)$")
TimeLimit = Annotated[str, Field(pattern=TIME_LIMIT_PATTERN.pattern)]

# References to organizations that depend on the case rather than naming one body.
TOWNSHIP_REF = "@township"
TEAM_REF = "@enforcement_team"

# Fact names the engine derives for every case; attributes may not reuse them.
DERIVED_FACTS = ("matter", "domain", "township", "township_kind", "delegated", "team")


class Strict(BaseModel):
    """Base for policy models: unknown keys are an error, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Dated(Strict):
    """A clause in force from `valid_from` (inclusive) until `valid_until` (exclusive)."""

    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def _ordered_dates(self) -> Dated:
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be later than valid_from")
        return self

    def in_force(self, on: date) -> bool:
        """True when the clause is in force on the given date."""
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_until is None or on < self.valid_until
        )


class Basis(Strict):
    """A legal or policy source for a clause."""

    document: str = Field(description="law, regulation or document title")
    article: str | None = Field(default=None, description="article or section")
    issuer: str | None = None
    url: str | None = None


class Provenance(StrEnum):
    sourced = "sourced"
    constructed = "constructed"


class OrgKind(StrEnum):
    department = "department"
    township = "township"
    street = "street"
    team = "team"
    centre = "centre"
    arbiter = "arbiter"
    hotline = "hotline"
    utility = "utility"
    government = "government"
    party = "party"


class PlaceKind(StrEnum):
    village = "village"
    community = "community"


class Place(Strict):
    """A village (村) or community (社区) of a township: callers name it instead of the township."""

    name: Annotated[str, Field(min_length=2)]
    kind: PlaceKind | None = Field(default=None, description="default: community when the name ends in 社区, else village")
    code: Annotated[str, Field(pattern=r"^\d{12}$")] | None = Field(
        default=None, description="12-digit statistical division code (统计用区划代码)"
    )
    provenance: Provenance = Provenance.sourced
    source: str | None = Field(default=None, description="where the name comes from (required unless constructed)")

    @model_validator(mode="after")
    def _kind_and_source(self) -> Place:
        if self.kind is None:
            kind = PlaceKind.community if self.name.endswith("社区") else PlaceKind.village
            object.__setattr__(self, "kind", kind)
        if self.provenance is Provenance.sourced and not self.source:
            raise ValueError("a sourced place needs `source` (or `provenance: constructed`)")
        return self


class Organization(Dated):
    """A county body, township or street, team or utility."""

    id: Id
    name: str
    name_en: str | None = None
    short_name: str | None = None
    kind: OrgKind
    parent: Id | None = Field(default=None, description="the body this one belongs to")
    enforcement_team: Id | None = Field(
        default=None, description="for townships: the id of its comprehensive enforcement team"
    )
    serves: tuple[Id, ...] = Field(
        default=(), description="for 1+X hubs: neighbouring townships its team also serves"
    )
    successor: Id | None = Field(
        default=None, description="the body that takes over when this one ends (机构改革)"
    )
    note: str | None = None
    aliases: tuple[Annotated[str, Field(min_length=2)], ...] = Field(
        default=(), description="for townships: other names callers use (short name, former names of merged units)"
    )
    places: tuple[Place, ...] = Field(default=(), description="for townships: its villages and communities")

    @model_validator(mode="after")
    def _places_only_for_townships(self) -> Organization:
        if (self.places or self.aliases) and not self.is_township:
            raise ValueError("only townships and streets have `aliases` and `places`")
        return self

    @property
    def is_township(self) -> bool:
        return self.kind in (OrgKind.township, OrgKind.street)


class AttributeType(StrEnum):
    enum = "enum"
    bool = "bool"
    int = "int"
    number = "number"
    township = "township"


Cue = Annotated[str, Field(min_length=1, max_length=20)]


class AllowedValue(Strict):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    name: str
    name_en: str | None = None
    cues: tuple[Cue, ...] = Field(default=(), description="words in a ticket text that indicate this value")


class Attribute(Strict):
    """One word of the case vocabulary that rules may test."""

    id: AttributeId
    name: str
    name_en: str | None = None
    type: AttributeType
    values: tuple[AllowedValue, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: Scalar | None = Field(
        default=None, description="value assumed when a case does not give the attribute"
    )
    description: str | None = None
    cues: dict[str, tuple[Cue, ...]] = Field(
        default_factory=dict,
        description='for bool and int attributes: value ("true", "false", "3") → words that indicate it',
    )

    @model_validator(mode="after")
    def _values_match_type(self) -> Attribute:
        if self.type is AttributeType.enum and not self.values:
            raise ValueError("an enum attribute needs at least one allowed value")
        if self.type is not AttributeType.enum and self.values:
            raise ValueError("only enum attributes list allowed values")
        ids = [v.id for v in self.values]
        if len(ids) != len(set(ids)):
            raise ValueError("allowed values must be unique")
        if self.id in DERIVED_FACTS:
            raise ValueError(f"`{self.id}` is reserved for a fact the engine derives")
        self._check_cues()
        return self

    def _check_cues(self) -> None:
        if not self.cues:
            return
        if self.type is AttributeType.enum:
            raise ValueError("an enum attribute lists cues on each allowed value, not under `cues`")
        if self.type is AttributeType.township:
            raise ValueError("a township attribute has no cues: places name townships")
        for key in self.cues:
            if self.type is AttributeType.bool:
                if key not in ("true", "false"):
                    raise ValueError(f"cue key `{key}` of a bool attribute must be true or false")
                continue
            try:
                number = float(key) if self.type is AttributeType.number else int(key)
            except ValueError:
                raise ValueError(f"cue key `{key}` is not a {self.type.value}") from None
            if (self.minimum is not None and number < self.minimum) or (self.maximum is not None and number > self.maximum):
                raise ValueError(f"cue key `{key}` is outside {self.minimum}..{self.maximum}")


class Domain(Strict):
    id: Id
    name: str
    name_en: str | None = None


class Responsibility(StrEnum):
    """主体责任: who is principally responsible for a matter."""

    department = "department"
    township = "township"


TownshipKind = Literal["street", "township"]


class MatterVariant(Strict):
    """How a matter differs for one kind of township: street offices (街道) or towns (乡镇).

    Fields left out keep the matter's own value; `basis` says why the list differs.
    """

    township_kind: TownshipKind
    lead: str | None = None
    supports: tuple[str, ...] | None = None
    township_duties: tuple[str, ...] | None = None
    time_limits: dict[str, TimeLimit] | None = None
    basis: tuple[Basis, ...] = ()
    note: str | None = None


class Matter(Dated):
    """One row of the responsibility list (属地管理事项责任清单)."""

    id: Id
    name: str
    name_en: str | None = None
    domain: Id
    responsibility: Responsibility
    township_duties: tuple[str, ...] = Field(min_length=1)
    department_duties: tuple[str, ...] = ()
    lead: str = Field(description="organization id, @township or @enforcement_team")
    supports: tuple[str, ...] = ()
    time_limits: dict[str, TimeLimit] = Field(default_factory=dict)
    basis: tuple[Basis, ...] = Field(min_length=1)
    aliases: tuple[str, ...] = ()
    examples: tuple[Annotated[str, Field(min_length=4, max_length=500)], ...] = Field(
        default=(),
        description="realistic ticket texts for this matter (a citizen, a grid worker, an operator): intake learns from them",
    )
    attributes: tuple[AttributeId, ...] = Field(
        default=(), description="attributes relevant to this matter (used to enumerate cases)"
    )
    provenance: Provenance = Provenance.constructed
    source: str | None = None
    note: str | None = None
    variants: tuple[MatterVariant, ...] = Field(
        default=(), description="differences for street offices (街道) or towns (乡镇)"
    )

    @model_validator(mode="after")
    def _one_variant_per_kind(self) -> Matter:
        kinds = [v.township_kind for v in self.variants]
        if len(kinds) != len(set(kinds)):
            raise ValueError("at most one variant per township kind")
        return self

    def variant(self, township_kind: str) -> MatterVariant | None:
        """The variant for a township of that kind (`street` or `township`), if any."""
        return next((v for v in self.variants if v.township_kind == township_kind), None)


class Comparison(Strict):
    """A test on one fact. Exactly one operator must be given."""

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Scalar, ...] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_operator(self) -> Comparison:
        given = [name for name, value in self.operators() if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of eq, ne, in, not_in, gt, gte, lt, lte")
        if self.in_ is not None and not self.in_ or self.not_in is not None and not self.not_in:
            raise ValueError("`in` and `not_in` need at least one value")
        return self

    def operators(self) -> list[tuple[str, object]]:
        return [
            ("eq", self.eq),
            ("ne", self.ne),
            ("in", self.in_),
            ("not_in", self.not_in),
            ("gt", self.gt),
            ("gte", self.gte),
            ("lt", self.lt),
            ("lte", self.lte),
        ]

    @property
    def operator(self) -> tuple[str, object]:
        return next((name, value) for name, value in self.operators() if value is not None)


# A condition value: a scalar means equality, a list means "any of", a mapping is a Comparison.
Condition = Scalar | list[Scalar] | Comparison


def as_test(condition: Condition) -> Comparison:
    """Normalise the author's short forms to a Comparison."""
    if isinstance(condition, Comparison):
        return condition
    if isinstance(condition, list):
        return Comparison.model_validate({"in": tuple(condition)})
    return Comparison(eq=condition)


class RuleKind(StrEnum):
    """Specificity tiers, strongest first (see engine.lead.decide for the precedence)."""

    escalation = "escalation"
    integrated = "integrated"  # 一件事
    delegation = "delegation"  # 赋权 and 1+X
    amendment = "amendment"  # adds supports or limits, never names a lead


class Assignment(Strict):
    """What a rule does when it wins (or, for amendments, when it applies)."""

    lead: str | None = None
    supports: tuple[str, ...] = ()
    coordinator: str | None = None
    time_limits: dict[str, TimeLimit] = Field(default_factory=dict)
    township_duties: tuple[str, ...] | None = None
    notes: tuple[str, ...] = ()


class Rule(Dated):
    """An assignment rule: 一件事, delegation, escalation or amendment."""

    id: Id
    title: str
    title_en: str | None = None
    kind: RuleKind
    priority: int = Field(default=0, ge=-1000, le=1000, description="higher wins")
    when: dict[str, Condition] = Field(min_length=1)
    then: Assignment
    basis: tuple[Basis, ...] = Field(min_length=1)
    provenance: Provenance = Provenance.constructed
    source: str | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _lead_matches_kind(self) -> Rule:
        if self.kind is RuleKind.amendment and self.then.lead is not None:
            raise ValueError("an amendment rule adds to the winner; it may not name a lead")
        if self.kind is not RuleKind.amendment and self.then.lead is None:
            raise ValueError(f"a {self.kind.value} rule must name a lead")
        return self

    @field_validator("when")
    @classmethod
    def _normalise_when(cls, value: dict[str, Condition]) -> dict[str, Condition]:
        return {key: as_test(cond) for key, cond in value.items()}

    def tests(self) -> dict[str, Comparison]:
        return {key: as_test(cond) for key, cond in self.when.items()}


class Dispatch(Strict):
    """Where cases go that no rule assigns (兜底)."""

    to: Id
    time_limits: dict[str, TimeLimit] = Field(default_factory=dict)
    basis: tuple[Basis, ...] = Field(min_length=1)
    examples: tuple[Annotated[str, Field(min_length=2, max_length=500)], ...] = Field(
        default=(), description="tickets that are no matter of the list (咨询、问路、表扬): intake dispatches their like"
    )


class Disputes(Strict):
    """Who arbitrates a conflict between equal-ranked leads, and the interim rule."""

    arbiter: Id
    basis: tuple[Basis, ...] = Field(min_length=1)


class Delegation(Dated):
    """赋权: penalty powers for some matters delegated to townships' enforcement teams.

    `valid_until` is the take-back (收回) date.
    """

    id: Id
    title: str
    townships: tuple[Id, ...] = Field(min_length=1)
    matters: tuple[Id, ...] = Field(min_length=1)
    basis: tuple[Basis, ...] = Field(min_length=1)
    provenance: Provenance = Provenance.constructed
    note: str | None = None


class Recall(Dated):
    """上级部门收回事项: matters a county department has taken back from townships.

    On a township's three lists (基本 / 配合 / 收回) these matters are on the 收回 list, with
    the department that took them over (承接部门) and how the work is done now (工作方式).
    """

    id: Id
    title: str
    matters: tuple[Id, ...] = Field(min_length=1)
    townships: tuple[Id, ...] = Field(default=(), description="empty: every township of the kind")
    township_kind: TownshipKind | None = None
    receiver: Id = Field(description="承接部门: the county department that took the matters over")
    method: str = Field(description="工作方式: how the receiving department and the township work now")
    basis: tuple[Basis, ...] = Field(min_length=1)
    provenance: Provenance = Provenance.constructed
    note: str | None = None


class Override(Strict):
    """A county's change to a clause it inherits (by id), with the basis for the change.

    `set` replaces fields: for matters lead, supports, township_duties, department_duties,
    time_limits, responsibility, valid_from, valid_until; for rules lead, supports,
    coordinator, time_limits, priority, valid_from, valid_until; for delegations townships,
    matters, valid_from, valid_until. With `township_kind` (matters only) the change applies
    to street offices (街道) or towns (乡镇) only.
    """

    id: Id
    township_kind: TownshipKind | None = None
    set: dict[str, Any] = Field(min_length=1)
    basis: tuple[Basis, ...] = Field(min_length=1)
    note: str | None = None


class Removal(Strict):
    """A clause the county does not inherit, with the basis for leaving it out."""

    id: Id
    basis: tuple[Basis, ...] = Field(min_length=1)
    note: str | None = None


class Manifest(Strict):
    """`policy.yaml`: what this policy is and its fixed points (resolved over its layers)."""

    id: Id
    version: str
    title: str
    title_en: str | None = None
    jurisdiction: str
    extends: Id | None = Field(default=None, description="the layer this one extends (a sibling directory)")
    template: bool = Field(default=False, description="a layer for others to extend, never served itself")
    illustrative: bool = Field(
        default=True, description="true when built from public reporting, not an official list"
    )
    notice: str | None = None
    domains: tuple[Domain, ...] = Field(min_length=1)
    dispatch: Dispatch
    disputes: Disputes
    time_limit_labels: dict[str, str] = Field(default_factory=dict)


class LayerManifest(Strict):
    """`policy:` as written in one layer: a layer that `extends` another may leave out the
    domains, dispatch, disputes and labels it inherits."""

    id: Id
    version: str
    title: str
    title_en: str | None = None
    jurisdiction: str
    extends: Id | None = None
    template: bool = False
    illustrative: bool = True
    notice: str | None = None
    domains: tuple[Domain, ...] | None = None
    dispatch: Dispatch | None = None
    disputes: Disputes | None = None
    time_limit_labels: dict[str, str] | None = None


# --- grid task admission (事务进网格准入审查) -------------------------------------------------


class Power(StrEnum):
    """The public power a grid worker would have to exercise (grid workers hold none)."""

    none = "none"
    enforcement = "enforcement"  # 行政执法: orders, penalties, seizures
    inspection = "inspection"  # 检查考核: inspections, licence checks, assessments


class TaskKind(Strict):
    """A kind of task a department may propose to push down to the grid."""

    id: Id
    name: str
    name_en: str | None = None
    grid_function: bool = Field(description="within the grid's functions (网格职责范围内)")
    needs_training: bool = Field(default=False, description="grid workers need professional training for it")
    power: Power = Power.none
    description: str | None = None


class GridAction(Strict):
    """Something a proposal asks grid workers to do; `terms` spot it in a title or description."""

    id: Id
    name: str
    name_en: str | None = None
    power: Power = Power.none
    formalism: bool = Field(default=False, description="留痕/打卡 work that shows activity, not results (指尖上的形式主义)")
    terms: tuple[str, ...] = Field(default=(), description="phrases that reveal this action in free text")


class Channel(Strict):
    """How a task reaches grid workers."""

    id: Id
    name: str
    name_en: str | None = None
    approved: bool = Field(description="the single channel: county review and unified dispatch")


class BasisLevel(Strict):
    """The rank of a proposal's legal or policy basis."""

    id: Id
    name: str
    name_en: str | None = None
    sufficient: bool = Field(description="enough on its own to push a task to the grid")


class Frequency(Strict):
    """How often a task recurs; `per_month` is null for a one-off task."""

    id: Id
    name: str
    name_en: str | None = None
    per_month: float | None = Field(default=None, gt=0, le=31)


class EmergencyCategory(Strict):
    """An emergency that exempts a task from prior review (filing afterwards)."""

    id: Id
    name: str
    name_en: str | None = None


class GridAdmission(Strict):
    """`grid_admission:`: who reviews, the grid's size and capacity, and the proposal vocabulary."""

    reviewer: Id = Field(description="organization that reviews proposals (县级审查)")
    households_per_grid: int = Field(gt=0, le=5000, description="households in a typical grid")
    capacity_minutes_per_month: int = Field(gt=0, description="workload budget of one task per grid per month")
    filing_days: int = Field(ge=0, le=90, description="days after the start to file an emergency task afterwards")
    outcome_labels: dict[Literal["admitted", "returned", "rejected"], str] = Field(default_factory=dict)
    severity_labels: dict[Literal["reject", "return", "note"], str] = Field(default_factory=dict)
    task_kinds: tuple[TaskKind, ...] = Field(min_length=1)
    actions: tuple[GridAction, ...] = ()
    channels: tuple[Channel, ...] = Field(min_length=1)
    basis_levels: tuple[BasisLevel, ...] = Field(min_length=1)
    frequencies: tuple[Frequency, ...] = Field(min_length=1)
    emergency_categories: tuple[EmergencyCategory, ...] = ()
    basis: tuple[Basis, ...] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> GridAdmission:
        for name in ("task_kinds", "actions", "channels", "basis_levels", "frequencies", "emergency_categories"):
            ids = [item.id for item in getattr(self, name)]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"`{name}` lists {', '.join(duplicates)} more than once")
        return self


class CatalogueEntry(Strict):
    """Where the grid's shared table (一表通) already holds a field."""

    table: str = Field(description="一表通 sub-table, e.g. 人口信息")
    source: str | None = Field(default=None, description="who maintains it")


class GridField(Strict):
    """One data field a task may collect; with `catalogue` it is already in 一表通."""

    id: Id
    name: str
    name_en: str | None = None
    subject: Literal["person", "house", "enterprise", "event"]
    catalogue: CatalogueEntry | None = None
    aliases: tuple[str, ...] = ()


class CriterionSeverity(StrEnum):
    reject = "reject"  # 不予准入
    return_ = "return"  # 退回修改 (fix and resubmit)
    note = "note"  # 提示


class GridCriterion(Dated):
    """An admission criterion: when its conditions hold on a proposal's facts, it finds."""

    id: Id
    title: str
    title_en: str | None = None
    severity: CriterionSeverity
    when: dict[str, Condition] = Field(min_length=1, description="tests on the proposal's derived facts")
    message: str = Field(description="zh message; {fact} placeholders are filled in")
    basis: tuple[Basis, ...] = Field(min_length=1)
    provenance: Provenance = Provenance.constructed
    source: str | None = None

    @field_validator("when")
    @classmethod
    def _normalise_when(cls, value: dict[str, Condition]) -> dict[str, Condition]:
        return {key: as_test(cond) for key, cond in value.items()}

    def tests(self) -> dict[str, Comparison]:
        return {key: as_test(cond) for key, cond in self.when.items()}


# --- the official calendar (放假调休安排) ---------------------------------------------------


class HolidaySpan(Strict):
    """Days off in a row (放假), weekends inside the span included."""

    name: str
    from_: date = Field(alias="from")
    to: date

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> HolidaySpan:
        if self.to < self.from_:
            raise ValueError("`to` must not be earlier than `from`")
        return self


class SwappedWorkday(Strict):
    """A weekend day that is a working day (调休上班) in exchange for a holiday."""

    date: date
    for_: str = Field(alias="for", description="the holiday it is swapped for")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CalendarYear(Strict):
    """One year's schedule, as the State Council General Office's notice gives it."""

    year: int = Field(ge=1949, le=2200)
    notice: str | None = None
    holidays: tuple[HolidaySpan, ...] = ()
    workdays: tuple[SwappedWorkday, ...] = ()


class Calendar(Strict):
    """`calendar:`: which days are working days, year by year; Monday–Friday past the last year."""

    id: Id
    name: str
    name_en: str | None = None
    timezone: str = Field(default="Asia/Shanghai", pattern=r"^Asia/Shanghai$", description="China time (UTC+8, no DST)")
    basis: tuple[Basis, ...] = Field(min_length=1)
    source: str | None = None
    years: tuple[CalendarYear, ...] = Field(min_length=1)


# --- the case lifecycle (吹哨报到 → 签收 → 报到 → 办结) ---------------------------------------


class Role(StrEnum):
    """Who may act on a case, relative to the case."""

    lead = "lead"  # 牵头部门 named by the decision (or the ruling)
    support = "support"  # 协同部门
    township = "township"  # 属地乡镇(街道), who blew the whistle
    centre = "centre"  # the county social governance centre (policy.dispatch.to)
    arbiter = "arbiter"  # 编办 (policy.disputes.arbiter)


class LifecycleState(Strict):
    id: Id
    name: str
    name_en: str | None = None
    final: bool = Field(default=False, description="the case is finished here (reopen may still leave it)")
    description: str | None = None


class Transition(Strict):
    """An event that moves a case `from` one of some states `to` another (`to` omitted: it stays)."""

    event: Id
    name: str
    name_en: str | None = None
    from_: tuple[Id, ...] = Field(alias="from", min_length=1)
    to: Id | None = None
    by: tuple[Role, ...] = Field(min_length=1)
    reason_required: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ClockSpec(Strict):
    """A time limit that runs while the case is in `runs_in` (it starts on entering the first)."""

    limit: Id = Field(description="a time-limit key of the decisions (sign, contact, report_in, handle …)")
    runs_in: tuple[Id, ...] = Field(min_length=1)
    default: TimeLimit | None = Field(default=None, description="used when the decision names no such limit")


class ReturnReason(Strict):
    """A valid reason to return a case (退单)."""

    id: Id
    name: str
    name_en: str | None = None
    description: str | None = None


class Escalation(Strict):
    """What follows an overdue limit: 催办 the next working day, 通报 later."""

    id: Id
    name: str
    after_due: TimeLimit


class Extensions(Strict):
    """Which limits may be extended (申请延期, only before they are due), and how often."""

    limits: tuple[Id, ...] = Field(min_length=1)
    max_times: int = Field(default=1, ge=1, le=10, description="per limit and case")


class Lifecycle(Strict):
    """`lifecycle:`: states, transitions, who acts, clocks, return reasons, warnings."""

    id: Id
    name: str
    name_en: str | None = None
    initial: Id
    opened_by: tuple[Role, ...] = Field(default=(Role.township, Role.centre), min_length=1)
    states: tuple[LifecycleState, ...] = Field(min_length=1)
    transitions: tuple[Transition, ...] = Field(min_length=1)
    clocks: tuple[ClockSpec, ...] = ()
    return_reasons: tuple[ReturnReason, ...] = ()
    warn_at: float = Field(default=0.8, gt=0, lt=1, description="share of a limit after which it shows amber")
    escalations: tuple[Escalation, ...] = ()
    extensions: Extensions | None = None
    basis: tuple[Basis, ...] = Field(min_length=1)
    note: str | None = None

    @model_validator(mode="after")
    def _unique(self) -> Lifecycle:
        for name, ids in (
            ("states", [s.id for s in self.states]),
            ("clocks", [c.limit for c in self.clocks]),
            ("return_reasons", [r.id for r in self.return_reasons]),
            ("escalations", [e.id for e in self.escalations]),
        ):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise ValueError(f"`{name}` lists {', '.join(duplicates)} more than once")
        seen: set[tuple[str, str]] = set()
        for t in self.transitions:
            for state in t.from_:
                if (t.event, state) in seen:
                    raise ValueError(f"event `{t.event}` has two transitions from `{state}`")
                seen.add((t.event, state))
        return self


class PolicyFile(Strict):
    """One YAML file under policy/: any subset of the sections below."""

    schema_: str | None = Field(default=None, alias="$schema")
    policy: LayerManifest | None = None
    organizations: tuple[Organization, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    matters: tuple[Matter, ...] = ()
    rules: tuple[Rule, ...] = ()
    delegations: tuple[Delegation, ...] = ()
    grid_admission: GridAdmission | None = None
    grid_fields: tuple[GridField, ...] = ()
    grid_criteria: tuple[GridCriterion, ...] = ()
    lifecycle: Lifecycle | None = None
    calendar: Calendar | None = None
    recalls: tuple[Recall, ...] = ()
    overrides: tuple[Override, ...] = ()
    removals: tuple[Removal, ...] = ()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


SectionName = Literal[
    "organizations", "attributes", "matters", "rules", "delegations", "grid_fields", "grid_criteria", "recalls"
]
SECTIONS: tuple[SectionName, ...] = (
    "organizations", "attributes", "matters", "rules", "delegations", "grid_fields", "grid_criteria", "recalls"
)
