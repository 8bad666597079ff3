"""The one place where errors become HTTP responses: `{"error": {code, message, field?, hint?}}`.

Bad input is always a 4xx in this shape, never a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from api.http.auth import AuthError
from engine import (
    ActorNotAllowed,
    ActorNotOnCase,
    AnalysisFailed,
    CaseError,
    CaseEventError,
    CaseExists,
    CaseNotFound,
    CheckpointError,
    CompileError,
    ConfirmationRequired,
    DeadlinePassed,
    DisputeState,
    EngineFailure,
    ErrorCode,
    EventInvalid,
    ExtensionRefused,
    ListsSheetError,
    LogError,
    NoLifecycle,
    PolicyError,
    RecordNotFound,
    ReplayError,
    SheetError,
    TiaokuaiError,
    TransitionNotAllowed,
    UnknownJurisdiction,
)

log = logging.getLogger("tiaokuai.api")


class ApiError(Exception):
    """An error raised by a route with its status and code."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.hint = status, code, message, field, hint


def error_response(status: int, code: str, message: str, field: str | None = None, hint: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    if hint:
        body["hint"] = hint
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status)


# pydantic error type → our stable code
_VALIDATION_CODES = {
    "missing": ErrorCode.MISSING_FIELD,
    "extra_forbidden": ErrorCode.UNKNOWN_FIELD,
    "json_invalid": ErrorCode.MALFORMED_JSON,
    "json_type": ErrorCode.MALFORMED_JSON,
    "model_attributes_type": ErrorCode.WRONG_TYPE,
    "dict_type": ErrorCode.WRONG_TYPE,
    "string_too_long": ErrorCode.TOO_LONG,
    "string_too_short": ErrorCode.TOO_SHORT,
    "too_long": ErrorCode.TOO_MANY_ITEMS,
    "date_from_datetime_parsing": ErrorCode.INVALID_DATE,
    "date_parsing": ErrorCode.INVALID_DATE,
    "date_type": ErrorCode.INVALID_DATE,
}


def _validation_response(exc: RequestValidationError, path: str = "") -> JSONResponse:
    errors = exc.errors()
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    kind = str(first.get("type", "invalid"))
    code = _VALIDATION_CODES.get(kind, ErrorCode.WRONG_TYPE if kind.endswith("_type") else ErrorCode.INVALID_VALUE)
    field = ".".join(loc) or None
    if code == ErrorCode.MALFORMED_JSON:
        return error_response(400, code, "request body is not valid JSON", hint="send UTF-8 encoded JSON with Content-Type: application/json")
    message = str(first.get("msg", "invalid request"))
    message = message[0].lower() + message[1:]
    hint = None
    if code == ErrorCode.WRONG_TYPE and loc[:1] == ["attributes"]:
        hint = "attribute values are strings, numbers or true/false"
    elif code == ErrorCode.WRONG_TYPE and not loc:
        hint = "the body must be a JSON object"
    elif code == ErrorCode.INVALID_DATE:
        hint = "use YYYY-MM-DD"
    elif code == ErrorCode.UNKNOWN_FIELD and path.startswith("/v1/cases"):
        hint = "case attributes go inside `attributes`"
    return error_response(422, code, f"`{field}`: {message}" if field else message, field, hint)


def _allowed(request: Request) -> list[str]:
    """The methods some route of this path accepts (several routes may share a path)."""
    methods = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return methods


