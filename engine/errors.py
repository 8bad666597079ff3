"""Typed errors raised by the engine. api/http/errors.py maps each to one HTTP status and code."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Every error code a caller can see, in one registry: `{"error": {"code": …}}` on the wire.

    Codes are stable API: add new ones, never rename one. The engine raises them (CaseError,
    ProposalError); api/http/errors.py maps the other engine errors and HTTP failures to them.
    """

    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    MALFORMED_JSON = "malformed_json"
    WRONG_TYPE = "wrong_type"
    TOO_LONG = "too_long"
    TOO_SHORT = "too_short"
    TOO_MANY_ITEMS = "too_many_items"
    INVALID_DATE = "invalid_date"
    INVALID_VALUE = "invalid_value"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    VALUE_NOT_ALLOWED = "value_not_allowed"
    UNKNOWN_MATTER = "unknown_matter"
    UNKNOWN_TOWNSHIP = "unknown_township"
    UNKNOWN_ATTRIBUTE = "unknown_attribute"
    UNKNOWN_DOMAIN = "unknown_domain"
    UNKNOWN_ORGANIZATION = "unknown_organization"
    UNKNOWN_TASK_KIND = "unknown_task_kind"
    UNKNOWN_FREQUENCY = "unknown_frequency"
    UNKNOWN_CHANNEL = "unknown_channel"
    UNKNOWN_BASIS_LEVEL = "unknown_basis_level"
    UNKNOWN_DATA_FIELD = "unknown_data_field"
    UNKNOWN_ACTION = "unknown_action"
    UNKNOWN_EMERGENCY_CATEGORY = "unknown_emergency_category"
    MISSING_EMERGENCY_CATEGORY = "missing_emergency_category"
    INCONSISTENT_EMERGENCY = "inconsistent_emergency"
    INVALID_DATES = "invalid_dates"
    NO_GRID_ADMISSION = "no_grid_admission"
    UNKNOWN_PARAMETER = "unknown_parameter"
    INVALID_TIME = "invalid_time"
    INVALID_RANGE = "invalid_range"
    UNKNOWN_DECISION = "unknown_decision"
    UNKNOWN_CLAUSE = "unknown_clause"
    POLICY_REJECTED = "policy_rejected"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    DECISION_LOG_UNAVAILABLE = "decision_log_unavailable"
    UNAUTHORIZED = "unauthorized"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    MALFORMED_BODY = "malformed_body"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    HTTP_ERROR = "http_error"
    BAD_HTTP_REQUEST = "bad_http_request"
    RECORD_NOT_FOUND = "record_not_found"
    NOT_REPLAYABLE = "not_replayable"
    SHEET_REJECTED = "sheet_rejected"
    UNKNOWN_JURISDICTION = "unknown_jurisdiction"
    LISTS_SHEET_REJECTED = "lists_sheet_rejected"
    INTERNAL_ERROR = "internal_error"
    # the case lifecycle
    ILLEGAL_TRANSITION = "illegal_transition"
    DEADLINE_PASSED = "deadline_passed"
    EXTENSION_REFUSED = "extension_refused"
    DISPUTE_STATE = "dispute_state"
    ACTOR_NOT_ON_CASE = "actor_not_on_case"
    ACTOR_NOT_ALLOWED = "actor_not_allowed"
    ACTOR_MISMATCH = "actor_mismatch"
    INVALID_EVENT = "invalid_event"
    CASE_NOT_FOUND = "case_not_found"
    CASE_EXISTS = "case_exists"
    NO_LIFECYCLE = "no_lifecycle"
    NOT_A_LEAD_DECISION = "not_a_lead_decision"
    FUTURE_TIME = "future_time"
    TEXT_EMPTY = "text_empty"
    TEXT_TOO_LONG = "text_too_long"
    TEXT_UNREADABLE = "text_unreadable"
    PLACE_AMBIGUOUS = "place_ambiguous"
    PLACE_OUTSIDE_COUNTY = "place_outside_county"
    PLACE_UNKNOWN = "place_unknown"
    INVALID_ENCODING = "invalid_encoding"
    CONFIRMATION_REQUIRED = "confirmation_required"
    CHECKPOINT_FAILED = "checkpoint_failed"
    ANALYSIS_TIMEOUT = "analysis_timeout"
    ANALYSIS_FAILED = "analysis_failed"
    CSRF_FAILED = "csrf_failed"


@dataclass(frozen=True)
class Finding:
    """One problem in a policy, located for its author.

    `code` is a stable snake_case kind; `message` follows the house style: lowercase,
    no final period, user input in backticks.
    """

    code: str
    message: str
    file: str | None = None
    line: int | None = None
    id: str | None = None
    severity: str = "error"
    hint: str | None = None
    # counter-example cases (engine.lead.decision.Case) from `engine.analysis.check`, for `--explain`
    examples: tuple[Any, ...] = dataclasses.field(default=(), compare=False, repr=False)

    def render(self) -> str:
        where = self.file or "<policy>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        ident = f" {self.id}:" if self.id else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}:{ident} {self.message}{hint}"


class TiaokuaiError(Exception):
    """Base of every error the engine raises on purpose."""


