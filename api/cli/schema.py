"""`tiaokuai schema`: write the policy files' JSON Schema, for editors' autocompletion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import DEFAULT_POLICY
from engine.policy import PolicyFile


def schema(out: Annotated[Path, typer.Option(help="where to write the JSON Schema")] = DEFAULT_POLICY / "schema" / "policy.schema.json") -> None:
    """Export the policy file JSON Schema (for editor autocompletion)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    schema = PolicyFile.model_json_schema(by_alias=True)
    schema["title"] = "tiaokuai policy file"
    out.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"wrote {out}")
