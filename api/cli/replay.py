"""`tiaokuai replay`: re-decide logged decisions under their stored policy; answers must be identical.

Exit codes: 0 all identical, 1 a mismatch, 2 usage errors.
"""

from __future__ import annotations

import difflib
import json
import random
from typing import Annotated

import typer

from api.cli.common import DbOpt, ExitCode, echo_json, fail, open_existing_log
from engine import RecordNotFound, TiaokuaiError


def replay(
    ids: Annotated[list[str] | None, typer.Argument(help="decision ids to replay")] = None,
    all_: Annotated[bool, typer.Option("--all", help="replay every record in the log")] = False,
    sample: Annotated[int | None, typer.Option(help="replay this many records drawn at random")] = None,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-decide logged decisions under their stored policy version; the response must be identical."""
    from api.http.logged import REPLAY_KINDS
    from engine import Replayer

    if not ids and not all_ and sample is None:
        raise fail("give decision ids, --all or --sample N")
    log = open_existing_log(db)
    try:
        if all_:
            records = list(log.records())
        elif sample is not None:
            every = list(log.records())
            records = random.sample(every, min(sample, len(every)))
        else:
            try:
                records = [log.get(i) for i in ids or []]
            except RecordNotFound as exc:
                raise fail(str(exc)) from None
        replayer = Replayer(log, REPLAY_KINDS)
        results = []
        for record in records:
            try:
                results.append(replayer.replay(record))
            except TiaokuaiError as exc:
                raise fail(f"{record.id}: {exc}") from None
    finally:
        log.close()
    mismatches = [r for r in results if not r.identical]
    if as_json:
        echo_json({
            "replayed": len(results),
            "identical": len(results) - len(mismatches),
            "mismatches": [{"decision_id": r.record.id, "logged": json.loads(r.logged), "replayed": json.loads(r.replayed)} for r in mismatches],
        })
    else:
        for r in results:
            policy = f"{r.record.policy_id} {r.record.policy_version} ({r.record.policy_digest[:12]})"
            typer.echo(f"{'identical' if r.identical else 'DIFFERENT'}: {r.record.id} under {policy}")
            if not r.identical:
                before = json.dumps(json.loads(r.logged), ensure_ascii=False, indent=1).splitlines()
                after = json.dumps(json.loads(r.replayed), ensure_ascii=False, indent=1).splitlines()
                for line in difflib.unified_diff(before, after, "logged", "replayed", lineterm=""):
                    typer.echo(f"  {line}")
        typer.echo(f"{len(results) - len(mismatches)} of {len(results)} identical")
    if mismatches:
        raise typer.Exit(ExitCode.FINDINGS)
