"""pytest plugin: after a run with `--cucumberjson=PATH`, render the auditors' HTML report.

The report (`report.html` next to the cucumber JSON, so `out/report.html` under
`make test`) shows every zh-CN feature with its results and each clause's scenarios.
It is written whether the run passed or not: a failing scenario is what auditors and
developers most need to read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, SEED_POLICY


@pytest.hookimpl(trylast=True)  # after pytest-bdd has written the cucumber JSON
def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("cucumber_json_path", None)
    if not path or hasattr(session.config, "workerinput"):
        return
    from api.web import gherkin
    from api.web.render import render
    from api.web.routes import report_context
    from engine.policy.load import load_policy

    cucumber = Path(path)
    features = gherkin.load_features(ROOT / "features")
    results = gherkin.read_cucumber(cucumber)
    gherkin.attach_results(features, results)
    policy = load_policy(SEED_POLICY)
    context = report_context(policy, features, str(cucumber) if results is not None else None)
    out = cucumber.with_name("report.html")
    out.write_text(render("report.html", standalone=True, policy=policy, clause_links=False, **context), encoding="utf-8")
    session.config.stash[_written] = str(out)


_written = pytest.StashKey[str]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    written = config.stash.get(_written, None)
    if written:
        terminalreporter.write_line(f"Gherkin report for auditors: {written}")
