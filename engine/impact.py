"""Impact analysis in a throwaway child process, with a timeout (like the reload check).

Why: deciding a whole case space under two policy versions takes seconds to minutes, holds
the GIL in durable_rules' C code, and registers both versions' rulesets, whose memory the
serving process would keep. In a child none of that touches the server: the child is
killed at the timeout and its memory is returned when it exits.

`impact_in_child(base, head, logged, exhaustive, timeout, max_changes)` sends the two
policies' files and the logged cases (as `python -m engine.impact`), and returns the `Impact` with at most `max_changes`
case changes, plus the total and the per-matter-and-township groups of all of them.
"""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from dataclasses import dataclass, field

from engine.analysis.diff import Impact, impact
from engine.errors import AnalysisFailed, Finding, PolicyError
from engine.lead.decision import Case


@dataclass
class Group:
    """The changed cases of one matter in one township, summarised."""

    matter: str | None
    township: str
    cases: int = 0
    fields: set[str] = field(default_factory=set)
    before: set[str] = field(default_factory=set)
    after: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Analysis:
    impact: Impact  # its `changes` cut to the first max_changes
    changed_total: int
    groups: list[Group]


def grouped(result: Impact) -> list[Group]:
    """Changed cases grouped by matter and township, in the analysis' order."""
    groups: dict[tuple[str | None, str], Group] = {}
    for change in result.changes:
        key = (change.case.matter, change.case.township)
        group = groups.setdefault(key, Group(*key))
        group.cases += 1
        group.fields.update(change.changed)
        for side, summary in ((group.before, change.before), (group.after, change.after)):
            side.add(summary.lead_name or summary.outcome if summary.error is None else f"拒绝: {summary.error}")
    return list(groups.values())


def impact_in_child(
    base: dict[str, str],
    head: dict[str, str],
    logged: list[tuple[str, Case]],
    exhaustive: bool,
    timeout: float,
    max_changes: int,
) -> Analysis:
    """Run the analysis in `python -m engine.impact`; raise PolicyError or AnalysisFailed."""
    request = pickle.dumps({"base": base, "head": head, "logged": logged, "exhaustive": exhaustive, "max_changes": max_changes})
    try:
        done = subprocess.run([sys.executable, "-m", "engine.impact"], input=request, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise AnalysisFailed(f"the impact analysis did not finish within {timeout:g}s", timed_out=True) from None
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        raise AnalysisFailed(f"the impact analysis failed: {tail[0]}")
    # NOTE: pickle is safe here: the bytes come from our own child process, never from a caller.
    answer = pickle.loads(done.stdout)
    if isinstance(answer, list):
        raise PolicyError([Finding(**f) for f in answer])
    assert isinstance(answer, Analysis)
    return answer


def _child() -> None:
    # This module runs as __main__ here: pickle the answer with the classes' importable names.
    from engine import impact as named
    from engine.runtime import Runtime

    job = pickle.loads(sys.stdin.buffer.read())
    try:
        base, head = Runtime.from_files(job["base"], "base", cache_size=0), Runtime.from_files(job["head"], "head", cache_size=0)
    except PolicyError as exc:
        sys.stdout.buffer.write(pickle.dumps([dataclasses.asdict(f) | {"examples": ()} for f in exc.findings]))
        return
    result = impact(base.policy, base.decide, head.policy, head.decide, job["logged"], exhaustive=job["exhaustive"])
    answer = named.Analysis(dataclasses.replace(result, changes=result.changes[: job["max_changes"]]), len(result.changes), named.grouped(result))
    sys.stdout.buffer.write(pickle.dumps(answer))


if __name__ == "__main__":
    _child()
