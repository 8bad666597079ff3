"""Grid task admission review (事务进网格准入审查): a proposal in, a frozen `Review` out.

The contract:
1. The proposal is checked against the policy's vocabulary (engine.policy.grid): an unknown kind,
   organization, data field, action, channel, frequency, basis level or emergency category
   is a `ProposalError` naming the field, never a silent non-match.
2. Python derives scalar facts (duration_days, minutes_per_grid_month, duplicate_field_count,
   …; see `engine.policy.grid.FACTS`). durable_rules evaluates every criterion on them, as facts, so
   every criterion that holds is reported.
3. Outcome: any `reject` finding → rejected; else any `return` → returned; else admitted.
   Findings are ordered reject, return, note, then as the policy lists the criteria.
4. `reuse` names every requested field the grid's shared table (一表通) already holds,
   whichever criteria exist.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal, TypeVar

from engine.errors import CompileError, ErrorCode, ProposalError
from engine.policy.grid import GridPolicy, grid_of
from engine.policy.index import Policy
from engine.policy.model import Basis, GridCriterion, Power, Scalar
from engine.policy.validate import suggest
from engine.rules.compile import GUARD, MAX_SIBLINGS, CompiledPolicy, compile_test, date_number

CRITERIA_SHARD = "grid_criteria"
CRITERION_PREFIX = "criterion."

ReviewOutcome = Literal["admitted", "returned", "rejected"]
SEVERITY_ORDER = ("reject", "return", "note")
FireCriteria = Callable[[dict[str, Any]], list[str]]


@dataclass(frozen=True)
class BasisRef:
    """A legal or policy basis the proposing department cites, with its rank."""

    document: str
    level: str
    article: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"document": self.document, "level": self.level}
        if self.article:
            out["article"] = self.article
        return out


@dataclass(frozen=True)
class Proposal:
    """A task a department wants to push down to grid workers. `as_of` is required: no clock."""

    title: str
    requester: str
    kind: str
    start_date: date
    frequency: str
    minutes_per_household: float
    channel: str
    as_of: date
    basis: tuple[BasisRef, ...] = ()
    funding: bool = False
    training: bool = False
    end_date: date | None = None
    households: int | None = None
    minutes_per_grid: float = 0
    fields: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    assesses_grid_workers: bool = False
    emergency: bool = False
    emergency_category: str | None = None
    description: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class ReviewFinding:
    """One criterion that held: its id, severity, zh message and basis."""

    criterion: str
    title: str
    severity: str
    message: str
    basis: tuple[Basis, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "title": self.title,
            "severity": self.severity,
            "message": self.message,
            "basis": [b.model_dump(exclude_none=True) for b in self.basis],
        }


@dataclass(frozen=True)
class Reuse:
    """A requested field the shared table already holds: reuse it instead of collecting."""

    field: str
    name: str
    table: str
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "name": self.name, "table": self.table, "source": self.source}


@dataclass(frozen=True)
class Review:
    """The admission decision on one proposal, with every finding. Never mutated."""

    outcome: ReviewOutcome
    outcome_label: str
    findings: tuple[ReviewFinding, ...]
    reuse: tuple[Reuse, ...]
    task: Mapping[str, Any]
    facts: Mapping[str, Scalar]
    policy: Mapping[str, str]
    as_of: date
    filing_due: date | None = None
    fired: tuple[str, ...] = ()
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The canonical serialisation: the API body (plus review_id), logs and replays."""
        return {
            "outcome": self.outcome,
            "outcome_label": self.outcome_label,
            "findings": [f.to_dict() for f in self.findings],
            "reuse": [r.to_dict() for r in self.reuse],
            "task": dict(self.task),
            "facts": dict(self.facts),
            "filing_due": self.filing_due.isoformat() if self.filing_due else None,
            "fired": list(self.fired),
            "policy": dict(self.policy),
            "as_of": self.as_of.isoformat(),
            "reference": self.reference,
        }


# --- compile -----------------------------------------------------------------------------


