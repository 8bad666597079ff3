"""`tiaokuai check`: prove the policy, and its output: findings grouped by file, `--json` for editors and CI, `--explain`.

Text lines are `file:line: id: message (hint)  [severity code]`, with the file relative to
the working directory when it can be, so editors and CI annotations can jump to it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import DEFAULT_POLICY, ExitCode, PolicyOpt, echo_json
from engine import Finding, TiaokuaiError
from engine.analysis import FindingSeverity, Report, check_dir, example_decider
from engine.lead import Case
from engine.policy import Policy, source_path, suggest, unchanged_since_commit

Echo = Callable[[str], None]


def display_path(policy_dir: Path, file: str | None) -> str:
    """The finding's file as the author would open it from here."""
    if not file:
        return str(policy_dir)
    path = source_path(policy_dir, file)  # a template's file is in its own directory
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)
    return rel if not rel.startswith("..") else str(path)


def render(finding: Finding, policy_dir: Path) -> str:
    where = display_path(policy_dir, finding.file)
    if finding.line is not None:
        where = f"{where}:{finding.line}"
    ident = f" {finding.id}:" if finding.id else ""
    hint = f" ({finding.hint})" if finding.hint else ""
    return f"{where}:{ident} {finding.message}{hint}  [{finding.severity} {finding.code}]"


def _finding_dict(finding: Finding, policy_dir: Path) -> dict[str, Any]:
    return {
        "code": finding.code,
        "severity": finding.severity,
        "file": finding.file,
        "path": display_path(policy_dir, finding.file),
        "line": finding.line,
        "id": finding.id,
        "message": finding.message,
        "hint": finding.hint,
        "examples": [c.to_dict() for c in finding.examples],
    }


def _summary(report: Report) -> str:
    if report.proved:
        return f"proved {report.cases} case{'s' if report.cases != 1 else ''} in {report.seconds:.2f} s"
    if report.policy is None:
        return "the policy did not load: nothing was proved"
    if report.errors:
        return f"checked statically in {report.seconds:.2f} s; not proved: fix the errors first"
    return f"checked statically in {report.seconds:.2f} s (--fast: no cases decided)"


def _counts(findings: list[Finding]) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    warnings = len(findings) - errors
    files = len({f.file for f in findings})
    parts = [f"{errors} error{'s' if errors != 1 else ''}", f"{warnings} warning{'s' if warnings != 1 else ''}"]
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({', '.join(parts)}) in {files} file{'s' if files != 1 else ''}"


def print_report(report: Report, policy_dir: Path, echo: Echo) -> None:
    """Findings grouped by file, then the summary lines."""
    findings = list(report.findings)
    for index, (_, group) in enumerate(groupby(findings, key=lambda f: f.file or "")):
        if index:
            echo("")
        for finding in group:
            echo(render(finding, policy_dir))
    if findings:
        echo("")
        echo(_counts(findings))
    elif report.policy is not None:
        policy = report.policy
        counts = ", ".join(f"{v} {k}" for k, v in policy.counts().items())
        echo(f"ok: {policy.id} {policy.version} ({counts}) digest {policy.digest[:12]}")
    echo(_summary(report))


def report_json(report: Report, policy_dir: Path, fail_on: FindingSeverity) -> dict[str, Any]:
    policy = report.policy
    return {
        "ok": not report.failed(fail_on),
        "policy": {"id": policy.id, "version": policy.version, "digest": policy.digest, "counts": policy.counts()}
        if policy
        else None,
        "proved": report.proved,
        "cases": report.cases,
        "seconds": round(report.seconds, 3),
        "timings": {name: round(seconds, 3) for name, seconds in report.timings},
        "summary": {"errors": len(report.errors), "warnings": len(report.warnings)},
        "findings": [_finding_dict(f, policy_dir) for f in report.findings],
    }


def reproduce(case: Case, policy_dir: Path) -> str:
    """The `tiaokuai decide` command that decides this case."""
    parts = ["tiaokuai decide", f"--policy {display_path(policy_dir, None)}"]
    if case.matter:
        parts.append(f"--matter {case.matter}")
    parts += [f"--township {case.township}", f"--as-of {case.as_of.isoformat()}"]
    for key, value in sorted(case.attributes.items()):
        shown = json.dumps(value) if isinstance(value, bool | int | float) else str(value)
        parts.append(f"--attr {key}={shown}")
    return " ".join(parts)


def known_ids(policy: Policy) -> list[str]:
    ids = [*policy.matters, *(r.id for r in policy.rules), *policy.organizations, *(d.id for d in policy.delegations)]
    return [policy.id, *ids]


