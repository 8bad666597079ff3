"""`tiaokuai audit verify|migrate`: check the decision log's hash chain, apply its migrations.

Exit codes: 0 ok, 1 a broken chain, 2 usage errors (no such log).
"""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import DbOpt, ExitCode, echo_json, fail, log_url, open_existing_log
from engine import LogError
from engine.cases import CaseStore
from engine.log import describe_url, open_log

audit_app = typer.Typer(help="The decision log: check its hash chain, apply its migrations.", no_args_is_help=True)


@audit_app.command()
def verify(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the hash chain from the first record; report the first broken link (exit 1)."""
    log = open_existing_log(db)
    try:
        result = log.verify()
        events, events_head, events_broken = CaseStore(log.db).verify()
    finally:
        log.close()
    if as_json:
        broken = None if result.broken is None else result.broken.__dict__
        case_events = {"records": events, "head": events_head, "broken": None if events_broken is None else events_broken.__dict__}
        echo_json({"ok": result.ok and events_broken is None, "records": result.records, "policies": result.policies, "head": result.head,
                   "broken": broken, "case_events": case_events})
    elif result.broken is None:
        typer.echo(f"ok: {result.records} records, chain intact, head {result.head[:16]}, {result.policies} policy versions")
        if events_broken is None:
            typer.echo(f"ok: {events} case events, chain intact, head {events_head[:16]}")
    else:
        b = result.broken
        what = f"record #{b.seq} ({b.id})" if b.seq else f"policy version {b.id}"
        typer.echo(f"broken: {what}: {b.reason}")
        typer.echo(f"the first {result.records} records are intact", err=True)
    if events_broken is not None and not as_json:
        typer.echo(f"broken: case event #{events_broken.seq} ({events_broken.id}): {events_broken.reason}")
        typer.echo(f"the first {events} case events are intact", err=True)
    if not result.ok or events_broken is not None:
        raise typer.Exit(ExitCode.FINDINGS)


@audit_app.command()
def migrate(db: DbOpt = None) -> None:
    """Create or upgrade the decision log's tables (the server also does this at start)."""
    url = log_url(db)
    try:
        log = open_log(url)
    except LogError as exc:
        raise fail(str(exc)) from None
    log.close()
    typer.echo(f"ok: decision log at {describe_url(url)} is up to date")
