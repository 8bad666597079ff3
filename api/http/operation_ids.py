"""Operation ids of the HTTP API: the names generated clients give their functions.

FastAPI's default (`lead_v1_cases_lead_post`) leaks the path into every client. These ids
are part of the contract: once published, an id never changes (a client generated from
the document calls `decide_lead(...)`). A route added without an entry gets its function's
name in camelCase; add it here to pin it.
"""

from __future__ import annotations

from fastapi.routing import APIRoute

OPERATION_IDS: dict[str, str] = {
    "POST /v1/cases/lead": "decideLead",
    "POST /v1/cases/lead:batch": "decideLeadBatch",
    "POST /v1/grid/admission-reviews": "reviewAdmission",
    "GET /v1/matters": "listMatters",
    "GET /v1/matters/{matter_id}": "getMatter",
    "GET /v1/organizations": "listOrganizations",
    "GET /v1/policy": "getPolicy",
    "POST /v1/policy/reload": "reloadPolicy",
    "GET /v1/decisions": "listDecisions",
    "GET /v1/decisions/{decision_id}": "getDecision",
    "GET /healthz": "getHealth",
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def operation_id(route: APIRoute) -> str:
    """FastAPI's `generate_unique_id_function`: the pinned id, else the camelCased function name."""
    for method in sorted(route.methods or ()):
        pinned = OPERATION_IDS.get(f"{method} {route.path}")
        if pinned is not None:
            return pinned
    return camel(route.name)
