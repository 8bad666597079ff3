"""Route dependencies: the served jurisdictions and the runtime a request names, today's
date, new decision ids."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from engine import Jurisdictions, Runtime
from engine.cases import CHINA
from engine.log import DecisionLog, new_record_id

JurisdictionQuery = Annotated[
    str | None,
    Query(max_length=64, description="the jurisdiction (county) to read; default: the default one", examples=["kecheng"]),
]


async def get_runtime(request: Request, jurisdiction: JurisdictionQuery = None) -> Runtime:
    """The runtime of `?jurisdiction=` (default: the default jurisdiction's)."""
    # async: a plain `def` dependency would cost a threadpool round trip on every request
    served: Jurisdictions = request.app.state.jurisdictions
    return served.get(jurisdiction)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_jurisdictions(request: Request) -> Jurisdictions:
    served: Jurisdictions = request.app.state.jurisdictions
    return served


JurisdictionsDep = Annotated[Jurisdictions, Depends(get_jurisdictions)]


async def get_decision_log(request: Request) -> DecisionLog:  # async: no threadpool hop
    log: DecisionLog = request.app.state.decision_log
    return log


DecisionLogDep = Annotated[DecisionLog, Depends(get_decision_log)]


def today() -> date:
    """The date in China (engine.cases.CHINA): cases are judged on it when the caller gives none."""
    return datetime.now(CHINA).date()


def new_decision_id() -> str:
    """Time-ordered, unguessable; the same form as the decision log's own record ids."""
    return new_record_id()
