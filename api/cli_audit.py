"""CLI commands for auditors and authors: `audit verify|migrate`, `replay`, `diff`.

Thin: open the log or the policies, call engine.store / engine.replay / engine.diff, print.
Exit codes: 0 ok, 1 a finding (broken chain, replay mismatch, `diff --exit-code` with
changes), 2 usage errors (no such log, unreadable policy).
"""

from __future__ import annotations

import difflib
import json
import random
from pathlib import Path
from typing import Annotated, Any

import typer

from api.settings import DEFAULT_POLICY, Settings
from engine.errors import PolicyError, TiaokuaiError
from engine.store import DecisionLog, LogError, RecordNotFound, describe_url, open_log, sqlite_path

audit_app = typer.Typer(help="The decision log: check its hash chain, apply its migrations.", no_args_is_help=True)

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="decision log URL (default: TIAOKUAI_DATABASE_URL or SQLite under var/)"),
]


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _url(db: str | None) -> str:
    if db is None:
        return Settings.from_env().database_url
    return db if "://" in db else f"sqlite:///{db}"  # a bare path means an SQLite file


def _open_existing(db: str | None) -> DecisionLog:
    url = _url(db)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise _fail(f"no decision log at {path}")
    try:
        return open_log(url)
    except LogError as exc:
        raise _fail(str(exc)) from None


@audit_app.command()
def verify(db: DbOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check the hash chain from the first record; report the first broken link (exit 1)."""
    log = _open_existing(db)
    try:
        result = log.verify()
    finally:
        log.close()
    if as_json:
        broken = None if result.broken is None else result.broken.__dict__
        _echo_json({"ok": result.ok, "records": result.records, "policies": result.policies, "head": result.head, "broken": broken})
    elif result.broken is None:
        typer.echo(f"ok: {result.records} records, chain intact, head {result.head[:16]}, {result.policies} policy versions")
    else:
        b = result.broken
        what = f"record #{b.seq} ({b.id})" if b.seq else f"policy version {b.id}"
        typer.echo(f"broken: {what}: {b.reason}")
        typer.echo(f"the first {result.records} records are intact", err=True)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command()
def migrate(db: DbOpt = None) -> None:
    """Create or upgrade the decision log's tables (the server also does this at start)."""
    url = _url(db)
    try:
        log = open_log(url)
    except LogError as exc:
        raise _fail(str(exc)) from None
    log.close()
    typer.echo(f"ok: decision log at {describe_url(url)} is up to date")


def replay(
    ids: Annotated[list[str] | None, typer.Argument(help="decision ids to replay")] = None,
    all_: Annotated[bool, typer.Option("--all", help="replay every record in the log")] = False,
    sample: Annotated[int | None, typer.Option(help="replay this many records drawn at random")] = None,
    db: DbOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Re-decide logged decisions under their stored policy version; the response must be identical."""
    from api.audit import REPLAY_KINDS
    from engine.replay import Replayer

    if not ids and not all_ and sample is None:
        raise _fail("give decision ids, --all or --sample N")
    log = _open_existing(db)
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
                raise _fail(str(exc)) from None
        replayer = Replayer(log, REPLAY_KINDS)
        results = []
        for record in records:
            try:
                results.append(replayer.replay(record))
            except TiaokuaiError as exc:
                raise _fail(f"{record.id}: {exc}") from None
    finally:
        log.close()
    mismatches = [r for r in results if not r.identical]
    if as_json:
        _echo_json({
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
        raise typer.Exit(1)


def _policy_files(spec: str) -> tuple[dict[str, str], str]:
    from engine.gitrev import parse_source, policy_files_at
    from engine.load import read_policy_dir

    git = parse_source(spec)
    if git is not None:
        return policy_files_at(*git), spec
    return read_policy_dir(Path(spec)), spec


def diff(
    base: Annotated[str, typer.Option(help="the policy now: a directory, or git:REV[:PATH] (PATH defaults to policy)")],
    head: Annotated[str, typer.Option(help="the proposed policy: a directory, or git:REV[:PATH]")] = str(DEFAULT_POLICY),
    log_db: Annotated[str | None, typer.Option("--log", help="also re-decide the lead requests in this decision log (URL or SQLite path)")] = None,
    space: Annotated[bool, typer.Option("--space/--no-space", help="enumerate the declared case space")] = True,
    matter: Annotated[list[str] | None, typer.Option("--matter", help="only cases of this matter; repeatable")] = None,
    exhaustive: Annotated[bool, typer.Option(help="decide every matter, also those the change cannot reach")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="exit 1 when any decision would change")] = False,
) -> None:
    """What a policy change would do: clauses changed, and every decision whose lead, supports or outcome would change."""
    from engine.diff import impact, render_table
    from engine.replay import ReplayError, case_from_request
    from engine.runtime import Runtime

    sides = []
    for spec in (base, head):
        try:
            files, source = _policy_files(spec)
            sides.append(Runtime.from_files(files, source))
        except PolicyError as exc:
            typer.echo(f"{spec}: policy rejected", err=True)
            for finding in exc.findings:
                typer.echo(finding.render(), err=True)
            raise typer.Exit(2) from None
    logged = []
    if log_db is not None:
        log = _open_existing(log_db)
        try:
            for record in log.records(kind="lead"):
                try:
                    logged.append((record.id, case_from_request(record.request_json(), record.response_json())))
                except ReplayError:
                    continue  # not a lead request this engine can read; verify/replay report those
        finally:
            log.close()
    old, new = sides
    result = impact(old.policy, old.decide, new.policy, new.decide, logged, with_space=space, matters=set(matter) if matter else None, exhaustive=exhaustive)
    if as_json:
        _echo_json(result.to_dict())
    else:
        typer.echo(render_table(result), nl=False)
    if exit_code and result.changes:
        raise typer.Exit(1)
