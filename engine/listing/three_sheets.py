"""A township's three lists as the workbook officials publish: one sheet per list.

`export_three_lists` writes 基本履职事项 / 配合履职事项 / 上级部门收回事项 (title and scope
rows, then a header row and one row per matter). `read_three_lists` reads such a workbook
back into rows, and `compare_three_lists` reports every row that differs from what the
policy says (a matter on another list, another 承接部门 or 工作方式, a matter missing or
unknown), as `sheet, row: problem` lines: an empty list means the sheet matches the policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.worksheet import Worksheet

from engine.errors import ListsSheetError
from engine.listing.columns import render_basis
from engine.listing.township_lists import LIST_NAMES, LIST_ZH, ListEntry, ListName, ThreeLists
from engine.policy.index import Policy

HEADER_ROW = 3
COLUMNS: dict[ListName, tuple[str, ...]] = {
    "basic": ("序号", "事项编号", "事项名称", "领域", "乡镇(街道)职责", "依据"),
    "cooperative": ("序号", "事项编号", "事项名称", "对应上级部门", "上级部门职责", "镇街配合职责", "依据"),
    "recalled": ("序号", "事项编号", "事项名称", "承接部门", "工作方式", "乡镇(街道)职责", "依据"),
}
WIDTHS = {"序号": 6, "事项编号": 10, "事项名称": 24, "领域": 10, "依据": 40, "工作方式": 36}


@dataclass(frozen=True)
class SheetRow:
    list: ListName
    row: int
    matter: str
    department: str | None = None  # 对应上级部门 / 承接部门, as written (a name)
    method: str | None = None


def _cells(policy: Policy, entry: ListEntry, number: int) -> list[str | int]:
    matter = entry.matter
    domain = next((d.name for d in policy.manifest.domains if d.id == matter.domain), matter.domain)
    dept = policy.organizations[entry.department].name if entry.department else ""
    basis = "\n".join(render_basis(b) for b in entry.basis)
    duties = "\n".join(entry.township_duties)
    if entry.list == "basic":
        return [number, matter.id, matter.name, domain, duties, basis]
    if entry.list == "cooperative":
        return [number, matter.id, matter.name, dept, "\n".join(entry.department_duties), duties, basis]
    return [number, matter.id, matter.name, dept, entry.method or "", duties, basis]


def export_three_lists(policy: Policy, lists: ThreeLists, out: Path | IO[bytes]) -> dict[ListName, int]:
    """Write the three sheets; return the number of rows per list."""
    town = policy.organizations[lists.township]
    wb = Workbook()
    counts: dict[ListName, int] = {}
    for index, name in enumerate(LIST_NAMES):
        ws = wb.active if index == 0 else wb.create_sheet()
        assert ws is not None
        ws.title = LIST_ZH[name]
        columns = COLUMNS[name]
        ws["A1"] = f"{town.name}{LIST_ZH[name]}清单"
        ws["A1"].font = Font(size=14, bold=True)
        ws["A2"] = f"{policy.manifest.jurisdiction} · 截至 {lists.as_of.isoformat()} · 政策版本 {policy.version} · digest {policy.digest[:12]}"
        for col, label in enumerate(columns, 1):
            cell = ws.cell(HEADER_ROW, col, label)
            cell.font = Font(bold=True)
            ws.column_dimensions[cell.column_letter].width = WIDTHS.get(label, 20)
        entries = lists.of(name)
        for offset, entry in enumerate(entries):
            for col, value in enumerate(_cells(policy, entry, offset + 1), 1):
                cell = ws.cell(HEADER_ROW + 1 + offset, col, value if value != "" else None)
                cell.alignment = Alignment(vertical="top", wrap_text=True)
                if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
                    cell.data_type = "s"  # text, never a formula
        ws.freeze_panes = f"A{HEADER_ROW + 1}"
        counts[name] = len(entries)
    wb.save(out)
    return counts


def read_three_lists(path: Path | IO[bytes]) -> list[SheetRow]:
    """Every row of the three sheets; ListsSheetError when a sheet or a header is missing."""
    wb = load_workbook(path, read_only=True, data_only=True)
    rows: list[SheetRow] = []
    for name in LIST_NAMES:
        title = LIST_ZH[name]
        if title not in wb.sheetnames:
            raise ListsSheetError(f"the workbook has no sheet `{title}`")
        ws: Worksheet = wb[title]
        values = list(ws.iter_rows(values_only=True))
        header = [str(v) if v is not None else "" for v in (values[HEADER_ROW - 1] if len(values) >= HEADER_ROW else ())]
        missing = [c for c in COLUMNS[name] if c not in header]
        if missing:
            raise ListsSheetError(f"sheet `{title}` has no column `{missing[0]}` in row {HEADER_ROW}")
        at = {label: header.index(label) for label in COLUMNS[name]}
        for number, row in enumerate(values[HEADER_ROW:], HEADER_ROW + 1):
            matter = row[at["事项编号"]] if at["事项编号"] < len(row) else None
            if matter is None or str(matter).strip() == "":
                continue
            dept_col = "对应上级部门" if name == "cooperative" else "承接部门"
            department = row[at[dept_col]] if dept_col in at else None
            method = row[at["工作方式"]] if "工作方式" in at else None
            rows.append(
                SheetRow(name, number, str(matter).strip(), str(department).strip() if department else None, str(method).strip() if method else None)
            )
    wb.close()
    return rows


def compare_three_lists(policy: Policy, lists: ThreeLists, rows: list[SheetRow]) -> list[str]:
    """Problems where the sheet differs from the policy's lists (empty: they agree)."""
    expected = {e.matter.id: e for e in lists.entries}
    problems: list[str] = []
    seen: set[str] = set()
    for row in rows:
        where = f"{LIST_ZH[row.list]}, row {row.row}"
        entry = expected.get(row.matter)
        if entry is None:
            problems.append(f"{where}: matter `{row.matter}` is not in force for this township")
            continue
        seen.add(row.matter)
        if entry.list != row.list:
            problems.append(f"{where}: `{row.matter}` is on the {LIST_ZH[entry.list]} list in the policy")
            continue
        dept = policy.organizations[entry.department].name if entry.department else None
        if row.list != "basic" and row.department != dept:
            problems.append(f"{where}: `{row.matter}` department `{row.department}`, the policy names `{dept}`")
        if row.list == "recalled" and row.method != entry.method:
            problems.append(f"{where}: `{row.matter}` 工作方式 differs from the policy")
    for matter_id, entry in expected.items():
        if matter_id not in seen:
            problems.append(f"{LIST_ZH[entry.list]}: `{matter_id}` is missing from the sheet")
    return problems


