"""`tiaokuai`: the authors' and operators' command line. Thin: parse, call the engine, print.

One module per command (api/cli/check.py, decide.py, serve.py, review.py, audit.py, replay.py,
diff.py, listing.py, schema.py, token.py, wait.py); exit codes are `ExitCode` (api/cli/common.py): 0 success,
1 findings or a case the policy rejects, 2 usage errors.
"""

from __future__ import annotations

import sys

import typer

from api.cli import audit, check, classify, deadline, decide, diff, listing, replay, review, schema, serve, token, wait

app = typer.Typer(help="tiaokuai 条块: responsibility determination policy service", no_args_is_help=True)
app.command()(check.check)
app.command()(decide.decide)
app.command()(classify.classify)
app.command()(serve.serve)
app.command()(schema.schema)
app.command()(review.review)
app.add_typer(audit.audit_app, name="audit")
app.command()(replay.replay)
app.command()(diff.diff)
app.command()(deadline.deadline)
app.command()(listing.export)
app.command("import")(listing.import_)
app.command()(listing.report)
app.command()(token.token)
app.command()(wait.wait)
app.command()(listing.lists)


def main() -> None:
    try:
        app()
    except BrokenPipeError:  # `tiaokuai ... | head`
        sys.exit(0)