def explain_findings(report: Report, item_id: str, policy_dir: Path, echo: Echo, as_json_output: bool) -> bool:
    """Print the findings about `item_id` with every counter-example case decided.

    Returns False when the id is neither in a finding nor in the policy.
    """
    findings = [f for f in report.findings if f.id == item_id]
    policy = report.policy
    if not findings and (policy is None or item_id not in known_ids(policy)):
        return False
    decided: list[list[dict[str, Any]]] = []
    decider = None
    if policy is not None and any(f.examples for f in findings):
        try:
            decider = example_decider(policy)
        except TiaokuaiError as exc:  # e.g. a structural limit: nothing can be decided
            echo(f"note: the cases cannot be decided: {exc}")
    for finding in findings:
        rows = []
        for case in finding.examples:
            decision = decider(case).to_dict() if decider is not None else None
            row: dict[str, Any] = {"case": case.to_dict(), "decision": decision, "reproduce": reproduce(case, policy_dir)}
            rows.append(row)
        decided.append(rows)
    if as_json_output:
        out = [{**_finding_dict(f, policy_dir), "examples": rows} for f, rows in zip(findings, decided, strict=True)]
        echo(json.dumps({"id": item_id, "findings": out}, ensure_ascii=False, indent=2, default=_default))
        return True
    if not findings:
        echo(f"no findings for `{item_id}`")
        return True
    for finding, rows in zip(findings, decided, strict=True):
        echo(render(finding, policy_dir))
        if not rows:
            echo("  no counter-example case: the finding is about the policy text itself")
        for n, row in enumerate(rows, 1):
            case = row["case"]
            attrs = "".join(f", {k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}" for k, v in sorted(case["attributes"].items()))
            echo(f"  case {n}: matter {case['matter'] or '-'}, township {case['township']}, as_of {case['as_of']}{attrs}")
            d = row["decision"]
            if d is not None:
                echo(f"    outcome {d['outcome']}: lead {d['lead']['name']} ({d['lead']['id']}) by {d['rule']['id']}")
                for line in d["explanation"]:
                    echo(f"      {line['rule']}: {line['result']}: {line['reason']}")
            echo(f"    reproduce: {row['reproduce']}")
        echo("")
    return True


def unknown_id_hint(report: Report, item_id: str) -> str | None:
    return suggest(item_id, known_ids(report.policy)) if report.policy is not None else None


def _default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def check(
    policy: PolicyOpt = DEFAULT_POLICY,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report for editors and CI")] = False,
    explain: Annotated[str | None, typer.Option("--explain", metavar="ID", help="show the counter-example cases of ID's findings")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="static checks only (what activation runs); no cases decided")] = False,
    evaluator: Annotated[str, typer.Option("--engine", help="evaluate rules with `python` (proved equivalent) or `durable` (durable_rules)")] = "python",
    fail_on: Annotated[str, typer.Option("--fail-on", help="exit 1 on `warning` or only on `error` findings")] = "warning",
) -> None:
    """Prove the policy: every case decided; findings as `file:line: id: message`; exit 0 clean, 1 findings."""
    if evaluator not in ("python", "durable"):
        raise typer.BadParameter(f"`{evaluator}`: use python or durable", param_hint="--engine")
    if fail_on not in ("warning", "error"):
        raise typer.BadParameter(f"`{fail_on}`: use warning or error", param_hint="--fail-on")
    if explain is not None:  # an unknown id needs no proof
        quick = check_dir(policy, full=False)
        if quick.policy is not None and explain not in known_ids(quick.policy):
            hint = unknown_id_hint(quick, explain)
            typer.echo(f"error: unknown id `{explain}`" + (f" ({hint})" if hint else ""), err=True)
            raise typer.Exit(ExitCode.USAGE)
    report = check_dir(policy, full=not fast, evaluator=evaluator)  # type: ignore[arg-type]
    unbumped = unchanged_since_commit(report.policy, policy) if report.policy is not None else None
    if unbumped is not None:  # edited since the last commit, same version: authors run check before committing
        report = dataclasses.replace(report, findings=(*report.findings, unbumped))
    if explain is not None:
        if not explain_findings(report, explain, policy, typer.echo, as_json):
            hint = unknown_id_hint(report, explain)
            typer.echo(f"error: unknown id `{explain}`" + (f" ({hint})" if hint else ""), err=True)
            raise typer.Exit(ExitCode.USAGE)
        ids = [f for f in report.findings if f.id == explain]
        failed = any(f.severity == "error" for f in ids) if fail_on == "error" else bool(ids)
        raise typer.Exit(ExitCode.FINDINGS if failed or report.policy is None else ExitCode.OK)
    if as_json:
        echo_json(report_json(report, policy, fail_on))  # type: ignore[arg-type]
    else:
        print_report(report, policy, typer.echo)
    raise typer.Exit(ExitCode.FINDINGS if report.failed(fail_on) else ExitCode.OK)  # type: ignore[arg-type]
