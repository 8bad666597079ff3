"""`tiaokuai`: the authors' and operators' command line. Thin: parse, call the engine, print.

Exit codes: 0 success, 1 findings (check) or a case the policy rejects, 2 usage errors.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from api import cli_audit, cli_list
from api.review_cli import review as review_command
from api.settings import DEFAULT_POLICY
from engine.decision import Case
from engine.errors import CaseError, PolicyError
from engine.runtime import Runtime

app = typer.Typer(help="tiaokuai 条块: responsibility determination policy service", no_args_is_help=True)

PolicyOpt = Annotated[
    Path,
    typer.Option("--policy", envvar="TIAOKUAI_POLICY", help="policy directory", show_default=True),
]


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.command()
def check(
    policy: PolicyOpt = DEFAULT_POLICY,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable report for editors and CI")] = False,
    explain: Annotated[str | None, typer.Option("--explain", metavar="ID", help="show the counter-example cases of ID's findings")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="static checks only (what activation runs); no cases decided")] = False,
    engine: Annotated[str, typer.Option(help="evaluate rules with `python` (proved equivalent) or `durable` (durable_rules)")] = "python",
    fail_on: Annotated[str, typer.Option("--fail-on", help="exit 1 on `warning` or only on `error` findings")] = "warning",
) -> None:
    """Prove the policy: every case decided; findings as `file:line: id: message`; exit 0 clean, 1 findings."""
    from api import check_report
    from engine.check import check_dir

    if engine not in ("python", "durable"):
        raise typer.BadParameter(f"`{engine}`: use python or durable", param_hint="--engine")
    if fail_on not in ("warning", "error"):
        raise typer.BadParameter(f"`{fail_on}`: use warning or error", param_hint="--fail-on")
    if explain is not None:  # an unknown id needs no proof
        quick = check_dir(policy, full=False)
        if quick.policy is not None and explain not in check_report.known_ids(quick.policy):
            hint = check_report.unknown_id_hint(quick, explain)
            typer.echo(f"error: unknown id `{explain}`" + (f" ({hint})" if hint else ""), err=True)
            raise typer.Exit(2)
    report = check_dir(policy, full=not fast, engine=engine)  # type: ignore[arg-type]
    if explain is not None:
        if not check_report.explain(report, explain, policy, typer.echo, as_json):
            hint = check_report.unknown_id_hint(report, explain)
            typer.echo(f"error: unknown id `{explain}`" + (f" ({hint})" if hint else ""), err=True)
            raise typer.Exit(2)
        ids = [f for f in report.findings if f.id == explain]
        failed = any(f.severity == "error" for f in ids) if fail_on == "error" else bool(ids)
        raise typer.Exit(1 if failed or report.policy is None else 0)
    if as_json:
        _echo_json(check_report.as_json(report, policy, fail_on))  # type: ignore[arg-type]
    else:
        check_report.text(report, policy, typer.echo)
    raise typer.Exit(1 if report.failed(fail_on) else 0)  # type: ignore[arg-type]


def _parse_attr(raw: str) -> tuple[str, Any]:
    key, sep, value = raw.partition("=")
    if not sep:
        raise typer.BadParameter(f"`{raw}`: use key=value")
    try:
        parsed: Any = json.loads(value)  # numbers and true/false
        if not isinstance(parsed, str | int | float | bool):
            parsed = value
    except json.JSONDecodeError:
        parsed = value
    return key, parsed


@app.command()
def decide(
    township: Annotated[str, typer.Option(help="township or street id")],
    matter: Annotated[str | None, typer.Option(help="matter id (omit for 清单外)")] = None,
    attr: Annotated[list[str] | None, typer.Option("--attr", help="attribute as key=value; repeatable")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: today)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    policy: PolicyOpt = DEFAULT_POLICY,
) -> None:
    """Decide who leads one case and explain why."""
    try:
        runtime = Runtime.from_dir(policy)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    attributes = dict(_parse_attr(a) for a in attr or [])
    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise typer.BadParameter(f"`{as_of}`: use YYYY-MM-DD", param_hint="--as-of") from None
    try:
        decision = runtime.decide(Case(township=township, matter=matter, attributes=attributes, as_of=day))
    except CaseError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        typer.echo(f"error: {exc.field}: {exc.message}{hint}", err=True)
        raise typer.Exit(1) from None
    out = decision.to_dict()
    if as_json:
        _echo_json(out)
        return
    typer.echo(f"outcome:   {out['outcome']}")
    typer.echo(f"lead:      {out['lead']['name']} ({out['lead']['id']})")
    typer.echo(f"supports:  {'、'.join(s['name'] for s in out['supports']) or '-'}")
    if out["coordinator"]:
        typer.echo(f"coordinator: {out['coordinator']['name']}")
    typer.echo(f"township:  {out['township']['name']}: {'、'.join(out['township']['duties'])}")
    if out["time_limits"]:
        typer.echo(f"limits:    {', '.join(f'{k}={v}' for k, v in out['time_limits'].items())}")
    typer.echo(f"rule:      {out['rule']['id']} {out['rule']['title']}")
    for basis in out["rule"]["basis"]:
        typer.echo(f"  basis:   {basis['document']} {basis.get('article', '')}".rstrip())
    for line in out["explanation"]:
        typer.echo(f"  {line['rule']}: {line['result']}: {line['reason']}")
    for note in out["notes"]:
        typer.echo(f"  note:    {note}")


@app.command()
def serve(
    policy: PolicyOpt = DEFAULT_POLICY,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    supervise: Annotated[bool, typer.Option(help="run the worker under a supervisor that restarts it if it crashes")] = True,
    access_log: Annotated[bool, typer.Option(help="log one line per request")] = True,
) -> None:
    """Serve the HTTP API with uvicorn (supervised: an engine crash restarts the worker)."""
    import uvicorn

    os.environ["TIAOKUAI_POLICY"] = str(policy)
    if supervise:
        from api.supervise import supervise as run_supervised

        raise typer.Exit(run_supervised(host, port, access_log=access_log))
    uvicorn.run("api.main:app", host=host, port=port, log_level="info", access_log=access_log)


@app.command()
def schema(out: Annotated[Path, typer.Option(help="where to write the JSON Schema")] = DEFAULT_POLICY / "schema" / "policy.schema.json") -> None:
    """Export the policy file JSON Schema (for editor autocompletion)."""
    from engine.model import PolicyFile

    out.parent.mkdir(parents=True, exist_ok=True)
    schema = PolicyFile.model_json_schema(by_alias=True)
    schema["title"] = "tiaokuai policy file"
    out.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"wrote {out}")


app.command("review")(review_command)

# The decision log, replay and impact analysis (api/cli_audit.py).
app.add_typer(cli_audit.audit_app, name="audit")
app.command()(cli_audit.replay)
app.command()(cli_audit.diff)
# The list as a spreadsheet and the Gherkin report (api/cli_list.py).
app.command()(cli_list.export)
app.command("import")(cli_list.import_)
app.command()(cli_list.report)


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `tiaokuai ... | head`
        sys.exit(0)


if __name__ == "__main__":
    main()
