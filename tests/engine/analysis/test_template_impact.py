"""A province template change, county by county (engine.analysis.template_impact, `diff --counties`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from api.cli.app import app
from engine.analysis.diff import Decide
from engine.analysis.template_impact import rebase, template_impact
from engine.policy.index import Policy
from engine.policy.load import read_layer_dir, read_policy_dir
from engine.runtime import Runtime
from tests.conftest import ROOT

JURISDICTIONS = ROOT / "jurisdictions"


def _activate(files: dict[str, str], source: str) -> tuple[Policy, Decide]:
    runtime = Runtime.from_files(files, source, cache_size=0)
    return runtime.policy, runtime.decide


def _changed_template(tmp_path: Path) -> Path:
    """The template with WAT-02's lead changed (柯城 inherits it; 示例县 overrides WAT-02)."""
    head = tmp_path / "zhejiang"
    shutil.copytree(JURISDICTIONS / "zhejiang", head)
    water = head / "matters" / "water.yaml"
    text = water.read_text(encoding="utf-8")
    start = text.index("  - id: WAT-02")
    block = text[start:].replace("lead: water\n", "lead: nrp\n", 1)
    water.write_text(text[:start] + block, encoding="utf-8")
    return head


def test_rebase_swaps_only_the_template_layer() -> None:
    county = read_policy_dir(JURISDICTIONS / "kecheng")
    template = read_layer_dir(JURISDICTIONS / "zhejiang")
    template["matters/extra.yaml"] = "matters: []\n"
    rebased = rebase(county, template)
    assert "@zhejiang/matters/extra.yaml" in rebased
    assert {k: v for k, v in rebased.items() if not k.startswith("@")} == {k: v for k, v in county.items() if not k.startswith("@")}


def test_a_template_change_reaches_the_counties_that_inherit_it(tmp_path: Path) -> None:
    head = _changed_template(tmp_path)
    counties = {c: read_policy_dir(JURISDICTIONS / c) for c in ("kecheng", "shili")}
    results = {r.county: r for r in template_impact(read_layer_dir(JURISDICTIONS / "zhejiang"), read_layer_dir(head), counties, _activate)}
    kecheng, shili = results["kecheng"].impact, results["shili"].impact
    assert kecheng.changes and {c.case.matter for c in kecheng.changes} == {"WAT-02"}
    assert all(c.after.lead == "nrp" for c in kecheng.changes)
    assert not shili.changes  # its own override of WAT-02 keeps its lead


def test_diff_command_reports_per_county(tmp_path: Path) -> None:
    head = _changed_template(tmp_path)
    result = CliRunner().invoke(app, ["diff", "--base", str(JURISDICTIONS / "zhejiang"), "--head", str(head),
                                      "--counties", str(JURISDICTIONS), "--json", "--exit-code"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.output)
    by_county = {c["county"]: c for c in body["counties"]}
    assert set(by_county) == {"kecheng", "shili"}
    assert by_county["kecheng"]["changed_cases"] > 0 and by_county["shili"]["changed_cases"] == 0
    assert by_county["kecheng"]["name"] == "浙江省衢州市柯城区"
