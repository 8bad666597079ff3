"""POST /v1/policy/reload: load the policy directory again (scope `policy:admin`)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.http.deps import JurisdictionQuery, JurisdictionsDep
from api.http.schemas.common import ErrorV1
from api.http.schemas.system import ReloadV1
from api.settings import Settings
from engine import ConfirmationRequired, Jurisdictions, PolicyError, ReloadResult, reload_policy
from engine.policy import unchanged_version

router = APIRouter(prefix="/v1/policy", tags=["system"])
log = logging.getLogger("tiaokuai.reload")


def _view(result: ReloadResult) -> dict[str, Any]:
    policy = result.active.policy
    previous = result.previous
    unbumped = unchanged_version(previous["version"], previous["digest"], policy, "the previous active policy")
    if unbumped is not None:
        log.warning("policy reload: %s", unbumped.render())
    return {
        "status": "reloaded" if result.changed else "unchanged",
        "policy": {"id": policy.id, "version": policy.version, "digest": policy.digest},
        "previous": previous,
        "took_ms": round(result.took_ms, 1),
        "changes": {kind: [c.to_dict() for c in result.clauses if c.change == kind] for kind in ("added", "removed", "changed")},
        "warnings": [unbumped.render()] if unbumped is not None else [],
    }


@router.post(
    "/reload",
    summary="Reload the policy directory",
    response_model=ReloadV1,
    responses={401: {"model": ErrorV1}, 403: {"model": ErrorV1}, 404: {"model": ErrorV1}, 409: {"model": ErrorV1}, 422: {"model": ErrorV1}},
)
async def reload(
    request: Request,
    served: JurisdictionsDep,
    jurisdiction: JurisdictionQuery = None,
    confirm: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_./-]+(,[A-Za-z0-9_./-]+)*$",
            max_length=2000,
            description="the policy files whose clauses the new policy removes entirely, comma-separated (e.g. rules/integrated.yaml)",
        ),
    ] = None,
) -> dict[str, Any]:
    """Validate and compile-check the policy directory in a throwaway process, then swap.

    A policy with findings, or one that hangs or crashes the check, is rejected (422
    `policy_rejected` with its findings) and the active policy keeps serving. A policy
    that removes every clause of a file (an emptied chapter) is refused with 409
    `confirmation_required` unless that file is named in `confirm`. The answer lists the
    clauses added, removed and changed. `?jurisdiction=` reloads that county (with the
    template it extends) and no other.
    """
    settings: Settings = request.app.state.settings
    decision_log = request.app.state.decision_log
    runtime, source = served.get(jurisdiction), served.source(jurisdiction)
    try:
        result = await run_in_threadpool(
            reload_policy, runtime, source, settings.reload_timeout, tuple(confirm.split(",")) if confirm else (), decision_log.activate
        )
    except PolicyError as exc:
        log.warning("policy reload rejected: %s", exc)
        raise
    log.info("policy reload: %s %s", "activated" if result.changed else "unchanged", result.active.policy.digest[:12])
    return _view(result)


def install_sighup(app: FastAPI) -> None:
    """SIGHUP reloads the policy like POST /v1/policy/reload (rejections are logged).

    # NOTE: the handler runs on the main thread between bytecodes, where the event loop
    # also runs: it only starts a thread, which does the (seconds-long) check and swap.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP"):
        return
    settings: Settings = app.state.settings

    def reload_in_background() -> None:
        served: Jurisdictions = app.state.jurisdictions
        for runtime in list(served):  # every jurisdiction, one at a time; each keeps serving meanwhile
            name = runtime.policy.id
            try:
                result = reload_policy(runtime, served.source(name), settings.reload_timeout, record=app.state.decision_log.activate)
                log.info("SIGHUP reload (%s): %s %s", name, "activated" if result.changed else "unchanged", result.active.policy.digest[:12])
            except (PolicyError, ConfirmationRequired) as exc:
                log.error("SIGHUP reload rejected (%s), its active policy keeps serving: %s", name, exc)
            except Exception:
                log.exception("SIGHUP reload failed (%s), its active policy keeps serving", name)

    def on_hup(_signum: int, _frame: object) -> None:
        threading.Thread(target=reload_in_background, name="tiaokuai-sighup-reload", daemon=True).start()

    signal.signal(signal.SIGHUP, on_hup)
    log.debug("SIGHUP reloads the policy (pid %d)", os.getpid())
