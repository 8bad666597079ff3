"""The Gherkin report's content: every feature, the status counts and each clause's scenarios.

Used by the /report page and by `tiaokuai report` (no HTTP here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from api.web import gherkin
from api.web.clauses import criteria
from api.web.wording import china_time_text, step_glosser
from engine.policy import Policy


def results_time(source: str | None) -> str | None:
    """When the scenario results were written (the file's modification time), in China time."""
    if not source or not Path(source).is_file():
        return None
    return china_time_text(datetime.fromtimestamp(Path(source).stat().st_mtime, UTC))


def report_context(policy: Policy, features: list[gherkin.Feature], source: str | None) -> dict[str, Any]:
    """What the report shows: every feature, the status counts and each clause's scenarios."""
    index = gherkin.by_clause(features)
    clauses = [(m.id, m.name, "matter") for m in policy.matters.values()]
    clauses += [(r.id, r.title, r.kind.value) for r in policy.rules]
    clauses += [(c.id, c.title, "criterion") for c in criteria(policy)]
    source_time = results_time(source)
    return {
        "features": features,
        "counts": gherkin.summary(features),
        "total": sum(len(f.scenarios) for f in features),
        "clauses": [
            {"id": i, "title": t, "kind": k, "scenarios": index.get(i, []), "status": gherkin.worst(s.status for s in index.get(i, []))}
            for i, t, k in clauses
        ],
        "source": source,
        "source_time": source_time,
        "gloss": step_glosser(policy),
    }
