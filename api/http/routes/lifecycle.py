"""The case lifecycle over HTTP: open, act, read, board, rule.

POST /v1/cases                      open from a decision (or decide and open)     cases:act
POST /v1/cases/{id}/events          sign, return, reassign, report_in, extend …   cases:act
POST /v1/cases/{id}/ruling          the arbiter's ruling, with a proposed rule     cases:arbitrate
GET  /v1/cases/{id}, GET /v1/cases  the case; the centre's board                   cases:read
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.convertors import Convertor, register_url_convertor

from api.http.auth import Principal, acting
from api.http.errors import ApiError
from api.http.schemas.cases import CaseEventV1, CaseOpenV1, CasesV1, CaseV1, RulingV1
from engine import ErrorCode
from engine.cases import (
    CHINA,
    CaseService,
    CaseState,
    Command,
    Corrections,
    Ruling,
    board_items,
    case_view,
    china_time,
    department_figures,
)


class CaseIdConvertor(Convertor[str]):
    """Case ids as the store makes them (22 hex digits), so `/v1/cases/lead` stays the lead route's."""

    regex = "[0-9a-f]{22}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("case_id", CaseIdConvertor())
MAX_OFFSET = 1_000_000_000
router = APIRouter(prefix="/v1/cases", tags=["case lifecycle"])
CLOCK_SKEW = timedelta(minutes=2)
EARLIEST = datetime(2000, 1, 1, tzinfo=CHINA)  # no case is older; also keeps time arithmetic in range  # an `at` this far ahead of our clock is still "now"
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128, description="retry safely: the same key returns what the first request stored")]


def _service(request: Request) -> CaseService:
    service: CaseService = request.app.state.cases
    return service


def _now(request: Request) -> datetime:
    return china_time(request.app.state.clock())


def _at(request: Request, at: datetime | None) -> datetime:
    now = _now(request)
    if at is None:
        return now
    if at.year < EARLIEST.year:
        raise ApiError(422, ErrorCode.INVALID_TIME, f"`at` {at.isoformat()} is before {EARLIEST.year}", "at", "send when it happened, in ISO 8601 with its offset")
    if at > now + CLOCK_SKEW:
        raise ApiError(422, ErrorCode.FUTURE_TIME, f"`at` {at.isoformat()} is in the future", "at", "send when it happened, or leave `at` out")
    return at


def _actor(principal: Principal | None, given: str | None, required: bool = True) -> tuple[str | None, str | None]:
    """(actor, operator): a token bound to an organization acts as it; an unbound token names
    the organization it acts for; with tokens off the given actor is trusted."""
    if principal is not None and principal.organization is not None:
        if given is not None and given != principal.organization:
            raise ApiError(403, ErrorCode.ACTOR_MISMATCH, f"token `{principal.name}` acts as `{principal.organization}`, not `{given}`", "actor",
                           "leave `actor` out or use that organization's token")
        return principal.organization, None
    if given is None and required:
        raise ApiError(422, ErrorCode.MISSING_FIELD, "`actor`: name the organization acting", "actor",
                       "a token not bound to an organization (the centre's operators) names who it acts for")
    return given, principal.name if principal is not None else None


def _answer(service: CaseService, request: Request, case_id: str, status: int = 200, state: CaseState | None = None, **extra: Any) -> JSONResponse:
    policy, chapter = service.chapter()
    body = case_view(state or service.state(case_id, chapter), chapter, policy, _now(request))
    body["policy"] = {"id": policy.id, "version": policy.version, "digest": policy.digest}
    body.update(extra)
    headers = {"Location": f"/v1/cases/{case_id}"} if status == 201 else None
    return JSONResponse(body, status_code=status, headers=headers)


