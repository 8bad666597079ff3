"""`tiaokuai check` as authors and CI use it: grouped lines, exit codes, --json, --explain."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tests.conftest import FIXTURES, SEED_POLICY
from tests.support.git_repo import committed_policy

runner = CliRunner()
HAIWAN = FIXTURES / "haiwan"
LINE = re.compile(r"^(?P<file>\S+\.yaml):(?P<line>\d+): (?P<id>[\w.-]+): (?P<message>.+)  \[(?P<severity>error|warning) (?P<code>\w+)\]$")


def haiwan_line(text: str, after: str) -> int:
    lines = (HAIWAN / "policy.yaml").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i for i, line in enumerate(lines) if i > start and text in line) + 1


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer has {old!r}: update this test"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_findings_are_grouped_by_file_with_lines(tmp_path: Path) -> None:
    target = tmp_path / "p"
    shutil.copytree(SEED_POLICY, target)
    replace(target / "matters" / "water.yaml", "supports: [qj-enforce, qj-nrp]", "supports: [qj-enforce, qj-nrp, qj-water]")
    replace(target / "rules" / "integrated.yaml", "supports: [qj-enforce, qj-housing]", "supports: [qj-enforce, qj-housing, qj-nrp]")
    result = runner.invoke(app, ["check", "--fast", "--policy", str(target)])  # both are found statically
    assert result.exit_code == 1, result.output
    findings = [m.groupdict() for m in map(LINE.match, result.output.splitlines()) if m]
    assert {(f["id"], f["code"], f["file"].rsplit("/", 2)[-2]) for f in findings} == {
        ("WAT-02", "lead_and_support", "matters"), ("YJS-BUILD-PERMIT", "lead_and_support", "rules")
    }
    files = [f["file"] for f in findings]
    assert files == sorted(files, key=files.index)  # each file's findings are together
    assert re.search(r"^2 findings \(0 errors, 2 warnings\) in 2 files$", result.output, re.M)
    assert result.output.count("\n\n") == 2  # a blank line between the files, one before the summary


def test_conflict_exits_1_and_fail_on_error_lets_warnings_pass() -> None:
    result = runner.invoke(app, ["check", "--policy", str(HAIWAN)])
    assert result.exit_code == 1
    (conflict,) = [m.groupdict() for m in map(LINE.match, result.output.splitlines()) if m and m["code"] == "conflict"]
    assert conflict["id"] == "HW-R2" and conflict["message"].startswith("ties with `HW-R1`")
    assert runner.invoke(app, ["check", "--fail-on", "error", "--policy", str(HAIWAN)]).exit_code == 0


def test_json_report_for_editors_and_ci() -> None:
    result = runner.invoke(app, ["check", "--json", "--policy", str(HAIWAN)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False and report["proved"] is True and report["cases"] == 2
    assert report["summary"] == {"errors": 0, "warnings": 2}
    conflict = next(f for f in report["findings"] if f["code"] == "conflict")
    assert conflict | {"examples": None, "message": None, "hint": None, "path": None} == {
        "code": "conflict", "severity": "warning", "file": "policy.yaml", "line": haiwan_line("then: {lead: hw-port}", "id: HW-R2"), "id": "HW-R2",
        "examples": None, "message": None, "hint": None, "path": None,
    }
    assert conflict["examples"] == [{"matter": "HW-02", "township": "haiwan-east", "attributes": {}, "as_of": "2000-01-01"}]


def test_explain_decides_each_counter_example_and_tells_how_to_reproduce() -> None:
    result = runner.invoke(app, ["check", "--explain", "HW-R2", "--policy", str(HAIWAN)])
    assert result.exit_code == 1
    assert "case 1: matter HW-02, township haiwan-east, as_of 2000-01-01" in result.output
    assert "outcome conflict: lead 海湾县海洋渔业局 (hw-ocean) by HW-R1" in result.output
    command = next(line for line in result.output.splitlines() if "reproduce:" in line).split("reproduce: ", 1)[1]
    args = shlex.split(command)[1:]  # drop the program name
    replay = runner.invoke(app, [*args, "--json"])
    assert replay.exit_code == 0 and json.loads(replay.output)["outcome"] == "conflict"


def test_explain_json_carries_the_decisions() -> None:
    result = runner.invoke(app, ["check", "--json", "--explain", "HW-R2", "--policy", str(HAIWAN)])
    (finding,) = json.loads(result.output)["findings"]
    assert finding["examples"][0]["decision"]["outcome"] == "conflict"


def test_explain_an_id_without_findings_or_unknown() -> None:
    clean = runner.invoke(app, ["check", "--explain", "M1", "--policy", str(FIXTURES / "check" / "clean")])
    assert clean.exit_code == 0 and clean.output.strip() == "no findings for `M1`"
    unknown = runner.invoke(app, ["check", "--explain", "WAT-1", "--policy", str(SEED_POLICY)])
    assert unknown.exit_code == 2 and "unknown id `WAT-1`" in unknown.output and "did you mean" in unknown.output


def test_fast_runs_only_the_activation_checks() -> None:
    result = runner.invoke(app, ["check", "--fast", "--policy", str(SEED_POLICY)])
    assert result.exit_code == 0 and "checked statically" in result.output.splitlines()[-1]
    errors = runner.invoke(app, ["check", "--fast", "--policy", str(FIXTURES / "check" / "org_not_in_force")])
    assert errors.exit_code == 1 and "not proved: fix the errors first" in errors.output


def test_bad_options_are_usage_errors() -> None:
    assert runner.invoke(app, ["check", "--engine", "drools"]).exit_code == 2
    assert runner.invoke(app, ["check", "--fail-on", "info"]).exit_code == 2


def test_check_warns_when_the_policy_changed_since_the_commit_under_the_same_version(tmp_path: Path) -> None:
    policy = committed_policy(tmp_path / "repo", SEED_POLICY) / "policy"
    assert runner.invoke(app, ["check", "--fast", "--policy", str(policy)]).exit_code == 0  # as committed
    replace(policy / "matters" / "water.yaml", "name: 河道非法采砂", "name: 河道非法采砂(含河滩)")
    result = runner.invoke(app, ["check", "--fast", "--policy", str(policy)])
    assert result.exit_code == 1
    assert "policy.yaml:4: qujiang: the policy's content changed since the last commit (git HEAD)" in result.output
    assert "[warning version_unchanged]" in result.output
    replace(policy / "policy.yaml", 'version: "2026.11.2"', 'version: "2026.11.3"')
    assert runner.invoke(app, ["check", "--fast", "--policy", str(policy)]).exit_code == 0
