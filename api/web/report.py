"""The Gherkin report's content: every feature, the status counts and each clause's scenarios.

Used by the /report page and by `tiaokuai report` (no HTTP here).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from api.web import gherkin
from api.web.clauses import criteria
from engine.policy import Policy


def report_context(policy: Policy, features: list[gherkin.Feature], source: str | None) -> dict[str, Any]:
    """What the report shows: every feature, the status counts and each clause's scenarios."""
    index = gherkin.by_clause(features)
    clauses = [(m.id, m.name, "matter") for m in policy.matters.values()]
    clauses += [(r.id, r.title, r.kind.value) for r in policy.rules]
    clauses += [(c.id, c.title, "criterion") for c in criteria(policy)]
    source_time = None
    if source and Path(source).is_file():
        source_time = datetime.fromtimestamp(Path(source).stat().st_mtime).astimezone().isoformat(timespec="seconds")
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
    }
