"""CLI commands for authors and auditors: `export` and `import` the list, render the `report`.

Thin: load the policy, call engine.listing.sheet or the web renderer, print what happened.
Exit codes: 0 ok, 1 a sheet or policy with problems (nothing written), 2 usage errors.
"""

from __future__ import annotations

import io
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import ExitCode
from api.settings import DEFAULT_CUCUMBER, DEFAULT_FEATURES, DEFAULT_POLICY
from engine import PolicyError, SheetError
from engine.listing import by_domain, export_csv, export_xlsx, import_sheet, matters_in_force
from engine.policy import Policy, load_policy

PolicyOpt = Annotated[
    Path,
    typer.Option("--policy", envvar="TIAOKUAI_POLICY", help="policy directory", show_default=True),
]


class Format(StrEnum):
    xlsx = "xlsx"
    csv = "csv"
    html = "html"


def _load(policy: Path) -> Policy:
    try:
        return load_policy(policy)
    except PolicyError as exc:
        for finding in exc.findings:
            typer.echo(finding.render(), err=True)
        raise typer.Exit(ExitCode.FINDINGS) from None


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"`{value}`: use YYYY-MM-DD", param_hint="--as-of") from None


def export(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="xlsx for Excel, csv, or html for publishing")] = Format.xlsx,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file to write (default: stdout for csv and html)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="only matters in force on YYYY-MM-DD (for publishing; not for a round trip)")] = None,
    policy: PolicyOpt = DEFAULT_POLICY,
) -> None:
    """Write the responsibility list in the columns officials use (序号, 事项名称, 领域, …, 时限)."""
    loaded = _load(policy)
    day = _day(as_of)
    if fmt is Format.xlsx:
        if out is None:
            raise typer.BadParameter("an xlsx workbook needs a file", param_hint="--out")
        count = export_xlsx(loaded, out, day)
    elif fmt is Format.csv:
        buffer = io.StringIO()
        count = export_csv(loaded, buffer, day)
        _write_text(buffer.getvalue(), out, bom=True)
    else:
        from api.web.render import list_document

        matters = by_domain(loaded, matters_in_force(loaded, day))
        count = len(matters)
        _write_text(list_document(loaded, matters, day), out, bom=False)
    if out is not None:
        typer.echo(f"wrote {count} matters to {out}", err=True)


def _write_text(content: str, out: Path | None, bom: bool) -> None:
    if out is None:
        sys.stdout.write(content)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    # NOTE: utf-8-sig for CSV: Excel reads a BOM-less CSV in the local code page and garbles Chinese.
    out.write_text(content, encoding="utf-8-sig" if bom else "utf-8", newline="")


def import_(
    sheet: Annotated[Path, typer.Argument(help="an exported (and edited) .xlsx or .csv", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="policy directory to write (created or replaced as a whole)")],
    policy: PolicyOpt = DEFAULT_POLICY,
    normalize: Annotated[bool, typer.Option("--normalize", help="rewrite every matters file, even unchanged ones")] = False,
) -> None:
    """Turn a sheet into policy YAML: the base policy's other files plus the sheet's matters.

    Every row is checked first; any problem is printed as `row N, column C: problem` and
    nothing is written. The result is validated like `tiaokuai check` before it replaces `--out`.
    """
    try:
        report = import_sheet(sheet, out, policy, normalize)
    except PolicyError as exc:  # the base policy itself does not load
        for finding in exc.findings:
            typer.echo(finding.render(), err=True)
        raise typer.Exit(ExitCode.FINDINGS) from None
    except SheetError as exc:
        for error in exc.errors:
            typer.echo(f"{sheet.name}: {error.render()}")
        typer.echo(f"{len(exc.errors)} problem(s); nothing was written", err=True)
        raise typer.Exit(ExitCode.FINDINGS) from None
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if report.kept_matters:
        typer.echo(f"the sheet lists the matters in force on {report.as_of}; {len(report.kept_matters)} not in force then kept as they were", err=True)
    if report.removed_matters:
        typer.echo(f"removed {len(report.removed_matters)} matter(s) not in the sheet: {', '.join(report.removed_matters)}", err=True)
    typer.echo(
        f"imported {report.matters} matters into {report.out}: "
        f"{len(report.written)} file(s) written, {len(report.kept)} unchanged, {len(report.removed)} removed; "
        f"{len(report.removed_matters)} matter(s) removed"
    )
    for name in report.written:
        typer.echo(f"  wrote   {name}")
    for name in report.removed:
        typer.echo(f"  removed {name}")


