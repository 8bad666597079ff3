"""Import does not trust the sheet: a stale <dimension> loses no rows, broken or hostile files
are clear errors (not tracebacks), a zip bomb is refused before it inflates, names that look
like formulas stay text, the hidden file column can only name a matters file, and a sheet
exported for one date never deletes the matters not in force that day."""

from __future__ import annotations

import re
import shutil
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from api.cli import app
from engine.errors import SheetError
from engine.listing.sheet import CODES_SHEET, LIST_SHEET, MAX_UNCOMPRESSED, import_sheet
from engine.policy.load import load_policy
from tests.conftest import SEED_POLICY
from tests.engine.listing.test_sheet import edit
from tests.support.policy_edit import copy_with_edit

runner = CliRunner()


def export(tmp_path: Path, *extra: str, policy: Path = SEED_POLICY) -> Path:
    path = tmp_path / "list.xlsx"
    result = runner.invoke(app, ["export", "--format", "xlsx", "--out", str(path), "--policy", str(policy), *extra])
    assert result.exit_code == 0, result.output
    return path


def rewrite_member(path: Path, member: str, change: object) -> None:
    """Replace one part of the xlsx zip, as a hand-made or hostile generator would."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info.filename) for info in source.infolist()}
    parts[member] = change(parts[member]) if callable(change) else change  # type: ignore[assignment]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


def problem(sheet: Path, tmp_path: Path) -> str:
    with pytest.raises(SheetError) as caught:
        import_sheet(sheet, tmp_path / "out", SEED_POLICY)
    assert not (tmp_path / "out").exists()
    return str(caught.value)


def test_rows_beyond_a_stale_dimension_tag_are_read(tmp_path: Path) -> None:
    sheet = export(tmp_path)
    rewrite_member(sheet, "xl/worksheets/sheet1.xml", lambda xml: re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:AA20"', xml))
    report = import_sheet(sheet, tmp_path / "out", SEED_POLICY)
    assert report.matters == len(load_policy(SEED_POLICY).matters) and report.removed_matters == []


@pytest.mark.parametrize("kind", ["not a zip", "truncated", "chartsheet only", "XXE", "billion laughs"])
def test_broken_and_hostile_files_are_clear_errors(tmp_path: Path, kind: str) -> None:
    sheet = export(tmp_path)
    if kind == "not a zip":
        sheet.write_bytes(b"\xd0\xcf\x11\xe0 an old .xls, or anything else")
    elif kind == "truncated":
        sheet.write_bytes(sheet.read_bytes()[:5000])
    elif kind == "chartsheet only":
        wb = openpyxl.Workbook()
        wb.create_chartsheet("图表")
        wb.remove(wb.active)  # type: ignore[arg-type]
        wb.save(sheet)
    else:
        entity = (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' if kind == "XXE"
                  else b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>')
        rewrite_member(sheet, "xl/worksheets/sheet1.xml", lambda xml: entity + xml.replace(b"<t>", b"<t>&e;" if kind == "XXE" else b"<t>&c;", 1))
    message = problem(sheet, tmp_path)
    assert "list.xlsx" in message and "Traceback" not in message
    assert "root:" not in message  # /etc/passwd never reaches the sheet


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path: Path) -> None:
    sheet = export(tmp_path)
    with zipfile.ZipFile(sheet, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/media/zeros.bin", b"\0" * (MAX_UNCOMPRESSED + 1))
    assert sheet.stat().st_size < 1 << 20  # ~64 KiB on disk
    assert "inflates to 64 MiB" in problem(sheet, tmp_path)


def test_an_organization_named_like_a_formula_stays_text(tmp_path: Path) -> None:
    policy = tmp_path / "policy"
    shutil.copytree(SEED_POLICY, policy)
    orgs = policy / "organizations.yaml"
    orgs.write_text(orgs.read_text(encoding="utf-8").replace("name: 衢江区水利局", 'name: "=HYPERLINK(\\"http://x\\",\\"水利局\\")"', 1), encoding="utf-8")
    sheet = export(tmp_path, policy=policy)
    wb = openpyxl.load_workbook(sheet)
    cells = [c for row in wb[CODES_SHEET].iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    cells += [c for row in wb[LIST_SHEET].iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert cells and all(c.data_type == "s" for c in cells)  # text, not a live formula
    with zipfile.ZipFile(sheet) as archive:
        assert not any(b"<f>" in archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/"))


@pytest.mark.parametrize("target", ["policy.yaml", "rules/x.yaml", ".git/x.yaml", "matters/../policy.yaml", "matters/.hidden.yaml", "schema/x.yaml", "/tmp/x.yaml"])
def test_the_hidden_file_column_names_only_a_matters_file(tmp_path: Path, target: str) -> None:
    sheet = export(tmp_path)
    edit(sheet, "WAT-01", "所在文件(机读)", target)
    assert "is not a matters file" in problem(sheet, tmp_path)


def test_a_sheet_exported_for_a_date_keeps_the_matters_not_in_force_then(tmp_path: Path) -> None:
    policy = copy_with_edit(SEED_POLICY, tmp_path / "policy", "matters", "FOR-03", valid_from="2027-01-01")  # not yet in force
    base = load_policy(policy)
    day = date(2026, 11, 1)
    absent = sorted(m.id for m in base.matters.values() if not m.in_force(day))
    assert absent == ["FOR-03"]
    sheet = export(tmp_path, "--as-of", day.isoformat(), policy=policy)
    result = runner.invoke(app, ["import", str(sheet), "--out", str(tmp_path / "out"), "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    assert "0 matter(s) removed" in result.output and f"{len(absent)} not in force then kept" in result.output
    assert set(load_policy(tmp_path / "out").matters) == set(base.matters)


def test_a_matter_deleted_from_the_sheet_is_named(tmp_path: Path) -> None:
    sheet = export(tmp_path)
    wb = openpyxl.load_workbook(sheet)
    ws = wb[LIST_SHEET]
    ids = [c.value for c in ws["A"]]  # noqa: F841 - layout check below
    id_col = next(c.column for c in ws[3] if c.value == "事项编号")
    victim = next(r for r in range(4, ws.max_row + 1) if ws.cell(r, id_col).value == "FOR-03")
    ws.delete_rows(victim)
    wb.save(sheet)
    result = runner.invoke(app, ["import", str(sheet), "--out", str(tmp_path / "out"), "--policy", str(SEED_POLICY)])
    assert result.exit_code == 0, result.output
    assert "removed 1 matter(s) not in the sheet: FOR-03" in result.output
    assert "FOR-03" not in yaml.safe_dump(load_policy(tmp_path / "out").files)
