"""The responsibility list and the organizations, as data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.http.deps import RuntimeDep
from api.http.errors import ApiError
from api.http.schemas.common import ErrorV1, IsoDate, ItemsV1
from engine import ErrorCode
from engine.listing import REF_LABELS, search_matters
from engine.policy import Matter, Policy, suggest

router = APIRouter(prefix="/v1", tags=["list"])


def _org_name(policy: Policy, ref: str) -> str:
    org = policy.organizations.get(ref)
    return org.name if org else REF_LABELS.get(ref, ref)


def matter_view(policy: Policy, matter: Matter) -> dict[str, Any]:
    """A matter as the list shows it: the authored fields plus readable names."""
    domains = {d.id: d.name for d in policy.manifest.domains}
    item = matter.model_dump(mode="json", exclude_none=True)
    item["domain_name"] = domains.get(matter.domain, matter.domain)
    item["lead_name"] = _org_name(policy, matter.lead)
    item["support_names"] = [_org_name(policy, s) for s in matter.supports]
    return item


@router.get("/matters", response_model=ItemsV1, summary="Search the responsibility list", responses={404: {"model": ErrorV1}})
async def list_matters(
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=200, description="an id or id prefix, a word or a whole ticket sentence: ranked by intake's matcher", examples=["偷挖河沙"])] = None,
    domain: Annotated[str | None, Query(max_length=64, examples=["water"])] = None,
    as_of: Annotated[IsoDate | None, Query(description="only matters in force on this date")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Matters `q` finds, optionally in one domain: an id or id prefix finds those ids; any other
    text is ranked by the same matcher as intake (POST /v1/matters:classify), best first, each
    item with its `score`."""
    policy = runtime.policy
    domains = [d.id for d in policy.manifest.domains]
    if domain is not None and domain not in domains:
        raise ApiError(422, ErrorCode.UNKNOWN_DOMAIN, f"unknown domain `{domain}`", "domain", suggest(domain, domains) or f"known: {', '.join(domains)}")
    found = search_matters(policy, q, domain, as_of)
    items = [
        matter_view(policy, hit.matter) | ({"score": hit.score} if hit.score is not None else {})
        for hit in found[offset : offset + limit]
    ]
    return {"items": items, "total": len(found)}


@router.get("/matters/{matter_id}", summary="One matter of the list", responses={404: {"model": ErrorV1}})
async def get_matter(runtime: RuntimeDep, matter_id: str) -> dict[str, Any]:
    policy = runtime.policy
    matter = policy.matters.get(matter_id)
    if matter is None:
        raise ApiError(404, ErrorCode.UNKNOWN_MATTER, f"unknown matter `{matter_id}`", "matter_id", suggest(matter_id, policy.matters))
    item = matter_view(policy, matter)
    item["rules"] = [r.id for r in policy.rules if matter.id in _named_matters(r.tests())]
    return item


def _named_matters(tests: dict[str, Any]) -> tuple[Any, ...]:
    test = tests.get("matter")
    if test is None:
        return ()
    _, value = test.operator
    return value if isinstance(value, tuple) else (value,)


@router.get("/organizations", response_model=ItemsV1, summary="Departments, townships, teams and other bodies", responses={404: {"model": ErrorV1}})
async def list_organizations(
    request: Request,
    runtime: RuntimeDep,
    kind: Annotated[str | None, Query(min_length=1, max_length=32, examples=["township"])] = None,
    as_of: Annotated[IsoDate | None, Query(description="only bodies in force on this date")] = None,
    q: Annotated[
        str | None,
        Query(max_length=200, description="a name, short name, alias, village or community, or an address containing one",
              examples=["横路后村"]),
    ] = None,
) -> dict[str, Any]:
    """Bodies of the policy. With `q`: the townships a place names (by name, alias, village or
    community, as intake resolves a `place`), then bodies whose name contains `q`."""
    if request.query_params.get("kind", None) == "":  # FastAPI reads `kind=` as absent
        raise ApiError(422, ErrorCode.INVALID_VALUE, "`kind` must not be empty", "kind", "omit it, or name a kind such as `township`")
    policy = runtime.policy
    wanted: list[str] | None = None
    if q is not None and q.strip():
        named = list(runtime.intake.place(q, field=True).townships)
        needle = q.strip().casefold()
        wanted = named + [
            o.id for o in policy.organizations.values()
            if o.id not in named and any(needle in n.casefold() for n in (o.name, o.short_name or "", o.name_en or ""))
        ]  # fmt: skip
    items = []
    for org in policy.organizations.values() if wanted is None else (policy.organizations[i] for i in wanted):
        if kind == "township" and not org.is_township:
            continue
        if kind not in (None, "township") and org.kind.value != kind:
            continue
        if as_of is not None and not org.in_force(as_of):
            continue
        items.append(org.model_dump(mode="json", exclude_none=True, exclude_defaults=True) | {"kind": org.kind.value})
    return {"items": items, "total": len(items)}
