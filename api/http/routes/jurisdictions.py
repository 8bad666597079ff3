"""The served jurisdictions, and a township's three lists (基本 / 配合 / 收回)."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.http.deps import JurisdictionsDep, RuntimeDep, today
from api.http.errors import ApiError
from api.http.schemas.common import ErrorV1, IsoDate
from api.http.schemas.jurisdictions import JurisdictionsV1, JurisdictionV1, ThreeListsV1
from engine import ErrorCode
from engine.listing import export_three_lists, three_lists
from engine.policy import suggest

router = APIRouter(prefix="/v1", tags=["jurisdictions"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/jurisdictions", response_model=JurisdictionsV1, summary="The jurisdictions this service decides for")
async def list_jurisdictions(served: JurisdictionsDep) -> dict[str, Any]:
    """Each served county: id, name, the layers its policy is built from (template first),
    its policy version and digest. Requests that name no jurisdiction go to `default`."""
    items = [served.describe(runtime.policy.id) for runtime in served]
    return {"items": items, "total": len(items), "default": served.default}


@router.get(
    "/jurisdictions/{jurisdiction_id}",
    response_model=JurisdictionV1,
    summary="One served jurisdiction",
    responses={404: {"model": ErrorV1}},
)
async def get_jurisdiction(served: JurisdictionsDep, jurisdiction_id: str) -> dict[str, Any]:
    served.get(jurisdiction_id)  # 404 listing the served ones when unknown
    return served.describe(jurisdiction_id)


@router.get(
    "/townships/{township_id}/lists",
    response_model=ThreeListsV1,
    summary="A township's three lists: 基本履职, 配合履职, 上级部门收回",
    responses={404: {"model": ErrorV1}, 200: {"content": {XLSX: {}}}},
)
async def township_lists(
    runtime: RuntimeDep,
    township_id: str,
    as_of: Annotated[IsoDate | None, Query(description="the lists in force on this date (default: today)")] = None,
    format: Annotated[Literal["json", "xlsx"], Query(description="xlsx: the three sheets officials publish")] = "json",
) -> Any:
    """Every matter in force that day is on exactly one list; 配合 names the county
    department that is principal, 收回 the department that took it over (承接部门) and how
    the work is done now (工作方式)."""
    policy = runtime.policy
    town = policy.organizations.get(township_id)
    if town is None or not town.is_township:
        townships = [t.id for t in policy.townships()]
        raise ApiError(404, ErrorCode.UNKNOWN_TOWNSHIP, f"unknown township `{township_id}`", "township_id", suggest(township_id, townships))
    lists = three_lists(policy, township_id, as_of or today())
    if format == "xlsx":
        out = io.BytesIO()
        export_three_lists(policy, lists, out)
        name = f"{policy.id}-{township_id}-{lists.as_of.isoformat()}-three-lists.xlsx"
        return Response(out.getvalue(), media_type=XLSX, headers={"content-disposition": f'attachment; filename="{name}"'})
    return {"jurisdiction": policy.id, **lists.to_dict(policy)}
