"""`tiaokuai decide`: who leads one case, and why, from the command line."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

import typer

from api.cli.common import DEFAULT_POLICY, ExitCode, PolicyOpt, echo_json
from engine import Case, CaseError, PolicyError, Runtime


def parse_attr(raw: str) -> tuple[str, Any]:
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
        raise typer.Exit(ExitCode.FINDINGS) from None
    attributes = dict(parse_attr(a) for a in attr or [])
    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise typer.BadParameter(f"`{as_of}`: use YYYY-MM-DD", param_hint="--as-of") from None
    try:
        decision = runtime.decide(Case(township=township, matter=matter, attributes=attributes, as_of=day))
    except CaseError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        typer.echo(f"error: {exc.field}: {exc.message}{hint}", err=True)
        raise typer.Exit(ExitCode.FINDINGS) from None
    out = decision.to_dict()
    if as_json:
        echo_json(out)
        return
    print_decision(out)


def print_decision(out: dict[str, Any]) -> None:
    """A lead answer as the terminal shows it (also `tiaokuai classify`)."""
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