def compile_criteria(policy: Policy) -> CompiledPolicy | None:
    """The criteria as one durable_rules ruleset (shard `grid_criteria`); None without a chapter.

    Each criterion is a flat `$and` of the guard, its tests and its dates, with only the
    whitelisted operators `engine.rules.compile.compile_test` emits.
    """
    grid = grid_of(policy)
    if grid is None or not grid.criteria:
        return None
    rules: dict[str, dict[str, Any]] = {}
    clause_of: dict[str, str] = {}
    for criterion in grid.criteria:
        terms = [compile_test(key, test) for key, test in sorted(criterion.tests().items())]
        if criterion.valid_from is not None:
            terms.append({"$gte": {"as_of": date_number(criterion.valid_from)}})
        if criterion.valid_until is not None:
            terms.append({"$lt": {"as_of": date_number(criterion.valid_until)}})
        name = CRITERION_PREFIX + criterion.id
        rules[name] = {"all": [{"m": {"$and": [GUARD, *terms]}}]}
        clause_of[name] = criterion.id
    firsts = {repr(r["all"][0]["m"]["$and"][1]) for r in rules.values()}
    if len(firsts) > MAX_SIBLINGS:
        raise CompileError(f"{len(firsts)} distinct first tests among the grid criteria; the engine hangs above 512")
    return CompiledPolicy(policy, {CRITERIA_SHARD: rules}, {}, clause_of)


# --- check the proposal against the vocabulary ----------------------------------------------

T = TypeVar("T")


def _named(items: Mapping[str, T], value: str) -> str | None:
    """The id of the item whose zh or English name (or alias) is `value`."""
    for item_id, item in items.items():
        names = (getattr(item, "name", None), getattr(item, "name_en", None), *getattr(item, "aliases", ()))
        if value in names:
            return item_id
    return None


def _lookup(items: Mapping[str, T], value: str, code: str, what: str, where: str) -> T:
    if value in items:
        return items[value]
    by_name = _named(items, value)
    hint = (
        f"use the id `{by_name}` for {value}"
        if by_name
        else suggest(value, items) or f"allowed: {', '.join(items)}"
    )
    raise ProposalError(code, f"unknown {what} `{value}`", where, hint)


def require_grid(policy: Policy) -> GridPolicy:
    grid = grid_of(policy)
    if grid is None:
        raise ProposalError(
            ErrorCode.NO_GRID_ADMISSION,
            f"policy `{policy.id}` has no grid admission chapter",
            None,
            "add grid_admission, grid_fields and grid_criteria under policy/grid/",
        )
    return grid


def check_proposal(policy: Policy, grid: GridPolicy, proposal: Proposal) -> None:
    """Raise ProposalError for anything in the proposal the policy does not know."""
    if not proposal.title.strip():
        raise ProposalError(ErrorCode.MISSING_FIELD, "the task needs a title", "title")
    if proposal.requester not in policy.organizations:
        by_name = _named(policy.organizations, proposal.requester)
        short = next((o.id for o in policy.organizations.values() if o.short_name == proposal.requester), None)
        found = by_name or short
        raise ProposalError(
            ErrorCode.UNKNOWN_ORGANIZATION,
            f"unknown organization `{proposal.requester}`",
            "requester",
            f"use the id `{found}` for {proposal.requester}"
            if found
            else suggest(proposal.requester, policy.organizations) or "list them with GET /v1/organizations",
        )
    _lookup(grid.kinds, proposal.kind, ErrorCode.UNKNOWN_TASK_KIND, "task kind", "kind")
    _lookup(grid.frequencies, proposal.frequency, ErrorCode.UNKNOWN_FREQUENCY, "frequency", "frequency")
    _lookup(grid.channels, proposal.channel, ErrorCode.UNKNOWN_CHANNEL, "channel", "channel")
    for i, basis in enumerate(proposal.basis):
        _lookup(grid.basis_levels, basis.level, ErrorCode.UNKNOWN_BASIS_LEVEL, "basis level", f"basis.{i}.level")
    for i, field_id in enumerate(proposal.fields):
        _lookup(grid.fields, field_id, ErrorCode.UNKNOWN_DATA_FIELD, "data field", f"fields.{i}")
    for i, action_id in enumerate(proposal.actions):
        _lookup(grid.actions, action_id, ErrorCode.UNKNOWN_ACTION, "action", f"actions.{i}")
    if proposal.emergency_category is not None:
        if not proposal.emergency:
            raise ProposalError(
                ErrorCode.INCONSISTENT_EMERGENCY,
                "an emergency category is given but `emergency` is false",
                "emergency",
                "set emergency to true, or drop emergency_category",
            )
        _lookup(grid.emergency_categories, proposal.emergency_category, ErrorCode.UNKNOWN_EMERGENCY_CATEGORY,
                "emergency category", "emergency_category")
    elif proposal.emergency:
        raise ProposalError(
            ErrorCode.MISSING_EMERGENCY_CATEGORY,
            "an emergency task must say which emergency exempts it",
            "emergency_category",
            f"allowed: {', '.join(grid.emergency_categories)}",
        )
    if proposal.end_date is not None and proposal.end_date < proposal.start_date:
        raise ProposalError(ErrorCode.INVALID_DATES, "end_date is before start_date", "end_date")
    for name in ("minutes_per_household", "minutes_per_grid"):
        value = getattr(proposal, name)
        if not math.isfinite(value) or value < 0:
            raise ProposalError(ErrorCode.VALUE_OUT_OF_RANGE, f"`{name}` must be a finite number ≥ 0", name)
    if proposal.households is not None and proposal.households <= 0:
        raise ProposalError(ErrorCode.VALUE_OUT_OF_RANGE, "`households` must be at least 1", "households")


