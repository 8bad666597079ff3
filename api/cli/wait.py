"""`tiaokuai wait`: block until the server answers GET /healthz.

`make run &` on a fresh machine first creates the venv and compiles durable_rules; a
script (or the README's tour) that starts the server waits for it with this command.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Annotated

import typer

from api.cli.common import ExitCode


def wait(
    url: Annotated[str, typer.Option(help="the server's base URL")] = "http://127.0.0.1:8000",
    timeout: Annotated[float, typer.Option(help="seconds to wait before giving up")] = 600.0,
) -> None:
    """Wait until the server answers GET /healthz (exit 0), or give up after --timeout (exit 1)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            with urllib.request.urlopen(f"{url.rstrip('/')}/healthz", timeout=5) as response:  # noqa: S310 - an http(s) URL
                health = json.loads(response.read())
                policy = health.get("policy", {})
                typer.echo(f"ready: {url} serves {policy.get('id')} {policy.get('version')}")
                return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            typer.echo(f"error: {url} did not answer /healthz within {timeout:g}s ({last})", err=True)
            raise typer.Exit(ExitCode.FINDINGS)
        time.sleep(0.5)
