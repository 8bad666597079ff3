"""Excel in and out: export has every matter; import is row-checked, all or nothing, and lossless."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner

from api.cli import app
from engine.analysis import space
from engine.lead.decision import Case
from engine.listing.columns import COLUMNS, OFFICIAL
from engine.listing.sheet import HEADER_ROW, LIST_SHEET, SheetError, import_sheet
from engine.policy.load import load_policy
from engine.runtime import Runtime
from tests.conftest import SEED_POLICY
from tests.support.fingerprints import fingerprints, space_of

runner = CliRunner()
OFFICIAL_HEADERS = ["序号", "事项名称", "领域", "主体责任", "乡镇(街道)职责", "县级部门职责", "牵头部门", "配合部门", "法律依据", "时限"]


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    path = tmp_path / "list.xlsx"
    result = runner.invoke(app, ["export", "--format", "xlsx", "--out", str(path), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 0, result.output
    return path


def _column(ws: Any, label: str) -> int:
    headers = [c.value for c in ws[HEADER_ROW]]
    return headers.index(label) + 1


def edit(path: Path, matter_id: str, label: str, value: object) -> None:
    """Change one cell of the row whose 事项编号 is `matter_id`, as an author would in Excel."""
    wb = openpyxl.load_workbook(path)
    ws = wb[LIST_SHEET]
    id_col, col = _column(ws, "事项编号"), _column(ws, label)
    for row in range(HEADER_ROW + 1, ws.max_row + 1):
        if ws.cell(row, id_col).value == matter_id:
            ws.cell(row, col).value = value
            wb.save(path)
            return
    raise AssertionError(f"no row for {matter_id}")


def row_of(path: Path, matter_id: str) -> int:
    ws = openpyxl.load_workbook(path)[LIST_SHEET]
    id_col = _column(ws, "事项编号")
    return next(r for r in range(HEADER_ROW + 1, ws.max_row + 1) if ws.cell(r, id_col).value == matter_id)


def test_exported_xlsx_has_every_matter_in_official_columns(exported: Path) -> None:
    policy = load_policy(SEED_POLICY)
    ws = openpyxl.load_workbook(exported)[LIST_SHEET]
    headers = [c.value for c in ws[HEADER_ROW]]
    assert headers[: len(OFFICIAL)] == OFFICIAL_HEADERS
    assert headers == [c.label for c in COLUMNS]
    ids = [ws.cell(r, _column(ws, "事项编号")).value for r in range(HEADER_ROW + 1, ws.max_row + 1)]
    assert ids == list(policy.matters)
    names = [ws.cell(r, 2).value for r in range(HEADER_ROW + 1, ws.max_row + 1)]
    assert names == [m.name for m in policy.matters.values()]
    hidden = [c.label for i, c in enumerate(COLUMNS, 1) if ws.column_dimensions[openpyxl.utils.get_column_letter(i)].hidden]
    assert hidden == ["依据明细(机读)", "所在文件(机读)"]
    assert ws.title == "责任清单" and ws["A1"].value == policy.manifest.title


def test_unchanged_sheet_reproduces_the_policy_byte_for_byte(exported: Path, tmp_path: Path) -> None:
    out = tmp_path / "policy"
    report = import_sheet(exported, out, SEED_POLICY)
    assert report.written == [] and report.removed == []
    assert load_policy(out).digest == load_policy(SEED_POLICY).digest


def test_round_trip_decides_every_enumerated_case_identically(exported: Path, tmp_path: Path, seed_runtime: Runtime) -> None:
    out = tmp_path / "imported"
    # --normalize rewrites every matters file from the sheet, so the YAML writer is what is tested.
    result = runner.invoke(app, ["import", str(exported), "--out", str(out), "--policy", str(SEED_POLICY), "--normalize"])
    assert result.exit_code == 0, result.output
    assert "wrote   matters/water.yaml" in result.output
    check = runner.invoke(app, ["check", "--policy", str(out)])
    assert check.exit_code == 0, check.output

    original = seed_runtime.policy
    imported = load_policy(out)
    assert imported.digest != original.digest  # really rewritten
    assert dict(imported.matters) == dict(original.matters)
    cases = space_of(SEED_POLICY)
    assert len(cases) == space.count(original) > 100
    ours = fingerprints(SEED_POLICY, cases)
    other = fingerprints(out, cases)
    assert len(other) == len(ours)
    differing = [i for i, (a, b) in enumerate(zip(ours, other, strict=True)) if a != b]
    if differing:
        case = cases[differing[0]]
        before, after = seed_runtime.decide(case).to_dict(), Runtime.from_dir(out).decide(case).to_dict()
        pytest.fail(f"{len(differing)} of {len(cases)} cases decide differently, first {case}: {before} != {after}")


def test_an_edited_cell_changes_the_decision(exported: Path, tmp_path: Path, seed_runtime: Runtime) -> None:
    edit(exported, "WAT-02", "牵头部门", "衢江区综合行政执法局")
    edit(exported, "WAT-02", "配合部门", "衢江区水利局、衢州市自然资源和规划局衢江分局")
    out = tmp_path / "edited"
    report = import_sheet(exported, out, SEED_POLICY)
    assert report.written == ["matters/water.yaml"]
    edited = Runtime.from_dir(out)
    case = Case(township="fushi", matter="WAT-02", as_of=date(2026, 11, 1))
    assert seed_runtime.decide(case).lead.id == "qj-water"
    decision = edited.decide(case)
    assert decision.lead.id == "qj-enforce"
    assert [s.id for s in decision.supports] == ["qj-water", "qj-nrp"]


def test_row_errors_name_row_column_and_problem_and_write_nothing(exported: Path, tmp_path: Path) -> None:
    edit(exported, "WAT-01", "牵头部门", "衢江区水里局")
    edit(exported, "LND-01", "时限", "签收 很快")
    edit(exported, "FOR-03", "事项编号", "WAT-02")
    out = tmp_path / "never"
    with pytest.raises(SheetError) as exc:
        import_sheet(exported, out, SEED_POLICY)
    rendered = [e.render() for e in exc.value.errors]
    assert f"row {row_of(exported, 'WAT-01')}, column 牵头部门 (G): unknown organization `衢江区水里局` (did you mean `衢江区水利局`?)" in rendered
    assert any(r.startswith(f"row {row_of(exported, 'LND-01')}, column 时限 (J): cannot read the time limit `签收 很快`") for r in rendered)
    assert any("matter id `WAT-02` is used twice" in r for r in rendered)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]  # no staging left behind


def test_a_policy_that_would_not_load_never_replaces_the_old_one(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, target)
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    ws_path = exported
    wb = openpyxl.load_workbook(ws_path)
    ws = wb[LIST_SHEET]
    ws.delete_rows(row_of(ws_path, "LND-02"))  # the delegation FQ-2021-01 still names LND-02
    wb.save(ws_path)
    result = runner.invoke(app, ["import", str(ws_path), "--out", str(target), "--policy", str(target)])
    assert result.exit_code == 1
    assert "matter `LND-02` (农村违法建房) is no longer in the sheet, but clauses DEL-BUILD-TEAM, YJS-FARMHOUSE-FARMLAND, FQ-2021-01 still use it" in result.output
    assert "restore its row, or first remove `LND-02` from rules/delegation.yaml, rules/integrated.yaml" in result.output
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert after == before


def test_in_place_import_updates_the_policy(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, target)
    edit(exported, "WAT-02", "别名", "河道违建、河道堆放、四乱、乱占河道")
    result = runner.invoke(app, ["import", str(exported), "--out", str(target), "--policy", str(target)])
    assert result.exit_code == 0, result.output
    assert load_policy(target).matters["WAT-02"].aliases[-1] == "乱占河道"
    assert (target / "schema" / "policy.schema.json").is_file()  # non-YAML files stay
    assert target.stat().st_mode == SEED_POLICY.stat().st_mode  # and so do the directory's permissions
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.xlsx", "policy"]


def test_csv_round_trip_and_formula_guard(tmp_path: Path) -> None:
    csv_path = tmp_path / "list.csv"
    result = runner.invoke(app, ["export", "--format", "csv", "--out", str(csv_path), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 0
    raw = csv_path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads UTF-8
    text = raw.decode("utf-8-sig").replace("占道经营和流动摊贩", "=占道经营和流动摊贩")
    csv_path.write_text(text, encoding="utf-8-sig")
    out = tmp_path / "p"
    import_sheet(csv_path, out, SEED_POLICY)
    assert load_policy(out).matters["URB-01"].name == "=占道经营和流动摊贩"
    again = tmp_path / "again.csv"
    runner.invoke(app, ["export", "--format", "csv", "--out", str(again), "--policy", str(out)])
    assert ",'=占道经营和流动摊贩," in again.read_text(encoding="utf-8-sig")


def test_a_new_row_needs_an_id_and_gets_a_hint(exported: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(exported)
    ws = wb[LIST_SHEET]
    new = ws.max_row + 1
    values = {"事项名称": "河道垃圾倾倒", "领域": "水利", "主体责任": "县级部门", "乡镇(街道)职责": "巡河发现\n报告", "牵头部门": "区水利局", "法律依据": "《中华人民共和国水法》第三十七条"}
    for label, value in values.items():
        ws.cell(new, _column(ws, label)).value = value
    wb.save(exported)
    with pytest.raises(SheetError) as exc:
        import_sheet(exported, tmp_path / "p", SEED_POLICY)
    (error,) = exc.value.errors
    rendered = error.render()
    assert rendered.startswith(f"row {new}, column 事项编号 (K): a matter needs an id (for example `WAT-")
    suggested = rendered.split("`")[1]
    assert suggested not in load_policy(SEED_POLICY).matters
    ws.cell(new, _column(ws, "事项编号")).value = suggested
    wb.save(exported)
    import_sheet(exported, tmp_path / "p", SEED_POLICY)
    added = load_policy(tmp_path / "p").matters[suggested]
    assert added.lead == "qj-water" and added.township_duties == ("巡河发现", "报告")
    assert f"id: {suggested}" in (tmp_path / "p" / "matters" / "water.yaml").read_text(encoding="utf-8")


def test_export_html_is_one_standalone_page(tmp_path: Path) -> None:
    out = tmp_path / "list.html"
    result = runner.invoke(app, ["export", "--format", "html", "--out", str(out), "--policy", str(SEED_POLICY), "--as-of", "2026-11-01"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<style>" in page and "/static/" not in page
    for matter in load_policy(SEED_POLICY).matters.values():
        assert f'data-id="{matter.id}"' in page


def test_deleting_a_matter_that_rules_use_names_those_rules(exported: Path, tmp_path: Path) -> None:
    wb = openpyxl.load_workbook(exported)
    wb[LIST_SHEET].delete_rows(row_of(exported, "WAT-01"))
    wb.save(exported)
    result = runner.invoke(app, ["import", str(exported), "--out", str(tmp_path / "new"), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 1
    assert "matter `WAT-01` (河道非法采砂) is no longer in the sheet, but clauses YJS-SAND-" in result.output
    assert "not an allowed value" not in result.output and "did you mean" not in result.output
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("column", "written", "hint"),
    [
        ("牵头部门", "衢江区公安局", "did you mean `衢州市公安局衢江分局`?"),  # short name 公安衢江分局
        ("配合部门", "区林业", "did you mean `衢江区林业局`?"),
        ("领域", "水力", "did you mean `水利`?"),
        ("领域", "交通局", "did you mean `交通运输`?"),
    ],
)
def test_unknown_names_get_the_body_or_domain_they_resemble(exported: Path, tmp_path: Path, column: str, written: str, hint: str) -> None:
    edit(exported, "WAT-02", column, written)
    result = runner.invoke(app, ["import", str(exported), "--out", str(tmp_path / "new"), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 1
    assert f"`{written}` ({hint})" in result.output, result.output


def test_import_keeps_comments_and_touches_only_the_changed_lines(tmp_path: Path) -> None:
    target = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, target)
    water = target / "matters" / "water.yaml"
    text = water.read_text(encoding="utf-8")
    text = "# 水利事项(作者的说明)\n" + text.replace("  - id: WAT-03\n", "  # 河道保洁由乡镇负责\n  - id: WAT-03  # 见河长制规定\n")
    text = text.replace("    lead: qj-water\n", "    lead: qj-water  # 区水利局牵头\n", 1)
    water.write_text(text, encoding="utf-8")
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    sheet = tmp_path / "list.xlsx"
    assert runner.invoke(app, ["export", "--format", "xlsx", "--out", str(sheet), "--policy", str(target)]).exit_code == 0
    edit(sheet, "WAT-01", "别名", "采砂\n盗采河砂\n偷挖河砂\n非法挖砂\n河道挖砂")
    result = runner.invoke(app, ["import", str(sheet), "--out", str(target), "--policy", str(target)])
    assert result.exit_code == 0, result.output
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert {name for name in before if before[name] != after[name]} == {Path("matters/water.yaml")}
    old_lines, new_lines = text.splitlines(), water.read_text(encoding="utf-8").splitlines()
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [("    aliases: [采砂, 盗采河砂, 偷挖河砂, 非法挖砂]", "    aliases: [采砂, 盗采河砂, 偷挖河砂, 非法挖砂, 河道挖砂]")]
    assert load_policy(target).matters["WAT-01"].aliases[-1] == "河道挖砂"


def test_import_deletes_and_adds_matters_around_the_comments(exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, target)
    water = target / "matters" / "water.yaml"
    text = water.read_text(encoding="utf-8").replace("  - id: WAT-03\n", "  # 河道保洁由乡镇负责\n  - id: WAT-03\n")
    water.write_text(text, encoding="utf-8")
    wb = openpyxl.load_workbook(exported)
    wb[LIST_SHEET].delete_rows(row_of(exported, "WAT-02"))
    wb.save(exported)
    result = runner.invoke(app, ["import", str(exported), "--out", str(target), "--policy", str(target)])
    assert result.exit_code == 0, result.output
    written = water.read_text(encoding="utf-8")
    assert "WAT-02" not in written and "  # 河道保洁由乡镇负责\n  - id: WAT-03\n" in written
    assert "WAT-02" not in load_policy(target).matters


def test_import_warns_when_the_list_changes_and_the_version_does_not(exported: Path, tmp_path: Path) -> None:
    edit(exported, "WAT-02", "别名", "河道违建、河道堆放、四乱、乱占河道")
    result = runner.invoke(app, ["import", str(exported), "--out", str(tmp_path / "new"), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 0, result.output
    assert "warning: policy.yaml:4: qujiang: the policy's content changed since the base policy" in result.output
    assert "but its version is still `2026.11.2` (raise `version` in policy.yaml, e.g. to `2026.11.3`)" in result.output
