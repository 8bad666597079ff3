"""The grid admission chapter (事务进网格准入审查) of a loaded policy.

`policy/grid/` holds three sections: `grid_admission` (who reviews, grid size and capacity,
and the proposal vocabulary: task kinds, actions, channels, basis levels, frequencies,
emergency categories), `grid_fields` (every data field a task may collect; those with a
`catalogue` entry are already held by the grid's shared table, 一表通) and `grid_criteria`
(the admission criteria, each a set of tests on the facts `engine.admission.review` derives from a
proposal). This module indexes them, declares those facts, and checks the chapter's
cross-references; `engine.admission.review` evaluates it.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from engine.errors import Finding
from engine.policy.model import (
    BasisLevel,
    Channel,
    Comparison,
    EmergencyCategory,
    Frequency,
    GridAction,
    GridAdmission,
    GridCriterion,
    GridField,
    OrgKind,
    PolicyFile,
    TaskKind,
)
from engine.policy.validate import suggest

if TYPE_CHECKING:
    from engine.policy.index import Policy

EXTENSION = "grid"  # key of the chapter in Policy.extensions


@dataclass(frozen=True)
class GridPolicy:
    """The grid admission chapter, indexed by id. Built only by `grid_from_files`."""

    settings: GridAdmission
    fields: Mapping[str, GridField]
    criteria: tuple[GridCriterion, ...]
    settings_file: str
    kinds: Mapping[str, TaskKind]
    actions: Mapping[str, GridAction]
    channels: Mapping[str, Channel]
    basis_levels: Mapping[str, BasisLevel]
    frequencies: Mapping[str, Frequency]
    emergency_categories: Mapping[str, EmergencyCategory]

    @classmethod
    def build(
        cls, settings: GridAdmission, settings_file: str, fields: Iterable[GridField], criteria: Iterable[GridCriterion]
    ) -> GridPolicy:
        return cls(
            settings=settings,
            fields={f.id: f for f in fields},
            criteria=tuple(criteria),
            settings_file=settings_file,
            kinds={k.id: k for k in settings.task_kinds},
            actions={a.id: a for a in settings.actions},
            channels={c.id: c for c in settings.channels},
            basis_levels={b.id: b for b in settings.basis_levels},
            frequencies={f.id: f for f in settings.frequencies},
            emergency_categories={e.id: e for e in settings.emergency_categories},
        )


def grid_of(policy: Policy) -> GridPolicy | None:
    """The policy's grid admission chapter, or None when the policy has none."""
    grid = policy.extensions.get(EXTENSION)
    return grid if isinstance(grid, GridPolicy) else None


# --- the facts criteria may test -----------------------------------------------------------

FactType = Literal["bool", "int", "enum"]


@dataclass(frozen=True)
class FactSpec:
    """A fact `engine.admission.review` derives from every proposal: its type, meaning and (enum) values."""

    type: FactType
    label: str
    values: Callable[[GridPolicy], Iterable[str]] | None = None


FACTS: dict[str, FactSpec] = {
    "kind": FactSpec("enum", "任务类型", lambda g: g.kinds),
    "kind_in_grid_functions": FactSpec("bool", "任务类型属于网格职责范围"),
    "kind_needs_training": FactSpec("bool", "任务类型需要专业培训"),
    "requester_kind": FactSpec("enum", "申请单位类别", lambda _: [k.value for k in OrgKind]),
    "basis_count": FactSpec("int", "所附依据数量"),
    "basis_sufficient": FactSpec("bool", "有法律法规或县级以上文件依据"),
    "funding": FactSpec("bool", "经费随事转"),
    "training": FactSpec("bool", "提供业务培训"),
    "has_end_date": FactSpec("bool", "有截止日期"),
    "duration_days": FactSpec("int", "持续天数(含首尾; 无截止日期时不存在)"),
    "frequency": FactSpec("enum", "频次", lambda g: g.frequencies),
    "households": FactSpec("int", "每网格涉及户数"),
    "minutes_per_grid_month": FactSpec("int", "每网格每月预计用时(分钟)"),
    "capacity_used_pct": FactSpec("int", "占单项任务容量的百分比"),
    "field_count": FactSpec("int", "采集字段数"),
    "duplicate_field_count": FactSpec("int", "一表通已有的采集字段数"),
    "new_field_count": FactSpec("int", "一表通尚无的采集字段数"),
    "power_action_count": FactSpec("int", "需行使执法或检查权的事项数"),
    "formalism_action_count": FactSpec("int", "打卡留痕类事项数"),
    "channel": FactSpec("enum", "派发渠道", lambda g: g.channels),
    "channel_approved": FactSpec("bool", "经县级统一渠道派发"),
    "assesses_grid_workers": FactSpec("bool", "申请部门单独考核、排名网格员"),
    "emergency": FactSpec("bool", "紧急事项"),
    "emergency_category": FactSpec("enum", "紧急情形类别(仅紧急事项)", lambda g: g.emergency_categories),
}

