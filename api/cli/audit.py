"""`tiaokuai audit verify|checkpoint|migrate`: check the decision log's hash chain, its stored
policy versions and its signed checkpoints; sign a checkpoint now; apply its migrations.

Exit codes: 0 ok, 1 a broken chain or checkpoint, 2 usage errors (no such log, unreadable key).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import DbOpt, ExitCode, echo_json, fail, log_url, open_existing_log
from api.settings import Settings, checkpoint_paths
from engine import CheckpointError, LogError
from engine.cases import Anchors, CaseStore
from engine.log import (
    Checkpointer,
    CheckpointFile,
    describe_url,
    load_or_create_key,
    load_public_key,
    open_log,
    utc_now,
    verify_against,
)

audit_app = typer.Typer(help="The decision log: check its hash chain, apply its migrations.", no_args_is_help=True)


def _checkpoint_paths(db: str | None, key: Path | None, checkpoints: Path | None) -> tuple[Path, Path] | None:
    settings = Settings.from_env()
    return checkpoint_paths(log_url(db), key or settings.checkpoint_key, checkpoints or settings.checkpoints)


KeyOpt = Annotated[
    Path | None,
    typer.Option("--key", help="checkpoint key: the public key (PEM) or the private key file (default: TIAOKUAI_CHECKPOINT_KEY or beside the log)"),
]
CheckpointsOpt = Annotated[
    Path | None,
    typer.Option("--checkpoints", help="signed checkpoints, one JSON line each (default: TIAOKUAI_CHECKPOINTS or beside the log)"),
]


@audit_app.command()
def verify(db: DbOpt = None, key: KeyOpt = None, checkpoints: CheckpointsOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the hash chain, the stored policy versions and the signed checkpoints (exit 1 on the first problem).

    The chain shows a record changed in place; the checkpoints show records rewritten and
    re-chained, or deleted from the end, up to the newest checkpoint.
    """
    log = open_existing_log(db)
    paths = _checkpoint_paths(db, key, checkpoints)
    anchored = paths is not None and paths[1].exists()
    problem = None
    checked = 0
    try:
        result = log.verify()
        events_store = CaseStore(log.db)
        events, events_head, events_broken = events_store.verify()
        if result.ok and paths is not None and anchored:
            anchors = Anchors(log, events_store)
            try:
                checked, problem = verify_against(CheckpointFile(paths[1]).read(), load_public_key(paths[0]), result.records, log.hash_at,
                                                  anchors.lengths(result.chains, events), anchors.hash_at)
            except CheckpointError as exc:
                raise fail(str(exc)) from None
    finally:
        log.close()
    if as_json:
        broken = None if result.broken is None else result.broken.__dict__
        found = None if problem is None else {"line": problem.line, "count": problem.checkpoint.count, "time": problem.checkpoint.time, "reason": problem.reason}
        case_events = {"records": events, "head": events_head, "broken": None if events_broken is None else events_broken.__dict__}
        echo_json({"ok": result.ok and problem is None and events_broken is None, "records": result.records, "policies": result.policies,
                   "head": result.head, "broken": broken, "checkpoints": checked, "checkpoint_problem": found, "case_events": case_events,
                   "chains": dict(result.chains)})
    elif result.broken is not None:
        b = result.broken
        what = f"record #{b.seq} ({b.id})" if b.seq else f"policy version {b.id}"
        typer.echo(f"broken: {what}: {b.reason}")
        typer.echo(f"the first {result.records} records are intact", err=True)
    elif problem is not None:
        assert paths is not None
        typer.echo(f"broken: checkpoint {paths[1]}:{problem.line} ({problem.checkpoint.time}, {problem.checkpoint.count} records): {problem.reason}")
    else:
        anchor = f"{checked} signed checkpoints hold" if anchored else "no signed checkpoints (deletion of the newest records and re-chaining cannot be seen)"
        typer.echo(f"ok: {result.records} records, chain intact, head {result.head[:16]}, {result.policies} policy versions; {anchor}")
        if len(result.chains) > 1:  # one hash chain per jurisdiction in this log
            typer.echo("chains: " + ", ".join(f"{name} {count}" for name, count in sorted(result.chains.items())))
    if not as_json:
        if events_broken is None:
            typer.echo(f"ok: {events} case events, chain intact, head {events_head[:16]}")
        else:
            typer.echo(f"broken: case event #{events_broken.seq} ({events_broken.id}): {events_broken.reason}")
            typer.echo(f"the first {events} case events are intact", err=True)
    if not result.ok or problem is not None or events_broken is not None:
        raise typer.Exit(ExitCode.FINDINGS)


@audit_app.command()
def checkpoint(db: DbOpt = None, key: KeyOpt = None, checkpoints: CheckpointsOpt = None) -> None:
    """Sign the log's current head now, append it to the checkpoint file and print it (to hand to a witness)."""
    paths = _checkpoint_paths(db, key, checkpoints)
    if paths is None:
        raise fail("an in-memory log has no checkpoints; give --key and --checkpoints")
    log = open_existing_log(db)
    try:
        heads = Anchors(log, CaseStore(log.db)).heads
        signed = Checkpointer(load_or_create_key(paths[0]), CheckpointFile(paths[1]), heads, utc_now, 0).write(force=True)
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    finally:
        log.close()
    assert signed is not None
    typer.echo(signed.to_json())


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
