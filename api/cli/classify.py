"""`tiaokuai classify`: which matter a ticket's words are, with the evidence, and who leads."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from api.cli.common import DEFAULT_POLICY, ExitCode, PolicyOpt, echo_json
from api.cli.decide import parse_attr, print_decision
from engine import CaseError, ErrorCode, LeadRequest, PolicyError, Runtime


def classify(
    text: Annotated[str, typer.Argument(help="the ticket's words (诉求内容)")],
    place: Annotated[str | None, typer.Option(help="township, alias, village, community or an address")] = None,
    township: Annotated[str | None, typer.Option(help="township or street id (wins over --place and the text)")] = None,
    attr: Annotated[list[str] | None, typer.Option("--attr", help="attribute as key=value; repeatable (wins over cues)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=20, help="candidates to show")] = 5,
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: today)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    policy: PolicyOpt = DEFAULT_POLICY,
) -> None:
    """Rank the list's matters for a ticket text (score and evidence), then decide who leads
    as POST /v1/cases/lead would: high confidence decided, medium marked for confirmation,
    low dispatched."""
    try:
        runtime = Runtime.from_dir(policy)
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(ExitCode.FINDINGS) from None
    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise typer.BadParameter(f"`{as_of}`: use YYYY-MM-DD", param_hint="--as-of") from None
    attributes = dict(parse_attr(a) for a in attr or [])
    out: dict[str, Any] = {}
    try:
        found = runtime.intake.classify(text, day, limit)
        out["classification"] = {
            "items": [c.to_dict() for c in found.candidates],
            "confidence": found.confidence.value,
            "reason": found.reason,
        }
        request = LeadRequest(as_of=day, township=township, text=text, place=place, attributes=attributes)
        out["decision"] = runtime.answer(request).to_dict("-")
    except CaseError as exc:
        if exc.code != ErrorCode.MISSING_FIELD or "classification" not in out:
            _fail(exc)
        out["decision"] = None
        out["missing"] = exc.message
    if as_json:
        echo_json(out)
        return
    _print(out)


def _fail(exc: CaseError) -> None:
    hint = f" ({exc.hint})" if exc.hint else ""
    typer.echo(f"error: {exc.field}: {exc.message}{hint}", err=True)
    raise typer.Exit(ExitCode.FINDINGS)


def _print(out: dict[str, Any]) -> None:
    found = out["classification"]
    typer.echo(f"confidence: {found['confidence']} ({found['reason']})")
    for rank, item in enumerate(found["items"], 1):
        typer.echo(f"{rank}. {item['id']} {item['name']}  score {item['score']:g}")
        for e in item["evidence"]:
            where = "/".join(e["in"])
            example = f"  e.g. {e['example']}" if e.get("example") and e["in"] == ["example"] else ""
            typer.echo(f"     {e['term']} ({e['kind']}, {where}) +{e['score']:g}{example}")
    decision = out["decision"]
    if decision is None:
        typer.echo(f"decision:   none — {out['missing']}")
        return
    intake = decision["intake"]
    township = intake["township"]
    via = f" via {township['via']} `{township['matched']}`" if township.get("matched") else f" via {township['via']}"
    typer.echo(f"township:   {township['name']} ({township['id']}){via}")
    for a in intake.get("attributes", []):
        overridden = " (overridden by --attr)" if a.get("overridden_by") else ""
        typer.echo(f"attribute:  {a['id']}={a['value']} ← `{a['cue']}`{overridden}")
    if intake.get("needs_confirmation"):
        typer.echo("needs confirmation: yes")
    typer.echo("")
    print_decision(decision)