# --- derive the facts ---------------------------------------------------------------------


@dataclass(frozen=True)
class Derived:
    """What the engine sees (`facts`), what messages may say (`context`) and what to reuse."""

    facts: dict[str, Scalar]
    context: dict[str, Any]
    reuse: tuple[Reuse, ...]
    filing_due: date | None = None
    task: dict[str, Any] = field(default_factory=dict)


def _unique(ids: tuple[str, ...]) -> list[str]:
    return list(dict.fromkeys(ids))


def derive(policy: Policy, grid: GridPolicy, proposal: Proposal) -> Derived:
    """The scalar facts of a checked proposal and the display strings its messages use."""
    settings = grid.settings
    kind = grid.kinds[proposal.kind]
    frequency = grid.frequencies[proposal.frequency]
    channel = grid.channels[proposal.channel]
    requester = policy.organizations[proposal.requester]
    reviewer = policy.resolve_org(settings.reviewer, proposal.as_of).org

    levels = [grid.basis_levels[b.level] for b in proposal.basis]

    duration = (proposal.end_date - proposal.start_date).days + 1 if proposal.end_date else None
    households = proposal.households or settings.households_per_grid
    per_time = households * proposal.minutes_per_household + proposal.minutes_per_grid
    if frequency.per_month is None:
        # A one-off task: its whole load falls in one month unless it is spread over longer.
        per_month = 30 / max(30, duration) if duration else 1.0
    elif duration is not None and duration < 30:
        # A recurring task shorter than a month recurs only while it lasts (at least once).
        per_month = max(1.0, frequency.per_month * duration / 30)
    else:
        per_month = frequency.per_month
    minutes = math.ceil(round(per_time * per_month, 6))
    used_pct = math.ceil(round(100 * minutes / settings.capacity_minutes_per_month, 6))

    fields = [grid.fields[f] for f in _unique(proposal.fields)]
    held = [f for f in fields if f.catalogue is not None]
    new = [f for f in fields if f.catalogue is None]

    # Declared actions, plus actions the title or description reveals (e.g. "下达整改通知").
    text = f"{proposal.title}\n{proposal.description or ''}"
    declared = set(proposal.actions)
    acts: list[str] = []
    power: list[str] = []
    formalism: list[str] = []
    if kind.power is not Power.none:
        power.append(f"承担“{kind.name}”")
    for action in grid.actions.values():
        if action.id in declared:
            label = action.name
        else:
            term = next((t for t in action.terms if t in text), None)
            if term is None:
                continue
            label = f"{action.name}(据“{term}”)"
        acts.append(action.id)
        if action.power is not Power.none:
            power.append(label)
        if action.formalism:
            formalism.append(label)

    facts: dict[str, Scalar] = {
        "kind": kind.id,
        "kind_in_grid_functions": kind.grid_function,
        "kind_needs_training": kind.needs_training,
        "requester_kind": requester.kind.value,
        "basis_count": len(proposal.basis),
        "basis_sufficient": any(level.sufficient for level in levels),
        "funding": proposal.funding,
        "training": proposal.training,
        "has_end_date": duration is not None,
        "frequency": frequency.id,
        "households": households,
        "minutes_per_grid_month": minutes,
        "capacity_used_pct": used_pct,
        "field_count": len(fields),
        "duplicate_field_count": len(held),
        "new_field_count": len(new),
        "power_action_count": len(power),
        "formalism_action_count": len(formalism),
        "channel": channel.id,
        "channel_approved": channel.approved,
        "assesses_grid_workers": proposal.assesses_grid_workers,
        "emergency": proposal.emergency,
    }
    if duration is not None:
        facts["duration_days"] = duration
    category = grid.emergency_categories.get(proposal.emergency_category or "")
    if proposal.emergency and category is not None:
        facts["emergency_category"] = category.id
    filing_due = proposal.start_date + timedelta(days=settings.filing_days) if proposal.emergency else None

    context: dict[str, Any] = {
        **facts,
        "title": proposal.title,
        "kind_name": kind.name,
        "requester_name": requester.name,
        "channel_name": channel.name,
        "frequency_name": frequency.name,
        "emergency_category_name": category.name if category else "",
        "basis_levels": "、".join(level.name for level in levels) or "无",
        "power_actions": "、".join(power),
        "formalism_actions": "、".join(formalism),
        "duplicate_fields": "、".join(f.name for f in held),
        "new_fields": "、".join(f.name for f in new),
        "filing_due": filing_due.isoformat() if filing_due else "",
        "filing_days": settings.filing_days,
        "reviewer_name": reviewer.name,
        "capacity_minutes_per_month": settings.capacity_minutes_per_month,
        "households_per_grid": settings.households_per_grid,
        "approved_channels": "、".join(c.name for c in grid.channels.values() if c.approved),
    }
    reuse = tuple(Reuse(f.id, f.name, f.catalogue.table, f.catalogue.source) for f in held if f.catalogue)
    task = {
        "title": proposal.title,
        "requester": {"id": requester.id, "name": requester.name},
        "kind": {"id": kind.id, "name": kind.name},
        "start_date": proposal.start_date.isoformat(),
        "end_date": proposal.end_date.isoformat() if proposal.end_date else None,
        "actions": acts,
    }
    return Derived(facts, context, reuse, filing_due, task)