# Names a criterion's message may use besides the facts: display strings built by engine.admission.review.
MESSAGE_NAMES: tuple[str, ...] = (
    "title",
    "kind_name",
    "requester_name",
    "channel_name",
    "frequency_name",
    "emergency_category_name",
    "basis_levels",
    "power_actions",
    "formalism_actions",
    "duplicate_fields",
    "new_fields",
    "filing_due",
    "filing_days",
    "reviewer_name",
    "capacity_minutes_per_month",
    "households_per_grid",
    "approved_channels",
)


# --- building and checking the chapter -----------------------------------------------------


def grid_from_files(parsed: Sequence[tuple[str, PolicyFile]]) -> tuple[GridPolicy | None, list[Finding]]:
    """Assemble the chapter from parsed files; None when no file has any grid section."""
    settings = [(name, m.grid_admission) for name, m in parsed if m.grid_admission is not None]
    fields = [f for _, m in parsed for f in m.grid_fields]
    criteria = [c for _, m in parsed for c in m.grid_criteria]
    if not settings and not fields and not criteria:
        return None, []
    if len(settings) != 1:
        where = ", ".join(name for name, _ in settings) or "no file"
        return None, [
            Finding(
                "grid_admission",
                f"exactly one file must hold the `grid_admission:` section when grid fields or criteria exist, found it in {where}",
                hint="put it in grid/admission.yaml",
            )
        ]
    name, section = settings[0]
    assert section is not None
    return GridPolicy.build(section, name, fields, criteria), []


def validate_grid(policy: Policy) -> list[Finding]:
    """Cross-references of the chapter: reviewer, criteria facts and values, message names."""
    grid = grid_of(policy)
    return [] if grid is None else list(_grid_findings(policy, grid))


def _grid_findings(policy: Policy, grid: GridPolicy) -> Iterator[Finding]:
    reviewer = grid.settings.reviewer
    if reviewer not in policy.organizations:
        yield Finding(
            "unknown_organization",
            f"`grid_admission.reviewer` names unknown organization `{reviewer}`",
            grid.settings_file,
            hint=suggest(reviewer, policy.organizations),
        )
    if not any(c.approved for c in grid.channels.values()):
        yield Finding("no_approved_channel", "no channel is `approved`: every proposal would fail", grid.settings_file)
    for criterion in grid.criteria:
        loc = policy.where("grid_criteria", criterion.id)
        problems = [p for key, test in criterion.tests().items() for p in check_fact_test(grid, key, test)]
        problems += message_problems(criterion.message)
        for code, message, hint in problems:
            yield Finding(code, message, loc.file, loc.line, criterion.id, hint=hint)


Problem = tuple[str, str, str | None]  # code, message, hint


def message_problems(message: str) -> list[Problem]:
    """A criterion message may only use `{name}` placeholders engine.admission.review fills in."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(message) if f is not None}
    except ValueError as exc:
        return [("bad_message", f"message is not a valid template: {exc}", "write literal braces as {{ and }}")]
    known = [*FACTS, *MESSAGE_NAMES]
    return [
        ("unknown_placeholder", f"message uses unknown name `{{{name}}}`", suggest(name, known))
        for name in sorted(names)
        if name not in known
    ]


def check_fact_test(grid: GridPolicy, key: str, test: Comparison) -> Iterator[Problem]:
    """Problems with one criterion test: (code, message, hint) for each."""
    spec = FACTS.get(key)
    if spec is None:
        yield "unknown_fact", f"condition on unknown fact `{key}`", suggest(key, FACTS) or "see FACTS in engine/policy/grid.py"
        return
    op, value = test.operator
    values: tuple[object, ...] = tuple(value) if isinstance(value, tuple) else (value,)
    numeric = op in ("gt", "gte", "lt", "lte")
    if spec.type == "int":
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            yield "wrong_type", f"condition on `{key}` must compare numbers", None
        return
    if numeric:
        yield "wrong_operator", f"`{op}` compares numbers but `{key}` is not numeric", None
        return
    if spec.type == "bool":
        if not all(isinstance(v, bool) for v in values):
            yield "wrong_type", f"condition on `{key}` must be true or false", None
        return
    allowed = [str(v) for v in spec.values(grid)] if spec.values else []
    for v in values:
        if not isinstance(v, str) or v not in allowed:
            yield "value_not_allowed", f"`{v}` is not an allowed value of `{key}`", suggest(str(v), allowed)
