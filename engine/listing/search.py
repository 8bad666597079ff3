"""Finding matters in the list: one search for the API (GET /v1/matters) and the pages (/list)."""

from __future__ import annotations

from datetime import date

from engine.policy.index import Policy
from engine.policy.model import Matter


def _text_matches(policy: Policy, matter: Matter, q: str) -> bool:
    needle = q.casefold()
    orgs = [policy.organizations[r].name for r in (matter.lead, *matter.supports) if r in policy.organizations]
    haystack = (
        matter.id, matter.name, matter.name_en or "", *matter.aliases, *matter.township_duties,
        *matter.department_duties, *(b.document for b in matter.basis), *orgs,
    )  # fmt: skip
    return any(needle in field.casefold() for field in haystack)


def search_matters(policy: Policy, q: str | None = None, domain: str | None = None, as_of: date | None = None) -> list[Matter]:
    """The matters whose id, names, aliases, duties, basis documents or lead/support names contain
    `q` (case-insensitive), in `domain`, in force on `as_of`; in the policy's order."""
    return [
        m
        for m in policy.matters.values()
        if (domain is None or m.domain == domain)
        and (as_of is None or m.in_force(as_of))
        and (q is None or _text_matches(policy, m, q))
    ]


def by_domain(policy: Policy, matters: list[Matter]) -> list[Matter]:
    """Grouped by domain in the manifest's order, as published lists are (stable within a domain)."""
    order = {d.id: n for n, d in enumerate(policy.manifest.domains)}
    return sorted(matters, key=lambda m: order.get(m.domain, len(order)))
