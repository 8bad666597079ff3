"""The active policy and the health check."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.http.auth import dependency
from api.http.deps import RuntimeDep
from api.http.schemas.common import ErrorV1
from api.http.schemas.system import PolicyInfoV1

router = APIRouter(tags=["system"])


def policy_info(runtime: RuntimeDep) -> dict[str, Any]:
    active = runtime.active
    policy = active.policy
    return {
        "id": policy.id,
        "version": policy.version,
        "digest": policy.digest,
        "title": policy.manifest.title,
        "jurisdiction": policy.manifest.jurisdiction,
        "illustrative": policy.manifest.illustrative,
        "loaded_at": active.loaded_at.isoformat(),
        "source": active.source,
        "counts": policy.counts(),
        **({"layers": list(policy.layer_chain())} if policy.layered else {}),
    }


@router.get(
    "/v1/policy",
    response_model=PolicyInfoV1,
    summary="The active policy",
    dependencies=dependency("list:read"),  # checks the configuration on each call (not a hot path)
    responses={401: {"model": ErrorV1}, 403: {"model": ErrorV1}, 404: {"model": ErrorV1}},
)
async def get_policy(runtime: RuntimeDep) -> dict[str, Any]:
    return policy_info(runtime)


@router.get(
    "/healthz",
    summary="Liveness, the active policy digest, and whether decisions can be logged",
    responses={200: {"description": "`ok`"}, 404: {"model": ErrorV1}, 503: {"description": "`degraded`: the decision log cannot commit, or a checkpoint was not written"}},
)
async def healthz(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """200 `ok`; 503 `degraded` while the decision log cannot commit (deciding answers 503
    then) or the last checkpoint could not be written."""
    policy = runtime.policy
    decision_log = request.app.state.decision_log
    failure = decision_log.last_failure
    checkpointer = request.app.state.checkpointer
    checkpoint_error = checkpointer.error if checkpointer is not None else None
    degraded = failure is not None or checkpoint_error is not None
    body = {
        "status": "degraded" if degraded else "ok",
        "policy": {"id": policy.id, "version": policy.version, "digest": policy.digest},
        "decision_log": {"ok": failure is None} | ({"since": failure[0], "error": failure[1]} if failure else {}),
        "checkpoints": None if checkpointer is None else {"ok": checkpoint_error is None} | ({"error": checkpoint_error} if checkpoint_error else {}),
        "worker": worker_info(),
    }
    return JSONResponse(body, status_code=503 if degraded else 200)


def worker_info() -> dict[str, Any]:
    """This process and, under `tiaokuai serve`'s supervisor, how often it restarted the
    worker and why the last one ended (api/cli/supervise.py passes both in the environment)."""
    return {
        "pid": os.getpid(),
        "restarts": int(os.environ.get("TIAOKUAI_WORKER_RESTARTS", "0")),
        "last_exit": os.environ.get("TIAOKUAI_WORKER_LAST_EXIT") or None,
    }
