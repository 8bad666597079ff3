"""The command line: `tiaokuai` (api/cli/app.py assembles one module per command)."""

from api.cli.app import app, main

__all__ = ["app", "main"]
