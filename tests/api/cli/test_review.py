"""`tiaokuai review FILE`: findings printed, exit 0 admitted, 1 returned/rejected, 2 bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from api.cli import app
from api.http.schemas.admission import (
    CENSUS_EXAMPLE,
    DUPLICATE_DATA_EXAMPLE,
    GAS_SAFETY_EXAMPLE,
    NO_ENFORCEMENT_EXAMPLE,
)
from tests.conftest import FIXTURES, SEED_POLICY

runner = CliRunner()


def run(tmp_path: Path, body: Any, name: str = "task.json", *extra: str) -> Any:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    return runner.invoke(app, ["review", str(path), "--policy", str(SEED_POLICY), *extra])


def test_admitted_exits_0(tmp_path: Path) -> None:
    result = run(tmp_path, CENSUS_EXAMPLE)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("outcome:  admitted 准予进入网格")


def test_rejected_prints_criterion_message_and_basis(tmp_path: Path) -> None:
    result = run(tmp_path, NO_ENFORCEMENT_EXAMPLE)
    assert result.exit_code == 1, result.output
    assert "[reject] GA-03 不得要求网格员行使执法、检查权" in result.output
    assert "依据: 中华人民共和国行政处罚法 第四十二条" in result.output


def test_returned_exits_1(tmp_path: Path) -> None:
    result = run(tmp_path, GAS_SAFETY_EXAMPLE)
    assert result.exit_code == 1 and "outcome:  returned" in result.output and "[return] GA-04" in result.output


def test_yaml_file_with_native_dates_and_reuse(tmp_path: Path) -> None:
    text = yaml.safe_dump(DUPLICATE_DATA_EXAMPLE, allow_unicode=True)
    text = text.replace("'2026-12-01'", "2026-12-01").replace("'2026-12-31'", "2026-12-31")
    assert "start_date: 2026-12-01" in text  # a YAML date, not a string
    path = tmp_path / "task.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["review", str(path), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 1, result.output
    assert "reuse:    公民身份号码 (id_number): 一表通·人口信息, 公安户籍" in result.output


def test_json_output(tmp_path: Path) -> None:
    result = run(tmp_path, CENSUS_EXAMPLE, "task.json", "--json", "--as-of", "2026-10-01")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["outcome"] == "admitted" and out["as_of"] == "2026-10-01"


def test_bad_input_exits_2(tmp_path: Path) -> None:
    unknown = run(tmp_path, {**CENSUS_EXAMPLE, "kind": "信息采集"})
    assert unknown.exit_code == 2 and "unknown task kind `信息采集`" in unknown.output and "info_collection" in unknown.output
    shape = run(tmp_path, {**CENSUS_EXAMPLE, "funding": "yes"})
    assert shape.exit_code == 2 and "funding" in shape.output
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert runner.invoke(app, ["review", str(broken)]).exit_code == 2
    assert runner.invoke(app, ["review", str(tmp_path / "missing.yaml")]).exit_code == 2
    run(tmp_path, CENSUS_EXAMPLE)
    no_grid = runner.invoke(app, ["review", str(tmp_path / "task.json"), "--policy", str(FIXTURES / "haiwan")])
    assert no_grid.exit_code == 2 and "no grid admission chapter" in no_grid.output
