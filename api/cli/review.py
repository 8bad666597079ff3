"""`tiaokuai review FILE.yaml|json`: review a grid task proposal offline.

Exit codes: 0 admitted, 1 returned or rejected, 2 bad input (unreadable file, a proposal the
request model or the policy vocabulary refuses, or a policy that does not load).
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from api.cli.common import DEFAULT_POLICY, ExitCode, fail
from api.http.schemas.admission import AdmissionReviewRequestV1
from engine import PolicyError, ProposalError, Runtime


def _read(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    try:
        return json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise fail(f"{file} is not valid {'JSON' if file.suffix == '.json' else 'YAML'}: {exc}") from None


def _print(out: dict[str, Any]) -> None:
    task = out["task"]
    typer.echo(f"outcome:  {out['outcome']} {out['outcome_label']}")
    typer.echo(f"task:     {task['title']} ({task['requester']['name']}, {task['kind']['name']})")
    if not out["findings"]:
        typer.echo("findings: -")
    for finding in out["findings"]:
        typer.echo(f"  [{finding['severity']}] {finding['criterion']} {finding['title']}")
        typer.echo(f"      {finding['message']}")
        for basis in finding["basis"]:
            typer.echo(f"      依据: {basis['document']} {basis.get('article', '')}".rstrip())
    for item in out["reuse"]:
        source = f", {item['source']}" if item["source"] else ""
        typer.echo(f"reuse:    {item['name']} ({item['field']}): 一表通·{item['table']}{source}")
    if out["filing_due"]:
        typer.echo(f"filing:   file with the reviewer by {out['filing_due']}")


def review(
    file: Annotated[Path, typer.Argument(help="the proposal as YAML or JSON (same fields as the API)")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="YYYY-MM-DD (default: the file's as_of, else today)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    policy: Annotated[Path, typer.Option("--policy", envvar="TIAOKUAI_POLICY", help="policy directory")] = DEFAULT_POLICY,
) -> None:
    """Review a grid task proposal: exit 0 admitted, 1 returned or rejected, 2 bad input."""
    data = _read(file)
    try:
        body = AdmissionReviewRequestV1.model_validate(data)
    except ValidationError as exc:
        lines = [f"{'.'.join(str(p) for p in e['loc']) or '<file>'}: {e['msg']}" for e in exc.errors()]
        raise fail(f"{file} is not a valid proposal:\n  " + "\n  ".join(lines)) from None
    try:
        day = date.fromisoformat(as_of) if as_of else body.as_of or date.today()
    except ValueError:
        raise fail(f"--as-of `{as_of}`: use YYYY-MM-DD") from None
    try:
        runtime = Runtime.from_dir(policy)
    except PolicyError as exc:
        raise fail(f"policy {policy} does not load: {exc}") from None
    try:
        result = runtime.review(dataclasses.replace(body.to_proposal(day), as_of=day))
    except ProposalError as exc:
        hint = f" ({exc.hint})" if exc.hint else ""
        raise fail(f"{exc.field or file}: {exc.message}{hint}") from None
    out = result.to_dict()
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        _print(out)
    if out["outcome"] != "admitted":
        raise typer.Exit(ExitCode.FINDINGS)
