"""The authors' CLI: check exit codes and findings, decide output, --policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from engine.analysis import space
from engine.policy.load import load_policy
from tests.conftest import FIXTURES, SEED_POLICY

runner = CliRunner()


def test_check_clean_seed_policy() -> None:
    result = runner.invoke(app, ["check", "--policy", str(SEED_POLICY)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: qujiang")
    # every case of the declared space decided (engine/analysis/check.py), and said so
    assert result.output.splitlines()[-1].startswith(f"proved {space.count(load_policy(SEED_POLICY))} cases in ")


def test_check_reports_findings_and_exits_1(tmp_path: Path) -> None:
    target = tmp_path / "p"
    shutil.copytree(SEED_POLICY, target)
    path = target / "rules" / "delegation.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("matters: [LND-02]", "matters: [LND-2]"), encoding="utf-8")
    result = runner.invoke(app, ["check", "--policy", str(target)])
    assert result.exit_code == 1
    assert "rules/delegation.yaml:" in result.output and "FQ-2021-01: unknown matter `LND-2`" in result.output
    assert "did you mean `LND-02`?" in result.output


def test_check_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--json", "--policy", str(FIXTURES / "check" / "clean")])
    assert result.exit_code == 0 and json.loads(result.output)["ok"] is True


def test_decide_prints_lead_and_basis() -> None:
    result = runner.invoke(app, ["decide", "--policy", str(SEED_POLICY), "--matter", "WAT-01", "--township", "gaojia", "--attr", "site_type=river", "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    assert "lead:      衢江区水利局 (qj-water)" in result.output
    assert "YJS-SAND-RIVER" in result.output and "中华人民共和国水法" in result.output


def test_decide_json_and_typed_attr() -> None:
    result = runner.invoke(app, ["decide", "--json", "--policy", str(SEED_POLICY), "--matter", "WAT-01", "--township", "gaojia", "--attr", "site_type=river", "--attr", "severity=4"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rule"]["id"] == "ESC-SEVERE"


def test_decide_bad_case_exits_1() -> None:
    result = runner.invoke(app, ["decide", "--policy", str(SEED_POLICY), "--township", "gaojia", "--attr", "site=river"])
    assert result.exit_code == 1
    assert "unknown attribute `site`" in result.output


def test_report_run_runs_the_features_and_renders_their_results(tmp_path: Path) -> None:
    cucumber, out = tmp_path / "cucumber.json", tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--run", "--only", "采砂", "--cucumber", str(cucumber), "--out", str(out)])
    assert result.exit_code == 0, result.output
    runs = json.loads(cucumber.read_text(encoding="utf-8"))
    names = [element["name"] for feature in runs for element in feature["elements"]]
    assert names and all("采砂" in name for name in names)
    assert all(step["result"]["status"] == "passed" for f in runs for e in f["elements"] for step in e["steps"])
    html = out.read_text(encoding="utf-8")
    assert 'data-status="passed"' in html and "生成于" in html and "北京时间" in html and "本机尚无运行结果" not in html
