"""`tiaokuai deadline`: when a time limit falls due, by the same function the cases use."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from api.cli.common import DEFAULT_POLICY, ExitCode, PolicyOpt
from engine import PolicyError, load_policy
from engine.cases import Limit, WorkCalendar, due, iso


def deadline(
    start: Annotated[str, typer.Option("--start", help="when the limit starts: ISO 8601; without an offset it is China time")],
    limit: Annotated[str, typer.Option("--limit", help="30min, 1h, 3d or 5wd (working days)")],
    policy: PolicyOpt = DEFAULT_POLICY,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Print the due time (China time, ISO 8601). Past the calendar's last known year working
    days are Monday–Friday: the answer says so (on stderr, or `calendar` in --json)."""
    try:
        moment = datetime.fromisoformat(start)
    except ValueError:
        typer.echo(f"error: `{start}` is not an ISO 8601 time (e.g. 2026-09-30T10:00)", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        parsed = Limit.parse(limit)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    try:
        loaded = load_policy(policy)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.FINDINGS) from None
    calendar = WorkCalendar.of(loaded.calendar) if loaded.calendar is not None else WorkCalendar.weekdays_only()
    result = due(moment, parsed, calendar)
    if as_json:
        typer.echo(json.dumps({"start": iso(moment), "limit": str(parsed), "due": iso(result.at),
                               "calendar": "weekdays_assumed" if result.assumed else "official",
                               "known_until": calendar.last.isoformat() if loaded.calendar else None}, ensure_ascii=False))
        return
    typer.echo(iso(result.at))
    if result.assumed:
        typer.echo(f"note: counted Monday–Friday past {calendar.last.isoformat()}, the calendar's last known day (按周一至周五推算)", err=True)