@router.post(
    "",
    summary="Open a case (吹哨派单)",
    status_code=201,
    response_model=CaseV1,
    responses={200: {"model": CaseV1, "description": "a retry with the same Idempotency-Key: the case it opened"}},
)
async def open_case(
    request: Request,
    body: Annotated[CaseOpenV1, Body()],
    principal: Annotated[Principal | None, acting("cases:act")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a case from a logged lead decision (`decision_id`), or decide `case` and open it.
    Its clocks start now (or at `at`); a decision with conflicting leads opens a dispute at once."""
    service = _service(request)
    if (body.decision_id is None) == (body.case is None):
        raise ApiError(422, ErrorCode.MISSING_FIELD, "give exactly one of `decision_id` or `case`", "decision_id")
    actor, operator = _actor(principal, body.actor, required=False)
    at = _at(request, body.at)
    case = None
    request_json = None
    if body.case is not None:
        lead = body.case
        as_of = lead.as_of or at.date()
        case = lead.to_case(as_of)
        if case is None:  # words (text/place) or no township: intake answers in POST /v1/cases/lead
            raise ApiError(
                422, ErrorCode.MISSING_FIELD, "`case` needs `township` (ids only)", "case.township",
                "for a ticket in words, POST /v1/cases/lead with `text` first, then open the case from its `decision_id`",
            )
        request_json = lead.model_dump(mode="json", exclude_none=True) | {"as_of": as_of.isoformat()}
    appended = await run_in_threadpool(
        service.open, actor=actor, at=at, decision_id=body.decision_id, request=request_json, case=case,
        reason=body.reason, operator=operator, idempotency_key=idempotency_key,
    )
    return _answer(service, request, appended.case_id, 200 if appended.replayed else 201, appended.state)


@router.post("/{case_id:case_id}/events", summary="Act on a case", response_model=CaseV1)
async def post_event(
    case_id: str,
    request: Request,
    body: Annotated[CaseEventV1, Body()],
    principal: Annotated[Principal | None, acting("cases:act")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Sign (签收), return (退单, decided again), reassign (改派), report in (到场报到), extend
    (延期, before the limit falls due), handle (办结), close (结案), reopen. 409 names the events
    allowed now; 403 when the actor is not on the case or may not take this event."""
    service = _service(request)
    actor, operator = _actor(principal, body.actor)
    assert actor is not None
    data: dict[str, Any] = {}
    if body.claim is not None:
        data["claim"] = body.claim
    if body.lead is not None:
        data["lead"] = body.lead
    if body.supports is not None:
        data["supports"] = body.supports
    if body.limit is not None:
        data["limit"] = body.limit
    if body.by is not None:
        data["by"] = body.by
    command = Command(body.kind, actor, _at(request, body.at), body.reason, body.note, operator, data)
    corrections = None
    if body.corrections is not None:
        corrections = Corrections(body.corrections.attributes, body.corrections.township, body.corrections.matter)
    appended = await run_in_threadpool(service.act, case_id, command, corrections, idempotency_key)
    return _answer(service, request, appended.case_id, 200, appended.state, events=[e.event.n for e in appended.events], replayed=appended.replayed)


@router.post("/{case_id:case_id}/ruling", summary="Rule on a dispute (编办裁定)", response_model=CaseV1)
async def post_ruling(
    case_id: str,
    request: Request,
    body: Annotated[RulingV1, Body()],
    principal: Annotated[Principal | None, acting("cases:arbitrate")],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Record the arbiter's ruling with its basis (the meeting minute). The answer carries a
    proposed rule (`proposed_rule.yaml`) that settles the same dispute by the list next time:
    save it under policy/rules/ and review it with `tiaokuai check` and `tiaokuai diff`."""
    service = _service(request)
    actor, operator = _actor(principal, body.actor)
    assert actor is not None
    ruling = Ruling(actor, body.lead, _at(request, body.at), body.basis.model_dump(exclude_none=True), body.reason,
                    tuple(body.supports) if body.supports is not None else None, operator)
    appended, proposal = await run_in_threadpool(service.rule, case_id, ruling, idempotency_key)
    return _answer(service, request, appended.case_id, 200, appended.state, proposed_rule=proposal)


READ = [acting("cases:read")]


@router.get("", summary="The centre's board", response_model=CasesV1, dependencies=READ)
async def list_cases(
    request: Request,
    state: Annotated[str | None, Query(max_length=64)] = None,
    lead: Annotated[str | None, Query(max_length=64)] = None,
    township: Annotated[str | None, Query(max_length=64)] = None,
    overdue: bool | None = None,
    due_before: datetime | None = None,
    open: bool = True,  # noqa: A002 - the query parameter's name
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,  # bounded: SQLite integers are 64-bit
) -> JSONResponse:
    """Cases by due time, soonest first: open ones by default (`open=false` for all);
    `overdue=true` those with a limit past due; `due_before` (ISO 8601) those due sooner."""
    service = _service(request)
    if due_before is not None:
        due_before = due_before if due_before.tzinfo else due_before.replace(tzinfo=CHINA)
        if not 2000 <= due_before.year <= 9000:
            raise ApiError(422, ErrorCode.INVALID_TIME, "`due_before` is out of range", "due_before", "use ISO 8601, e.g. 2026-12-31T00:00:00+08:00")
    result = await run_in_threadpool(
        board_items, service, _now(request), state=state, lead=lead, township=township, overdue=overdue,
        due_before=due_before, open_only=open, limit=limit, offset=offset,
    )
    return JSONResponse(result)


@router.get("/figures", summary="Per-department figures (双向互评)", dependencies=READ)
async def figures(request: Request) -> JSONResponse:
    """Per lead department: limits met on time, late, on-time %, returns, disputes won and lost."""
    service = _service(request)
    return JSONResponse(await run_in_threadpool(department_figures, service, _now(request)))


@router.get("/{case_id:case_id}", summary="A case: state, deadlines, history", response_model=CaseV1, dependencies=READ)
async def get_case(case_id: str, request: Request) -> JSONResponse:
    """The case's state, every running deadline with its due time (China time; `calendar`
    says `weekdays_assumed` when a day past the official calendar's last year was counted
    Monday–Friday), the open dispute and the whole history with the clause behind each step."""
    service = _service(request)
    return await run_in_threadpool(_answer, service, request, case_id)
