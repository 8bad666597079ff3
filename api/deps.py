"""Route dependencies: the active runtime, today's date, new decision ids."""

from __future__ import annotations

import secrets
import time
from datetime import date, datetime, timedelta, timezone
from typing import Annotated

from fastapi import Depends, Request

from engine.runtime import Runtime
from engine.store import DecisionLog

# Cases are judged on the local date in China when the caller gives none.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


async def get_runtime(request: Request) -> Runtime:
    # async: a plain `def` dependency would cost a threadpool round trip on every request
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_decision_log(request: Request) -> DecisionLog:  # async: no threadpool hop
    log: DecisionLog = request.app.state.decision_log
    return log


DecisionLogDep = Annotated[DecisionLog, Depends(get_decision_log)]


def today() -> date:
    return datetime.now(CHINA).date()


def new_decision_id() -> str:
    """Time-ordered, unguessable: 12 hex digits of milliseconds, then 10 random hex digits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(5)}"