class _Context(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "—"  # a fact that does not apply (e.g. duration_days without an end date)


def render(criterion: GridCriterion, context: Mapping[str, Any]) -> str:
    """The criterion's message with its placeholders filled in."""
    try:
        return criterion.message.format_map(_Context(context))
    except (ValueError, IndexError, AttributeError):
        return criterion.message  # the checker rejects bad templates; never fail a review on one


# --- review -------------------------------------------------------------------------------


def review(proposal: Proposal, policy: Policy, fire: FireCriteria) -> Review:
    """Review one proposal. `fire` asserts the facts on the criteria ruleset and returns
    the names of the rules that fired (Runtime binds it to the active registration).
    """
    grid = require_grid(policy)
    check_proposal(policy, grid, proposal)
    derived = derive(policy, grid, proposal)
    fact: dict[str, Any] = {**derived.facts, "as_of": date_number(proposal.as_of)}
    fired_ids = {name.removeprefix(CRITERION_PREFIX) for name in fire(fact)}
    position = {c.id: i for i, c in enumerate(grid.criteria)}
    hits = [c for c in grid.criteria if c.id in fired_ids]
    hits.sort(key=lambda c: (SEVERITY_ORDER.index(c.severity.value), position[c.id]))
    findings = tuple(
        ReviewFinding(c.id, c.title, c.severity.value, render(c, derived.context), c.basis) for c in hits
    )
    severities = {f.severity for f in findings}
    outcome: ReviewOutcome = "rejected" if "reject" in severities else "returned" if "return" in severities else "admitted"
    return Review(
        outcome=outcome,
        outcome_label=grid.settings.outcome_labels.get(outcome, outcome),
        findings=findings,
        reuse=derived.reuse,
        task=derived.task,
        facts=derived.facts,
        policy={"id": policy.id, "version": policy.version, "digest": policy.digest},
        as_of=proposal.as_of,
        filing_due=derived.filing_due,
        fired=tuple(c.id for c in grid.criteria if c.id in fired_ids),
        reference=proposal.reference,
    )