def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write")] = Path("out") / "report.html",
    cucumber: Annotated[Path, typer.Option(help="cucumber JSON of a test run")] = DEFAULT_CUCUMBER,
    features: Annotated[Path, typer.Option(help="feature files directory")] = DEFAULT_FEATURES,
    policy: PolicyOpt = DEFAULT_POLICY,
    run: Annotated[bool, typer.Option("--run", help="first run the feature scenarios (pytest-bdd, tests/features) to write --cucumber")] = False,
    only: Annotated[str | None, typer.Option(help="with --run: only the scenarios matching this pytest -k expression, e.g. 采砂")] = None,
) -> None:
    """Render the zh-CN features and their last results as one HTML page for auditors.

    With --run the scenarios are run first (against the repository's policy/, as `make test`
    runs them) and their results written to --cucumber, which the /report page reads too.
    Exit 1 when a scenario failed (the report says which)."""
    from api.web import gherkin
    from api.web.render import render
    from api.web.report import report_context

    passed = run_features(cucumber, only) if run else True
    loaded = _load(policy)
    parsed = gherkin.load_features(features)
    results = gherkin.read_cucumber(cucumber)
    gherkin.attach_results(parsed, results)
    context = report_context(loaded, parsed, str(cucumber) if results is not None else None)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render("report.html", standalone=True, policy=loaded, clause_links=False, **context), encoding="utf-8")
    counts = ", ".join(f"{n} {status}" for status, n in context["counts"].items() if n)
    typer.echo(f"wrote {out}: {context['total']} scenarios ({counts or 'no results'})")
    if results is None:
        typer.echo(f"note: no results in {cucumber}; run `tiaokuai report --run` (or `make test`) first", err=True)
    if not passed:
        raise typer.Exit(ExitCode.FINDINGS)


FEATURE_TESTS = DEFAULT_FEATURES.parent / "tests" / "features"


def run_features(cucumber: Path, only: str | None = None) -> bool:
    """Run the zh-CN features with pytest-bdd in a child process, writing their results to
    `cucumber`; True when every scenario that ran passed. Needs a checkout of the repository
    (tests/features) and the development dependencies (`make test` installs them)."""
    import subprocess

    if not FEATURE_TESTS.is_dir():
        raise typer.BadParameter(f"no feature tests at {FEATURE_TESTS}: --run needs a checkout of the repository", param_hint="--run")
    cucumber.parent.mkdir(parents=True, exist_ok=True)
    typer.echo(f"running the feature scenarios in {FEATURE_TESTS}{f' matching {only!r}' if only else ''} …", err=True)
    args = [sys.executable, "-m", "pytest", str(FEATURE_TESTS), "-q", "-p", "no:cacheprovider", f"--cucumberjson={cucumber.resolve()}"]
    done = subprocess.run([*args, *(["-k", only] if only else [])], cwd=DEFAULT_FEATURES.parent, capture_output=True, text=True, check=False)
    tail = [line for line in done.stdout.splitlines() if line.strip()][-1:] or ["(no output)"]
    typer.echo(f"pytest: {tail[0]}", err=True)
    if done.returncode not in (0, 1):  # 1: some scenario failed, and the results say which
        typer.echo(done.stdout[-2000:] + done.stderr[-2000:], err=True)
        raise typer.Exit(ExitCode.USAGE)
    return done.returncode == 0


def lists(
    township: Annotated[str, typer.Option(help="township or street id")],
    as_of: Annotated[str | None, typer.Option("--as-of", help="the lists in force on YYYY-MM-DD (default: today)")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write the three sheets to this .xlsx")] = None,
    check: Annotated[Path | None, typer.Option("--check", help="read a three-lists workbook back and compare it with the policy", exists=True, dir_okay=False)] = None,
    policy: PolicyOpt = DEFAULT_POLICY,
) -> None:
    """A township's three lists: 基本履职事项, 配合履职事项, 上级部门收回事项 (with 承接部门 and 工作方式)."""
    from engine import ListsSheetError
    from engine.listing import (
        LIST_NAMES,
        LIST_ZH,
        compare_three_lists,
        export_three_lists,
        read_three_lists,
        three_lists,
    )

    loaded = _load(policy)
    town = loaded.organizations.get(township)
    if town is None or not town.is_township:
        raise typer.BadParameter(f"unknown township `{township}`", param_hint="--township")
    result = three_lists(loaded, township, _day(as_of) or date.today())
    if check is not None:
        try:
            problems = compare_three_lists(loaded, result, read_three_lists(check))
        except ListsSheetError as exc:
            typer.echo(f"{check.name}: {exc}", err=True)
            raise typer.Exit(ExitCode.FINDINGS) from None
        for problem in problems:
            typer.echo(f"{check.name}: {problem}")
        typer.echo(f"{len(problems)} difference(s) from the policy" if problems else f"{check.name} matches the policy", err=True)
        raise typer.Exit(ExitCode.FINDINGS if problems else ExitCode.OK)
    if out is not None:
        counts = export_three_lists(loaded, result, out)
        typer.echo(f"wrote {out}: " + ", ".join(f"{LIST_ZH[n]} {counts[n]}" for n in LIST_NAMES), err=True)
        return
    for name in LIST_NAMES:
        entries = result.of(name)
        typer.echo(f"{LIST_ZH[name]} ({len(entries)})")
        for entry in entries:
            dept = loaded.organizations[entry.department].name if entry.department else ""
            tail = f"  {dept}" + (f"  {entry.method}" if entry.method else "") if dept else ""
            typer.echo(f"  {entry.matter.id}  {entry.matter.name}{tail}")