class PolicyError(TiaokuaiError):
    """A policy could not be loaded: it is never activated. Carries every finding."""

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        first = findings[0].render() if findings else "invalid policy"
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        super().__init__(first + more)


class CompileError(TiaokuaiError):
    """A valid policy could not be turned into durable_rules rulesets."""


class EngineFailure(TiaokuaiError):
    """durable_rules failed while deciding; the decision is not given."""


@dataclass
class CaseError(TiaokuaiError):
    """A case the policy cannot evaluate: unknown matter, township, attribute or value."""

    code: str
    message: str
    field: str | None = None
    hint: str | None = None
    extra: dict[str, object] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class ProposalError(CaseError):
    """A grid task proposal the policy cannot review: unknown kind, organization, field, action,
    channel, frequency, basis level or emergency category, or dates out of order.
    """


class ReplayError(TiaokuaiError):
    """A record cannot be replayed (unknown kind, unreadable request, missing policy)."""


class LogError(TiaokuaiError):
    """The decision log could not be opened or could not commit: nothing was acknowledged."""


class RecordNotFound(TiaokuaiError):
    """No record with that id, or no stored policy with that digest."""


class CheckpointError(TiaokuaiError):
    """A checkpoint key or checkpoint file cannot be read or written."""


class ConfirmationRequired(TiaokuaiError):
    """A reload would remove every clause of one or more files: it is activated only when the
    caller names those files (an emptied chapter is more often an accident, a truncated or
    half-saved file, than a decision). `changes` are the clause changes as dicts."""

    def __init__(self, emptied: dict[str, list[str]], changes: list[dict[str, Any]]) -> None:
        self.emptied, self.changes = emptied, changes
        files = ", ".join(f"`{f}` ({len(ids)} clauses)" for f, ids in emptied.items())
        super().__init__(f"the new policy removes every clause of {files}")


class AnalysisFailed(TiaokuaiError):
    """Impact analysis in its child process failed or did not finish in time."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclass(frozen=True)
class RowError:
    """One problem in a sheet, located as a spreadsheet user sees it."""

    row: int | None
    column: str | None
    problem: str
    hint: str | None = None
    letter: str | None = None

    def render(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}" + (f" ({self.letter})" if self.letter else ""))
        hint = f" ({self.hint})" if self.hint else ""
        return f"{', '.join(where) or 'sheet'}: {self.problem}{hint}"


class UnknownJurisdiction(TiaokuaiError):
    """A request named a jurisdiction this process does not serve; `known` lists those it does."""

    def __init__(self, name: str, known: list[str], hint: str | None = None) -> None:
        self.name = name
        self.known = known
        self.hint = hint or "served: " + ", ".join(known)
        super().__init__(f"unknown jurisdiction `{name}`")


class ListsSheetError(TiaokuaiError):
    """A workbook is not a three-lists workbook (a sheet or a header is missing)."""


class SheetError(TiaokuaiError):
    """A sheet could not be imported; nothing was written. Carries every problem."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__((errors[0].render() if errors else "invalid sheet") + more)


# --- the case lifecycle (engine.cases) ----------------------------------------------------


class CaseEventError(TiaokuaiError):
    """An event a case cannot take; `status` and `code` say how the API answers, `extra`
    adds fields to the error body (e.g. `allowed`: the events the case may take now)."""

    status = 409
    code = ErrorCode.ILLEGAL_TRANSITION

    def __init__(self, message: str, hint: str | None = None, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message, self.hint, self.field, self.extra = message, hint, field, extra


class TransitionNotAllowed(CaseEventError):
    """The lifecycle allows no such event in the case's state (409, naming the allowed ones)."""

    status, code = 409, ErrorCode.ILLEGAL_TRANSITION


class DeadlinePassed(CaseEventError):
    """An extension asked for after its limit fell due."""

    status, code = 409, ErrorCode.DEADLINE_PASSED


class ExtensionRefused(CaseEventError):
    """A limit already extended as often as the lifecycle allows."""

    status, code = 409, ErrorCode.EXTENSION_REFUSED


class DisputeState(CaseEventError):
    """A ruling without an open dispute, or a second return while one is open."""

    status, code = 409, ErrorCode.DISPUTE_STATE


class ActorNotOnCase(CaseEventError):
    """The actor is not the lead, a support, the township, the centre or the arbiter."""

    status, code = 403, ErrorCode.ACTOR_NOT_ON_CASE


class ActorNotAllowed(CaseEventError):
    """The actor is on the case, but its role may not take this event."""

    status, code = 403, ErrorCode.ACTOR_NOT_ALLOWED


class EventInvalid(CaseEventError):
    """An event with a missing or invalid field (reason, limit, lead, time)."""

    status, code = 422, ErrorCode.INVALID_EVENT


class CaseNotFound(TiaokuaiError):
    """No case with that id."""


class CaseExists(TiaokuaiError):
    """The decision already has a case."""

    def __init__(self, message: str, case_id: str) -> None:
        super().__init__(message)
        self.case_id = case_id


class NoLifecycle(TiaokuaiError):
    """The active policy has no `lifecycle:` section: cases cannot be opened."""
