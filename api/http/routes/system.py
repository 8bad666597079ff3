"""The active policy and the health check."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter

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
    }


@router.get(
    "/v1/policy",
    response_model=PolicyInfoV1,
    summary="The active policy",
    dependencies=dependency("list:read"),  # checks the configuration on each call (not a hot path)
    responses={401: {"model": ErrorV1}, 403: {"model": ErrorV1}},
)
async def get_policy(runtime: RuntimeDep) -> dict[str, Any]:
    return policy_info(runtime)


@router.get("/healthz", summary="Liveness and the active policy digest")
async def healthz(runtime: RuntimeDep) -> dict[str, Any]:
    policy = runtime.policy
    return {
        "status": "ok",
        "policy": {"id": policy.id, "version": policy.version, "digest": policy.digest},
        "worker": worker_info(),
    }


def worker_info() -> dict[str, Any]:
    """This process and, under `tiaokuai serve`'s supervisor, how often it restarted the
    worker and why the last one ended (api/cli/supervise.py passes both in the environment)."""
    return {
        "pid": os.getpid(),
        "restarts": int(os.environ.get("TIAOKUAI_WORKER_RESTARTS", "0")),
        "last_exit": os.environ.get("TIAOKUAI_WORKER_LAST_EXIT") or None,
    }
