"""Living documentation: features parsed, linked to clauses, with results from a real pytest-bdd run."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from api.web import gherkin
from api.web.clauses import criteria
from engine.runtime import Runtime
from tests.conftest import ROOT, SEED_POLICY

FEATURE = """# language: zh-CN
@chapter:demo
功能: 演示 (demo)
  用于检验场景报告的功能文件。

  背景:
    假如数字为 1

  @rule:WAT-01
  场景: 加一得二
    当加 1
    那么结果为 2

  @rule:WAT-02
  场景: 故意失败
    当加 1
    那么结果为 3

  @rule:WAT-01
  场景大纲: 加法表
    当加 <n>
    那么结果为 <m>

    例子:
      | n | m |
      | 2 | 3 |
      | 5 | 7 |
"""

STEPS = """
from pytest_bdd import given, parsers, scenarios, then, when

scenarios("features")


@given(parsers.parse("数字为 {n:d}"), target_fixture="box")
def box(n):
    return {"value": n}


@when(parsers.parse("加 {n:d}"))
def add(box, n):
    box["value"] += n


@then(parsers.parse("结果为 {m:d}"))
def result(box, m):
    assert box["value"] == m, f"得到 {box['value']}, 应为 {m}"
"""


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real pytest-bdd run of a small zh-CN feature with one failing scenario and one failing row."""
    root = tmp_path_factory.mktemp("demo")
    (root / "features").mkdir()
    (root / "features" / "demo.feature").write_text(FEATURE, encoding="utf-8")
    (root / "test_demo.py").write_text(STEPS, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    cucumber = root / "cucumber.json"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(root / "pytest.ini"),
         "--rootdir", str(root), f"--cucumberjson={cucumber}", str(root / "test_demo.py")],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr  # two failures, on purpose
    assert "2 failed, 2 passed" in run.stdout
    return root / "features", cucumber


def test_results_are_attached_to_scenarios_rows_and_steps(demo_run: tuple[Path, Path]) -> None:
    features_dir, cucumber = demo_run
    features = gherkin.load_features(features_dir)
    gherkin.attach_results(features, gherkin.read_cucumber(cucumber))
    (feature,) = features
    assert feature.uri == "demo.feature" and feature.language == "zh-CN" and feature.tags == ["chapter:demo"]
    passing, failing, outline = feature.scenarios
    assert (passing.name, passing.status) == ("加一得二", "passed")
    assert failing.status == "failed"
    assert failing.runs[0].error is not None and "得到 2, 应为 3" in failing.runs[0].error
    assert [s.status for s in failing.steps] == ["passed", "failed"]
    assert outline.examples[0].statuses == ["passed", "failed"]
    assert outline.status == "failed" and len(outline.runs) == 2
    index = gherkin.by_clause(features)
    assert [s.name for s in index["WAT-01"]] == ["加一得二", "加法表"]
    assert [s.name for s in index["WAT-02"]] == ["故意失败"]
    assert gherkin.summary(features)["failed"] == 2


def test_scenarios_without_results_are_not_run(demo_run: tuple[Path, Path]) -> None:
    features = gherkin.load_features(demo_run[0])
    gherkin.attach_results(features, None)
    assert {s.status for s in features[0].scenarios} == {"not run"}


def test_report_command_renders_the_run(demo_run: tuple[Path, Path], tmp_path: Path) -> None:
    features_dir, cucumber = demo_run
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--features", str(features_dir), "--cucumber", str(cucumber), "--out", str(out), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(": 3 scenarios (2 failed, 1 passed)\n")
    page = out.read_text(encoding="utf-8")
    assert '<b data-status="failed">2</b>' in page and '<b data-status="passed">1</b>' in page
    assert 'id="s-demo-10"' in page  # the anchor clause pages link to
    assert "得到 2, 应为 3" in page
    assert '<tr data-id="WAT-02" data-status="failed">' in page
    assert "<style>" in page  # one standalone file


def test_every_clause_tag_in_the_features_names_a_clause(seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    known = set(policy.matters) | set(policy.rules_by_id) | {g.id for g in policy.delegations} | {c.id for c in criteria(policy)}
    features = gherkin.load_features(ROOT / "features")
    assert features and not [f.uri for f in features if f.error]
    tagged = set(gherkin.by_clause(features))
    assert tagged and tagged <= known, tagged - known


def test_a_broken_feature_file_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "bad.feature").write_text("# language: zh-CN\n功能: 坏\n  场景: x\n    假如 a\n  @孤立标签\n", encoding="utf-8")
    (feature,) = gherkin.load_features(tmp_path)
    assert feature.error is not None and "unexpected end of file" in feature.error
    assert feature.scenarios == []


def test_parsed_features_are_reused_until_a_file_changes(demo_run: tuple[Path, Path], tmp_path: Path) -> None:
    shutil.copytree(demo_run[0], tmp_path / "features")
    cucumber = tmp_path / "cucumber.json"
    shutil.copy(demo_run[1], cucumber)
    first, found = gherkin.features_with_results(tmp_path / "features", cucumber)
    again, _ = gherkin.features_with_results(tmp_path / "features", cucumber)
    assert found and again is first
    feature = tmp_path / "features" / "demo.feature"
    feature.write_text(feature.read_text(encoding="utf-8").replace("场景: 加一得二", "场景: 一加一"), encoding="utf-8")
    changed, _ = gherkin.features_with_results(tmp_path / "features", cucumber)
    assert changed is not first and changed[0].scenarios[0].name == "一加一"
    cucumber.unlink()
    gone, found = gherkin.features_with_results(tmp_path / "features", cucumber)
    assert not found and gone[0].scenarios[0].status == "not run"
