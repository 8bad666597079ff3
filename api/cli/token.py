"""`tiaokuai token`: a bearer token for the scopes asked for, to try the API by hand.

The token is printed once, on stdout (so `TOKEN=$(tiaokuai token ...)` works); the tokens
file gets only its sha256, the form `TIAOKUAI_TOKENS_FILE` reads (api/tokens.py).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
import yaml

from api.tokens import SCOPES, TokensFile


def token(
    name: Annotated[str, typer.Option(help="who holds it: named in 403 answers and logs, never the token")],
    scope: Annotated[list[str], typer.Option("--scope", help=f"repeatable: {', '.join(SCOPES)}")],
    tokens_file: Annotated[
        Path | None, typer.Option("--tokens-file", help="add the entry (sha256 only) to this YAML file; created 0600 if missing")
    ] = None,
) -> None:
    """Create a bearer token: prints the token (once) and its sha256 entry for TIAOKUAI_TOKENS_FILE."""
    unknown = [s for s in scope if s not in SCOPES]
    if unknown:
        raise typer.BadParameter(f"`{unknown[0]}`: use one of {', '.join(SCOPES)}", param_hint="--scope")
    secret = secrets.token_urlsafe(32)
    scopes = list(dict.fromkeys(scope))
    entry: dict[str, object] = {"name": name, "sha256": hashlib.sha256(secret.encode()).hexdigest(), "scopes": scopes}
    if tokens_file is None:
        typer.echo("# add to the tokens file (TIAOKUAI_TOKENS_FILE):", err=True)
        typer.echo(yaml.safe_dump({"tokens": [entry]}, sort_keys=False, allow_unicode=True), err=True, nl=False)
    else:
        _add_entry(tokens_file, entry)
        typer.echo(f"added `{name}` ({', '.join(scopes)}) to {tokens_file}; serve with TIAOKUAI_TOKENS_FILE={tokens_file}", err=True)
    typer.echo(secret)


def _add_entry(path: Path, entry: dict[str, object]) -> None:
    data: dict[str, object] = {"tokens": []}
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {"tokens": []}
        TokensFile.model_validate(loaded)  # refuse to add to a file the server would refuse
        data = loaded
    tokens = data.setdefault("tokens", [])
    assert isinstance(tokens, list)
    if any(isinstance(t, dict) and t.get("name") == entry["name"] for t in tokens):
        raise typer.BadParameter(f"`{entry['name']}` is already in {path}: choose another name or remove that entry", param_hint="--name")
    tokens.append(entry)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    TokensFile.model_validate(yaml.safe_load(text))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
