"""The decision log for auditors: one record by id, or records by reference and time."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.http.deps import DecisionLogDep
from api.http.errors import ApiError
from api.http.schemas.common import ErrorV1
from api.http.schemas.log import DecisionPageV1, DecisionRecordV1
from engine import ErrorCode, RecordNotFound
from engine.cases import CHINA
from engine.log import format_time

router = APIRouter(prefix="/v1/decisions", tags=["decision log"])

TIME_HINT = "use an ISO 8601 date or time, e.g. 2026-11-01 or 2026-11-01T08:30:00+08:00 (no offset means China time)"


def _moment(raw: str | None, field: str) -> str | None:
    """An auditor's date or time as the log's UTC text; dates and naive times are China time."""
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        try:
            moment = datetime.combine(datetime.strptime(raw, "%Y-%m-%d").date(), time())
        except ValueError:
            raise ApiError(422, ErrorCode.INVALID_TIME, f"`{field}`: `{raw}` is not a date or time", field, TIME_HINT) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA)
    try:
        return format_time(moment)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-14:00 is after the last representable UTC moment
        raise ApiError(422, ErrorCode.INVALID_TIME, f"`{field}`: `{raw}` is outside the years 1–9999 in UTC", field, TIME_HINT) from None


@router.get(
    "/{decision_id}",
    response_model=DecisionRecordV1,
    summary="One logged decision",
    responses={404: {"model": ErrorV1}},
)
def get_decision(
    decision_log: DecisionLogDep,
    decision_id: Annotated[str, Path(max_length=64, examples=["019a8c2b7f3e1a2b3c4d5e"])],
) -> dict[str, Any]:
    """The record of one decision: request as received, response as sent, policy version, hash chain."""
    try:
        return decision_log.get(decision_id).to_dict()
    except RecordNotFound:
        raise ApiError(404, ErrorCode.UNKNOWN_DECISION, f"no decision `{decision_id}` in the log", "decision_id",
                       "decision ids are the `decision_id` of a POST /v1/cases/lead answer") from None


@router.get(
    "",
    response_model=DecisionPageV1,
    summary="Logged decisions by reference and time",
    responses={422: {"model": ErrorV1}},
)
def list_decisions(
    decision_log: DecisionLogDep,
    reference: Annotated[str | None, Query(max_length=128, description="the caller's reference", examples=["12345-20261101-0001"])] = None,
    since: Annotated[str | None, Query(max_length=40, description="from this date or time (inclusive)", examples=["2026-11-01"])] = None,
    until: Annotated[str | None, Query(max_length=40, description="before this date or time (exclusive)", examples=["2026-11-02"])] = None,
    kind: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$", description="`lead`, `admission` or `trial`")] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1, description="continue after this `seq` (from `next_after`)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Records in log order. Dates and times without an offset are China time (UTC+8)."""
    start, end = _moment(since, "since"), _moment(until, "until")
    if start is not None and end is not None and start >= end:
        raise ApiError(422, ErrorCode.INVALID_RANGE, "`since` must be earlier than `until`", "until")
    records = decision_log.query(reference=reference, kind=kind, since=start, until=end, after=after, limit=limit)
    items = [r.to_dict() for r in records]
    return {"items": items, "next_after": records[-1].seq if len(records) == limit else None}
