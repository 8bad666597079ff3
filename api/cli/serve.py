"""`tiaokuai serve`: the HTTP API under uvicorn, supervised by default (api/cli/supervise.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import DEFAULT_POLICY, ExitCode, PolicyOpt, fail


def serve(
    policy: PolicyOpt = DEFAULT_POLICY,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    supervise: Annotated[bool, typer.Option(help="run the worker under a supervisor that restarts it if it crashes")] = True,
    access_log: Annotated[bool, typer.Option(help="log one line per request")] = True,
    jurisdictions: Annotated[Path | None, typer.Option(help="also serve every county policy under this directory (or TIAOKUAI_JURISDICTIONS)")] = None,
) -> None:
    """Serve the HTTP API with uvicorn (supervised: an engine crash restarts the worker)."""
    import uvicorn

    from api.http.worker import config
    from api.settings import Settings

    os.environ["TIAOKUAI_POLICY"] = str(policy)
    if jurisdictions is not None:
        os.environ["TIAOKUAI_JURISDICTIONS"] = str(jurisdictions)
    try:
        Settings.from_env()  # a bad configuration stops here, once, not in a restart loop
    except ValueError as exc:
        raise fail(str(exc), ExitCode.STARTUP_REFUSED) from None
    if supervise:
        from api.cli.supervise import supervise as run_supervised

        raise typer.Exit(run_supervised(host, port, access_log=access_log))
    uvicorn.Server(config(access_log=access_log, host=host, port=port)).run()
