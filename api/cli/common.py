"""What every command shares: the policy option, JSON output, failing with a message, exit codes."""

from __future__ import annotations

import json
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from api.settings import DEFAULT_POLICY, STARTUP_REFUSED, Settings
from engine import LogError
from engine.log import DecisionLog, open_log, sqlite_path


class ExitCode(IntEnum):
    """How every `tiaokuai` command ends."""

    OK = 0
    FINDINGS = 1  # check/verify/replay/diff found something, or the policy rejects the case
    USAGE = 2  # bad arguments, unreadable files, no such log
    STARTUP_REFUSED = STARTUP_REFUSED  # `serve`: a configuration or first policy that cannot work (not retried)


PolicyOpt = Annotated[
    Path,
    typer.Option("--policy", envvar="TIAOKUAI_POLICY", help="policy directory", show_default=True),
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="decision log URL (default: TIAOKUAI_DATABASE_URL or SQLite under var/)"),
]
__all__ = ["DEFAULT_POLICY", "DbOpt", "ExitCode", "PolicyOpt", "echo_json", "fail", "open_existing_log"]


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    """Print `error: message` on stderr; the caller raises the returned Exit."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def log_url(db: str | None) -> str:
    if db is None:
        return Settings.from_env().database_url
    return db if "://" in db else f"sqlite:///{db}"  # a bare path means an SQLite file


def open_existing_log(db: str | None) -> DecisionLog:
    url = log_url(db)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise fail(f"no decision log at {path}")
    try:
        return open_log(url)
    except LogError as exc:
        raise fail(str(exc)) from None
