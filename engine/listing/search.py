"""Finding matters in the list: one search for the API (GET /v1/matters) and the pages (/list),
with the same matcher as intake."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from engine.intake import intake_for
from engine.policy.index import Policy
from engine.policy.model import Matter

MIN_SCORE = 5.0  # a hit below this shares only a common word or a character pair with the query
RELATIVE = 0.3  # and a hit below this share of the best one is noise next to it
_ID_LIKE = re.compile(r"^[A-Za-z]{2,}[A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class SearchHit:
    matter: Matter
    score: float | None = None  # the matcher's score; None for an id match or without a query


def search_matters(
    policy: Policy, q: str | None = None, domain: str | None = None, as_of: date | None = None
) -> list[SearchHit]:
    """The matters `q` finds, in `domain`, in force on `as_of`.

    Without `q`: every such matter in the policy's order. An id or id prefix (`WAT-01`, `wat`)
    finds those ids; any other query is ranked by intake's matcher (engine.intake: names,
    aliases, examples and duties; jieba words and character bigrams), best first, so that a
    phrase (偷挖河沙) or a whole sentence finds its matter as a ticket would."""
    pool = {
        m.id: m
        for m in policy.matters.values()
        if (domain is None or m.domain == domain) and (as_of is None or m.in_force(as_of))
    }
    if q is None or not q.strip():
        return [SearchHit(m) for m in pool.values()]
    needle = q.strip()
    if _ID_LIKE.match(needle):
        prefix = needle.casefold()
        by_id = [SearchHit(m) for m in pool.values() if m.id.casefold().startswith(prefix)]
        if by_id:
            return by_id
    ranked = [c for c in intake_for(policy).search(needle, as_of) if c.id in pool]
    if not ranked:
        return []
    floor = max(MIN_SCORE, RELATIVE * ranked[0].score)
    return [SearchHit(pool[c.id], c.score) for c in ranked if c.score >= floor]


def by_domain(policy: Policy, matters: list[Matter]) -> list[Matter]:
    """Grouped by domain in the manifest's order, as published lists are (stable within a domain)."""
    order = {d.id: n for n, d in enumerate(policy.manifest.domains)}
    return sorted(matters, key=lambda m: order.get(m.domain, len(order)))