def install(app: FastAPI) -> None:
    """Register every exception handler on the app."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc, request.url.path)

    @app.exception_handler(CaseError)
    async def _case(_: Request, exc: CaseError) -> JSONResponse:
        return error_response(422, exc.code, exc.message, exc.field, exc.hint, **exc.extra)

    @app.exception_handler(UnknownJurisdiction)
    async def _jurisdiction(_: Request, exc: UnknownJurisdiction) -> JSONResponse:
        return error_response(404, ErrorCode.UNKNOWN_JURISDICTION, str(exc), "jurisdiction", exc.hint, jurisdictions=exc.known)

    @app.exception_handler(ListsSheetError)
    async def _lists_sheet(_: Request, exc: ListsSheetError) -> JSONResponse:
        return error_response(422, ErrorCode.LISTS_SHEET_REJECTED, str(exc), hint="export the three lists first, then edit that workbook")

    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.hint)

    @app.exception_handler(PolicyError)
    async def _policy(_: Request, exc: PolicyError) -> JSONResponse:
        findings = [f.render() for f in exc.findings]
        return error_response(422, ErrorCode.POLICY_REJECTED, str(exc), hint="the active policy keeps serving", findings=findings)

    @app.exception_handler(ConfirmationRequired)
    async def _confirm(_: Request, exc: ConfirmationRequired) -> JSONResponse:
        query = "confirm=" + ",".join(exc.emptied)
        return error_response(409, ErrorCode.CONFIRMATION_REQUIRED, str(exc), "confirm",
                              f"if that is intended, reload again with ?{query}; the active policy keeps serving",
                              emptied=exc.emptied, changes=exc.changes)

    @app.exception_handler(CheckpointError)
    async def _checkpoint(_: Request, exc: CheckpointError) -> JSONResponse:
        log.error("checkpoint failure: %s", exc)
        return error_response(503, ErrorCode.CHECKPOINT_FAILED, str(exc), hint="check the checkpoint key and file (TIAOKUAI_CHECKPOINT_KEY, TIAOKUAI_CHECKPOINTS)")

    @app.exception_handler(AnalysisFailed)
    async def _analysis(_: Request, exc: AnalysisFailed) -> JSONResponse:
        code = ErrorCode.ANALYSIS_TIMEOUT if exc.timed_out else ErrorCode.ANALYSIS_FAILED
        return error_response(503, code, str(exc), hint="narrow the comparison, or run `tiaokuai diff` from the command line")

    @app.exception_handler(EngineFailure)
    async def _engine(_: Request, exc: EngineFailure) -> JSONResponse:
        log.error("engine failure: %s", exc)
        return error_response(503, ErrorCode.ENGINE_UNAVAILABLE, "the rules engine failed on this request", hint="retry; the failure is logged")

    @app.exception_handler(LogError)
    async def _decision_log(_: Request, exc: LogError) -> JSONResponse:
        log.error("decision log failure: %s", exc)
        return error_response(503, ErrorCode.DECISION_LOG_UNAVAILABLE, "the decision could not be logged, so it is not given",
                              hint="retry; nothing was decided")

    @app.exception_handler(CompileError)
    async def _compile(_: Request, exc: CompileError) -> JSONResponse:
        return error_response(422, ErrorCode.POLICY_REJECTED, str(exc), hint="the active policy keeps serving")

    @app.exception_handler(RecordNotFound)
    async def _not_found(_: Request, exc: RecordNotFound) -> JSONResponse:
        return error_response(404, ErrorCode.RECORD_NOT_FOUND, str(exc))

    @app.exception_handler(ReplayError)
    async def _replay(_: Request, exc: ReplayError) -> JSONResponse:
        return error_response(422, ErrorCode.NOT_REPLAYABLE, str(exc))

    @app.exception_handler(SheetError)
    async def _sheet(_: Request, exc: SheetError) -> JSONResponse:
        problems = [e.render() for e in exc.errors]
        return error_response(422, ErrorCode.SHEET_REJECTED, str(exc), hint="nothing was written", problems=problems)

    async def _case_event(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CaseEventError)
        return error_response(exc.status, exc.code, exc.message, exc.field, exc.hint, **exc.extra)

    # each class by name: the handler table is looked up by exact class first
    for event_error in (CaseEventError, TransitionNotAllowed, DeadlinePassed, ExtensionRefused, DisputeState,
                        ActorNotOnCase, ActorNotAllowed, EventInvalid):
        app.add_exception_handler(event_error, _case_event)

    @app.exception_handler(CaseNotFound)
    async def _case_missing(_: Request, exc: CaseNotFound) -> JSONResponse:
        return error_response(404, ErrorCode.CASE_NOT_FOUND, str(exc), hint="case ids come from POST /v1/cases")

    @app.exception_handler(CaseExists)
    async def _case_exists(_: Request, exc: CaseExists) -> JSONResponse:
        return error_response(409, ErrorCode.CASE_EXISTS, str(exc), "decision_id", f"GET /v1/cases/{exc.case_id}", case_id=exc.case_id)

    @app.exception_handler(NoLifecycle)
    async def _no_lifecycle(_: Request, exc: NoLifecycle) -> JSONResponse:
        return error_response(404, ErrorCode.NO_LIFECYCLE, str(exc), hint="add a `lifecycle:` section to the policy")

    @app.exception_handler(TiaokuaiError)
    async def _engine_error(_: Request, exc: TiaokuaiError) -> JSONResponse:
        # every engine error above has its own mapping; one reaching here is a bug, not bad input
        log.error("unmapped engine error %s: %s", type(exc).__name__, exc)
        return error_response(500, ErrorCode.INTERNAL_ERROR, "the service failed on this request", hint="the failure is logged")

    @app.exception_handler(AuthError)
    async def _auth(_: Request, exc: AuthError) -> JSONResponse:
        response = error_response(exc.status, exc.code, exc.message, hint=exc.hint)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="tiaokuai"'
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: ErrorCode.MALFORMED_BODY, 404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 413: ErrorCode.BODY_TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE}
        hints = {413: "send a smaller body; split a batch into several requests", 400: "send UTF-8 encoded JSON of modest depth"}
        response = error_response(exc.status_code, codes.get(exc.status_code, ErrorCode.HTTP_ERROR), str(exc.detail).lower(), hint=hints.get(exc.status_code))
        response.headers.update(exc.headers or {})  # e.g. `Allow` on 405
        if exc.status_code == 405:  # every method of the path, not only the first route's
            response.headers["Allow"] = ", ".join(_allowed(request))
        return response
