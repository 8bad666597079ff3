"""Hot reload: read the policy directory again, check it in a throwaway process, then swap.

A new policy is activated only after a child process (`python -m engine.reload`) has
loaded, validated and compiled it, registered it with durable_rules and decided one case
per matter, all within a timeout. durable_rules can hang (more than 512 sibling tests
make `create_ruleset` spin while holding the GIL) or crash the process on some inputs
(docs/durable_rules.md §2, §4): in the child either costs nothing but the child. Then the
serving process loads the same files and swaps (engine.runtime.Runtime.swap). Any
failure raises PolicyError with findings; the active policy keeps serving.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.analysis.diff import ClauseChange, clause_changes
from engine.errors import ConfirmationRequired, Finding, PolicyError
from engine.policy.index import Policy
from engine.policy.load import digest_files, policy_from_files, read_policy_dir
from engine.runtime import Active, Runtime

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: `changed` is False when the files' digest equals the active one."""

    changed: bool
    active: Active
    previous: dict[str, str]
    took_ms: float
    clauses: tuple[ClauseChange, ...] = ()


CLAUSE_SECTIONS = ("matters", "rules", "delegations", "grid_criteria")


def emptied_files(base: Policy, head: Policy) -> dict[str, list[str]]:
    """Files that hold clauses (matters, rules, delegations, criteria) in `base` and none in `head`."""

    def by_file(policy: Policy) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for (section, item_id), location in policy.locations.items():
            if section in CLAUSE_SECTIONS:
                out.setdefault(location.file, []).append(item_id)
        return out

    before, after = by_file(base), by_file(head)
    return {name: ids for name, ids in sorted(before.items()) if name not in after}


def check_in_child(files: dict[str, str], timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
    """Load, compile, register and smoke-decide `files` in a child process.

    Returns the child's report (digest, counts, decisions); raises PolicyError with the
    child's findings, or with one finding when it timed out or died.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-m", "engine.reload"],
            input=json.dumps({"files": files}, ensure_ascii=False),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise PolicyError(
            [
                Finding(
                    "compile_timeout",
                    f"the compile-check did not finish within {timeout:g}s",
                    hint="durable_rules hangs on more than 512 sibling tests under one node: split large domains or factor rules by matter",
                )
            ]
        ) from None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise PolicyError([Finding("compile_crash", f"the compile-check process died ({name})", hint="durable_rules crashed on this policy")])
    try:
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        tail = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise PolicyError([Finding("compile_crash", f"the compile-check process failed: {tail[0]}")]) from None
    if not report.get("ok"):
        raise PolicyError([Finding(**f) for f in report.get("findings", [])] or [Finding("invalid_policy", "the policy was rejected")])
    return report


def reload_policy(
    runtime: Runtime,
    path: Path | str,
    timeout: float = DEFAULT_TIMEOUT,
    confirm: Collection[str] = (),
    record: Callable[[Policy, str], None] | None = None,
) -> ReloadResult:
    """Reload `path` into `runtime` if its files changed. Serialised per runtime.

    Raises PolicyError (findings, timeout, crash) or ConfirmationRequired (a file's
    clauses all removed and the file not named in `confirm`); the active policy keeps
    serving. `record(policy, source)` is called once the policy passed the check and
    before it is swapped in (the decision log's activation record).
    """
    with runtime.reload_lock:
        started = time.perf_counter()
        previous = runtime.active
        before = {"id": previous.policy.id, "version": previous.policy.version, "digest": previous.policy.digest}
        files = read_policy_dir(Path(path))
        if digest_files(files) == previous.policy.digest:
            return ReloadResult(False, previous, before, (time.perf_counter() - started) * 1000)
        policy = policy_from_files(files)
        changes = clause_changes(previous.policy, policy)
        emptied = {name: ids for name, ids in emptied_files(previous.policy, policy).items() if name not in confirm}
        if emptied:
            raise ConfirmationRequired(emptied, [c.to_dict() for c in changes])
        check_in_child(files, timeout)
        if record is not None:
            record(policy, str(path))
        active = runtime.swap(policy, str(path))
        return ReloadResult(True, active, before, (time.perf_counter() - started) * 1000, tuple(changes))


def _child() -> None:
    """The throwaway process: report `{"ok": bool, ...}` as one JSON line on stdout."""
    from engine.errors import TiaokuaiError
    from engine.lead.decision import Case
    from engine.rules.compile import compile_policy
    from engine.rules.durable import DurableRules

    try:
        files = json.loads(sys.stdin.read())["files"]
        policy = policy_from_files(files)
        compiled = compile_policy(policy)
        adapter = DurableRules()
        registration = adapter.register(compiled)
        runtime = Runtime(Active(compiled, registration, datetime.now(UTC), "<check>"), adapter, cache_size=0)
        townships = [t.id for t in policy.townships()]
        decided = 0
        for matter in policy.matters.values() if townships else ():  # every shard is exercised
            day = matter.valid_from or datetime.now(UTC).date()
            runtime.decide(Case(township=townships[0], matter=matter.id, as_of=day))
            decided += 1
        report: dict[str, Any] = {"ok": True, "digest": policy.digest, "counts": policy.counts(), "decided": decided}
    except PolicyError as exc:
        report = {"ok": False, "findings": [f.__dict__ for f in exc.findings]}
    except TiaokuaiError as exc:
        report = {"ok": False, "findings": [Finding("compile_error", str(exc)).__dict__]}
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    _child()
