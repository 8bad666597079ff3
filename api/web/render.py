"""Server-side rendering: one Jinja2 environment for the pages, the HTML export and the report.

Templates live in api/web/templates/, the one stylesheet in api/web/static/. Pages link the
stylesheet; standalone documents (the exported list, the Gherkin report file) inline it so
they can be mailed or published as a single file.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api.web.gherkin import STATUS_ZH, clause_of
from engine import ENGINE_VERSION
from engine.lead import TIER_ZH
from engine.listing import PROVENANCE_LABELS, RESPONSIBILITY_LABELS, Listing, render_limit
from engine.policy import Matter, Policy, Provenance, Responsibility

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STYLESHEET = HERE / "static" / "tiaokuai.css"

OUTCOME_ZH = {"assigned": "已确定牵头单位", "dispatch": "兜底派单", "conflict": "牵头存在争议"}
RESULT_ZH = {
    "won": "胜出",
    "lost": "落选",
    "tied": "同级",
    "conflict": "冲突",
    "applied": "附加",
    "skipped": "跳过",
    "dispatch": "兜底",
    "note": "说明",
}
KIND_ZH = {
    **TIER_ZH,
    "amendment": "附加规则",
    "matter": "清单事项",
    "delegation_grant": "赋权",
    "dispatch": "兜底派单",
    "criterion": "网格准入标准",
}


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        OUTCOME_ZH=OUTCOME_ZH,
        RESULT_ZH=RESULT_ZH,
        KIND_ZH=KIND_ZH,
        STATUS_ZH=STATUS_ZH,
        clause_of=clause_of,
        ENGINE_VERSION=ENGINE_VERSION,
        RESPONSIBILITY_LABELS={r.value: label for r, label in RESPONSIBILITY_LABELS.items()},
        PROVENANCE_LABELS={p.value: label for p, label in PROVENANCE_LABELS.items()},
    )
    env.filters["limit"] = render_limit
    return env


def stylesheet() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


def render(template: str, **context: Any) -> str:
    """Render one template. `standalone=True` inlines the stylesheet."""
    context.setdefault("standalone", False)
    context.setdefault("css", stylesheet() if context["standalone"] else "")
    context.setdefault("nav", None)
    return environment().get_template(template).render(**context)


def validity(item: Any) -> str:
    """`2021-07-01 起` / `至 2019-03-01 止` / `长期有效`, as officials write it."""
    start: date | None = item.valid_from
    end: date | None = item.valid_until
    if start and end:
        return f"{start} 起至 {end} 止"
    if start:
        return f"{start} 起"
    if end:
        return f"至 {end} 止(当日起失效)"
    return "长期有效"


def list_rows(policy: Policy, matters: list[Matter]) -> list[dict[str, Any]]:
    """The official columns of each matter, as lists where the page shows lists."""
    listing = Listing(policy)
    domains = {d.id: d.name for d in policy.manifest.domains}
    return [
        {
            "seq": n,
            "id": m.id,
            "name": m.name,
            "name_en": m.name_en,
            "domain": domains.get(m.domain, m.domain),
            "responsibility": RESPONSIBILITY_LABELS[Responsibility(m.responsibility)],
            "township_duties": list(m.township_duties),
            "department_duties": list(m.department_duties),
            "lead": listing.org_label(m.lead),
            "lead_note": None,
            "supports": [listing.org_label(s) for s in m.supports],
            "basis": m.basis,
            "time_limits": [(policy.manifest.time_limit_labels.get(k, k), render_limit(v)) for k, v in m.time_limits.items()],
            "validity": validity(m),
            "provenance": PROVENANCE_LABELS[Provenance(m.provenance)],
        }
        for n, m in enumerate(matters, 1)
    ]


def list_document(policy: Policy, matters: list[Matter], as_of: date | None) -> str:
    """The list as one standalone HTML page (for `tiaokuai export --format html`)."""
    return render(
        "list_document.html",
        standalone=True,
        policy=policy,
        rows=list_rows(policy, matters),
        as_of=as_of,
    )
