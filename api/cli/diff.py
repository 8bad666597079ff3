"""`tiaokuai diff`: what a policy change would do — clauses changed and every decision that changes.

Exit codes: 0 (or 1 with `--exit-code` when a decision changes), 2 an unreadable policy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import DEFAULT_POLICY, ExitCode, echo_json, open_existing_log
from engine import Policy, PolicyError
from engine.analysis import Decide


def _policy_files(spec: str, layer_only: bool = False) -> tuple[dict[str, str], str]:
    from engine.policy import layer_files_at, parse_source, policy_files_at, read_layer_dir, read_policy_dir

    git = parse_source(spec)
    if git is not None:
        return (layer_files_at if layer_only else policy_files_at)(*git), spec
    return (read_layer_dir if layer_only else read_policy_dir)(Path(spec)), spec


def diff(
    base: Annotated[str, typer.Option(help="the policy now: a directory, or git:REV[:PATH] (PATH defaults to policy)")],
    head: Annotated[str, typer.Option(help="the proposed policy: a directory, or git:REV[:PATH]")] = str(DEFAULT_POLICY),
    log_db: Annotated[str | None, typer.Option("--log", help="also re-decide the lead requests in this decision log (URL or SQLite path)")] = None,
    space: Annotated[bool, typer.Option("--space/--no-space", help="enumerate the declared case space")] = True,
    matter: Annotated[list[str] | None, typer.Option("--matter", help="only cases of this matter; repeatable")] = None,
    exhaustive: Annotated[bool, typer.Option(help="decide every matter, also those the change cannot reach")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="exit 1 when any decision would change")] = False,
    limit: Annotated[int, typer.Option(help="changed cases listed one per line after the summary (0: all)")] = 50,
    counties: Annotated[Path | None, typer.Option(help="base and head name a template: show its impact on every county under this directory")] = None,
) -> None:
    """What a policy change would do: clauses changed, and every decision whose lead, supports or outcome would change."""
    from api.http.schemas.lead import logged_case
    from engine import ReplayError, Runtime
    from engine.analysis import impact, render_table

    if counties is not None:
        _template_diff(base, head, counties, as_json, exit_code, exhaustive, space)
        return

    sides = []
    for spec in (base, head):
        try:
            files, source = _policy_files(spec)
            sides.append(Runtime.from_files(files, source))
        except PolicyError as exc:
            typer.echo(f"{spec}: policy rejected", err=True)
            for finding in exc.findings:
                typer.echo(finding.render(), err=True)
            raise typer.Exit(ExitCode.USAGE) from None
    logged = []
    if log_db is not None:
        log = open_existing_log(log_db)
        try:
            for record in log.records(kind="lead"):
                if record.policy_id not in (sides[0].policy.id, sides[1].policy.id):
                    continue  # another jurisdiction's decision: its townships are not these
                try:
                    logged.append((record.id, logged_case(record.request, record.response_json())))
                except ReplayError:
                    continue  # not a lead request this engine can read; verify/replay report those
        finally:
            log.close()
    old, new = sides
    result = impact(old.policy, old.decide, new.policy, new.decide, logged, with_space=space, matters=set(matter) if matter else None, exhaustive=exhaustive)
    if as_json:
        echo_json(result.to_dict())
    else:
        typer.echo(render_table(result, limit), nl=False)
    if exit_code and result.changes:
        raise typer.Exit(ExitCode.FINDINGS)


def _template_diff(base: str, head: str, counties: Path, as_json: bool, exit_code: bool, exhaustive: bool, space: bool) -> None:
    """`diff --counties DIR`: a template change, county by county."""
    from engine import Runtime, county_dirs
    from engine.analysis import render_table, template_impact
    from engine.policy import read_policy_dir

    def activate(files: dict[str, str], source: str) -> tuple[Policy, Decide]:
        runtime = Runtime.from_files(files, source, cache_size=0)
        return runtime.policy, runtime.decide

    try:
        old, _ = _policy_files(base, layer_only=True)
        new, _ = _policy_files(head, layer_only=True)
        served = {d.name: read_policy_dir(d) for d in county_dirs(counties)}
        results = template_impact(old, new, served, activate, exhaustive=exhaustive, with_space=space)
    except PolicyError as exc:
        for finding in exc.findings:
            typer.echo(finding.render(), err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    if as_json:
        echo_json({"counties": [r.to_dict() for r in results]})
    else:
        for result in results:
            changed = len(result.impact.changes)
            typer.echo(f"== {result.name} ({result.county}): {changed} decision(s) change ==")
            typer.echo(render_table(result.impact), nl=False)
        if not results:
            typer.echo("no county under that directory extends this template")
    if exit_code and any(r.impact.changes for r in results):
        raise typer.Exit(ExitCode.FINDINGS)
