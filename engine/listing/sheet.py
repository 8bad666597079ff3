"""The list as a spreadsheet: export it to xlsx or csv, import an edited sheet as policy YAML.

Export writes the official columns first, then the extra and (hidden) machine columns that
make the round trip lossless, a 代码表 sheet of valid names and a 说明 sheet.

Import (`import_sheet`) reads every row, reports each problem as (row, column, problem),
and only when there is none builds the whole policy — the base policy's other files plus
the imported matters — in a temporary directory, validates and compiles it exactly as
`tiaokuai check` does, and then moves it into place. A sheet with any error writes
nothing; a policy that fails validation never replaces the one in `out`.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import yaml
from openpyxl import Workbook, load_workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from engine.errors import PolicyError, RowError, SheetError
from engine.listing.columns import (
    COLUMN_BY_KEY,
    COLUMNS,
    OFFICIAL,
    PROVENANCE_LABELS,
    REF_LABELS,
    RESPONSIBILITY_LABELS,
    Cell,
    Listing,
    canonical,
    text,
)
from engine.policy.index import Policy
from engine.policy.load import load_policy
from engine.policy.model import Comparison, Matter
from engine.policy.versioning import unchanged_version
from engine.rules.compile import compile_policy

LIST_SHEET = "责任清单"
CODES_SHEET = "代码表"
ABOUT_SHEET = "说明"
HEADER_ALIASES = {
    "依据": "basis",
    "实施依据": "basis",
    "乡镇职责": "township_duties",
    "镇街职责": "township_duties",
    "部门职责": "department_duties",
    "协同部门": "supports",
    "编号": "id",
    "所在文件": "file",
    "依据明细": "basis_detail",
}
GENERATED_HEADER = "# 由 `tiaokuai import` 从电子表格生成: 可直接编辑本文件, 也可在 Excel 中编辑后重新导入\n"
# Cells starting with these make spreadsheet programs evaluate a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@")
# An xlsx is a zip: refuse one that would inflate beyond this (a zip bomb), or a huge CSV.
MAX_UNCOMPRESSED = 64 << 20
MAX_MEMBERS = 1000
MAX_CSV = 16 << 20
# The workbook's custom property naming the date a sheet was exported for (`--as-of`).
AS_OF_PROPERTY = "tiaokuai.as_of"


# --- export ------------------------------------------------------------------------


def matters_in_force(policy: Policy, as_of: date | None) -> list[Matter]:
    return [m for m in policy.matters.values() if as_of is None or m.in_force(as_of)]


def export_csv(policy: Policy, out: IO[str], as_of: date | None = None, matters: list[Matter] | None = None) -> int:
    """Write the list as CSV (every column, header labels); return the number of matters.

    `matters` (default: those in force on `as_of`, or all) selects the rows.

    Write it with encoding `utf-8-sig` so that Excel opens the Chinese text correctly.
    """
    listing = Listing(policy)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.label for c in COLUMNS])
    rows = listing.rows(matters if matters is not None else matters_in_force(policy, as_of))
    for row in rows:
        writer.writerow([_csv_cell(row[c.key]) for c in COLUMNS])
    return len(rows)


def _csv_cell(value: Cell) -> str:
    out = text(value) if value is not None else ""
    # NOTE: a leading apostrophe keeps spreadsheet programs from running `=...` as a
    # formula; import removes it again, so the round trip stays lossless.
    return "'" + out if out.startswith(FORMULA_START) else out


_THIN = Side(style="thin", color="808080")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_FILLS = {
    "official": PatternFill("solid", fgColor="D9E1F2"),
    "extra": PatternFill("solid", fgColor="E2EFDA"),
    "machine": PatternFill("solid", fgColor="EDEDED"),
}
HEADER_ROW = 3


def export_xlsx(policy: Policy, out: Path | IO[bytes], as_of: date | None = None, matters: list[Matter] | None = None) -> int:
    """Write the list as an xlsx workbook; return the number of matters written.

    `matters` (default: those in force on `as_of`, or all) selects the rows.
    """
    listing = Listing(policy)
    rows = listing.rows(matters if matters is not None else matters_in_force(policy, as_of))
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = LIST_SHEET
    last_official = get_column_letter(len(OFFICIAL))
    ws["A1"] = policy.manifest.title
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
    ws.merge_cells(f"A1:{last_official}1")
    ws.row_dimensions[1].height = 30
    scope = f"截至 {as_of.isoformat()} 有效事项" if as_of else "全部事项(含已失效、未生效)"
    ws["A2"] = f"{policy.manifest.jurisdiction} · 版本 {policy.version} · {scope} · 共 {len(rows)} 项 · digest {policy.digest[:12]}"
    ws["A2"].alignment = Alignment(horizontal="center")
    ws.merge_cells(f"A2:{last_official}2")
    for index, column in enumerate(COLUMNS, 1):
        head = ws.cell(HEADER_ROW, index, column.label)
        head.font = Font(bold=True)
        head.fill = _FILLS[column.group]
        head.border = _BORDER
        head.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        letter = get_column_letter(index)
        ws.column_dimensions[letter].width = column.width
        if column.group == "machine":
            ws.column_dimensions[letter].hidden = True
    wrap = Alignment(vertical="top", wrap_text=True)
    for offset, row in enumerate(rows):
        for index, column in enumerate(COLUMNS, 1):
            value = row[column.key]
            target = ws.cell(HEADER_ROW + 1 + offset, index)
            _put(target, value if value != "" else None)
            if isinstance(value, date):
                target.number_format = "yyyy-mm-dd"
            target.alignment = wrap
            target.border = _BORDER
    last_row = HEADER_ROW + max(len(rows), 1)
    ws.freeze_panes = f"C{HEADER_ROW + 1}"
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(COLUMNS))}{last_row}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    _codes_sheet(wb, policy, ws, len(rows) + 200)
    _about_sheet(wb, policy, len(rows), as_of)
    if as_of is not None:
        # Import reads this: matters not in force that day are not in the sheet and must stay.
        wb.custom_doc_props.append(StringProperty(name=AS_OF_PROPERTY, value=as_of.isoformat()))  # type: ignore[attr-defined]
    wb.save(out)
    return len(rows)


def _put(cell: Any, value: Cell) -> Any:
    """Write `value` into `cell`; text that starts like a formula stays text (never evaluated)."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    return cell


def _column_letter(key: str) -> str:
    return get_column_letter(next(i for i, c in enumerate(COLUMNS, 1) if c.key == key))


def _codes_sheet(wb: Workbook, policy: Policy, ws: Worksheet, rows: int) -> None:
    """Valid names for the coded columns, and drop-down lists that offer them."""
    codes = wb.create_sheet(CODES_SHEET)
    tables: list[tuple[str, list[tuple[str, str]]]] = [
        ("领域", [(d.id, d.name) for d in policy.manifest.domains]),
        (
            "单位",
            [(ref, label) for ref, label in REF_LABELS.items()]
            + [(o.id, Listing(policy).org_label(o.id)) for o in policy.organizations.values()],
        ),
        ("主体责任", [(r.value, label) for r, label in RESPONSIBILITY_LABELS.items()]),
        ("来源类型", [(p.value, label) for p, label in PROVENANCE_LABELS.items()]),
        ("时限", list(policy.manifest.time_limit_labels.items())),
        ("案件属性", [(a.id, a.name) for a in policy.attributes.values()]),
    ]
    ranges: dict[str, str] = {}
    for index, (title, pairs) in enumerate(tables):
        id_col, name_col = get_column_letter(2 * index + 1), get_column_letter(2 * index + 2)
        codes[f"{id_col}1"] = f"{title}编号"
        codes[f"{name_col}1"] = f"{title}名称"
        for cell in (codes[f"{id_col}1"], codes[f"{name_col}1"]):
            cell.font = Font(bold=True)
        for n, (ident, name) in enumerate(pairs, 2):
            _put(codes[f"{id_col}{n}"], ident)
            _put(codes[f"{name_col}{n}"], name)
        codes.column_dimensions[id_col].width = 18
        codes.column_dimensions[name_col].width = 30
        ranges[title] = f"'{CODES_SHEET}'!${name_col}$2:${name_col}${len(pairs) + 1}"
    first, last = HEADER_ROW + 1, HEADER_ROW + rows
    for key, title in (("domain", "领域"), ("responsibility", "主体责任"), ("lead", "单位"), ("provenance", "来源类型")):
        # A warning, not a stop: ids and `name(id)` are valid too.
        check = DataValidation(type="list", formula1=ranges[title], allow_blank=True, errorStyle="warning")
        check.error = f"不在代码表中的{title}, 导入时会报错 (not in the code table)"
        check.errorTitle = COLUMN_BY_KEY[key].label
        ws.add_data_validation(check)
        letter = _column_letter(key)
        check.add(f"{letter}{first}:{letter}{last}")


def _about_sheet(wb: Workbook, policy: Policy, count: int, as_of: date | None) -> None:
    about = wb.create_sheet(ABOUT_SHEET)
    lines: list[tuple[str, str]] = [
        ("政策 (policy)", f"{policy.id} · {policy.manifest.title}"),
        ("版本 (version)", policy.version),
        ("digest", policy.digest),
        ("导出时间 (exported)", datetime.now().astimezone().isoformat(timespec="seconds")),
        ("范围 (scope)", f"截至 {as_of} 有效" if as_of else "全部事项"),
        ("事项数 (matters)", str(count)),
        ("说明 (notice)", policy.manifest.notice or ""),
        ("导入 (import)", "tiaokuai import 本文件.xlsx --out policy/   逐行校验, 有错则不写入任何文件"),
        ("", ""),
        ("列 (column)", "填写说明 (how to fill it)"),
    ]
    lines += [(c.label, c.help) for c in COLUMNS]
    for n, (key, value) in enumerate(lines, 1):
        _put(about.cell(n, 1), key).font = Font(bold=True)
        _put(about.cell(n, 2), value).alignment = Alignment(wrap_text=True, vertical="top")
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 90


# --- import ------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetRow:
    """One data row: its spreadsheet row number and its cells keyed by column key."""

    number: int
    cells: dict[str, Cell]


@dataclass
class ImportReport:
    """What an import did: matters read, and files written, kept and removed."""

    out: Path
    matters: int
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    removed_matters: list[str] = field(default_factory=list)  # in the base, not in the sheet: deleted
    kept_matters: list[str] = field(default_factory=list)  # not in force on the sheet's date: kept as they were
    as_of: date | None = None


def _header_key(label: str) -> str | None:
    label = label.strip()
    for column in COLUMNS:
        if label in (column.label, column.key):
            return column.key
    return HEADER_ALIASES.get(label)


def _find_header(rows: list[tuple[int, list[Cell]]]) -> tuple[int, dict[int, str], list[str]]:
    """The header row's number, position → column key, and the labels it ignores."""
    for number, values in rows[:12]:
        labels = [text(v) for v in values]
        if "事项名称" in labels or "name" in labels:
            keys: dict[int, str] = {}
            ignored: list[str] = []
            for position, label in enumerate(labels):
                key = _header_key(label) if label else None
                if key is not None and key not in keys.values():
                    keys[position] = key
                elif label:
                    ignored.append(label)
            return number, keys, ignored
    raise SheetError([RowError(None, None, "no header row with `事项名称` in the first 12 rows", "keep the header row of the exported sheet")])


@dataclass(frozen=True)
class SheetData:
    """What a sheet holds: data rows, key → column letter, ignored headers, the export date."""

    rows: list[SheetRow]
    letters: dict[str, str]
    ignored: list[str]
    as_of: date | None = None


def _refuse(path: Path, problem: str, hint: str | None = None) -> SheetError:
    return SheetError([RowError(None, None, f"`{path.name}`: {problem}", hint)])


def _check_zip(path: Path) -> None:
    """Refuse what is not a zip, or would inflate beyond MAX_UNCOMPRESSED, before openpyxl reads it."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _refuse(path, f"not an xlsx workbook (not a complete zip file: {exc})", "save the sheet again as .xlsx, or export it afresh") from None
    if len(members) > MAX_MEMBERS:
        raise _refuse(path, f"the workbook has {len(members)} parts (at most {MAX_MEMBERS})")
    # NOTE: zipfile stops each member at its declared size, so the declared sizes bound what is inflated.
    total = sum(m.file_size for m in members)
    if total > MAX_UNCOMPRESSED:
        raise _refuse(path, f"the workbook inflates to {total >> 20} MiB (at most {MAX_UNCOMPRESSED >> 20} MiB)", "a responsibility list is far smaller: is this the right file?")


def _read_xlsx(path: Path) -> tuple[list[tuple[int, list[Cell]]], date | None]:
    _check_zip(path)
    try:
        # An open handle of our own: openpyxl leaves its archive open when a part fails to parse.
        with path.open("rb") as handle:
            return _read_workbook(path, handle)
    except SheetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed part (XML, XXE refused by defusedxml, zlib) is the file's fault
        raise _refuse(path, f"cannot read the workbook: {type(exc).__name__}: {exc}", "save the sheet again as .xlsx, or export it afresh") from None


def _read_workbook(path: Path, handle: IO[bytes]) -> tuple[list[tuple[int, list[Cell]]], date | None]:
    wb = load_workbook(handle, read_only=True, data_only=True)
    try:
        sheets: list[Any] = list(wb.worksheets)
        ws: Any
        if LIST_SHEET in wb.sheetnames and wb[LIST_SHEET] in sheets:
            ws = wb[LIST_SHEET]
        elif sheets:
            ws = sheets[0]
        else:
            raise _refuse(path, "the workbook has no worksheet (only charts)", f"import the exported workbook with its `{LIST_SHEET}` sheet")
        # NOTE: the <dimension> tag may be stale (a generator that never updates it); in
        # read-only mode openpyxl would stop reading there and drop the rows below.
        ws.reset_dimensions()
        raw = [(n, [_cell(v) for v in values]) for n, values in enumerate(ws.iter_rows(values_only=True), 1)]
        return raw, _exported_as_of(wb)
    finally:
        wb.close()


def _exported_as_of(wb: Workbook) -> date | None:
    for prop in wb.custom_doc_props.props:  # type: ignore[attr-defined]
        if prop.name == AS_OF_PROPERTY and isinstance(prop.value, str):
            try:
                return date.fromisoformat(prop.value)
            except ValueError:
                return None
    return None


def read_rows(path: Path) -> SheetData:
    """Read an exported (and edited) xlsx or csv: data rows, key → column letter, ignored headers."""
    raw: list[tuple[int, list[Cell]]]
    suffix = path.suffix.lower()
    as_of = None
    if suffix == ".csv":
        if path.stat().st_size > MAX_CSV:
            raise _refuse(path, f"the file is larger than {MAX_CSV >> 20} MiB")
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                raw = [(n, [_uncsv(v) for v in values]) for n, values in enumerate(csv.reader(handle), 1)]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise _refuse(path, f"not a UTF-8 CSV file: {exc}", "export the list again, or save it as CSV UTF-8") from None
    elif suffix in (".xlsx", ".xlsm"):
        raw, as_of = _read_xlsx(path)
    else:
        raise SheetError([RowError(None, None, f"`{path.name}` is neither .xlsx nor .csv")])
    header, keys, ignored = _find_header(raw)
    letters = {key: get_column_letter(position + 1) for position, key in keys.items()}
    rows = []
    for number, values in raw:
        if number <= header:
            continue
        cells = {key: values[position] if position < len(values) else None for position, key in keys.items()}
        if any(text(v) for k, v in cells.items() if k != "seq"):
            rows.append(SheetRow(number, cells))
    return SheetData(rows, letters, ignored, as_of)


def _cell(value: object) -> Cell:
    if value is None or isinstance(value, str | int | date):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return str(value)


def _uncsv(value: str) -> str:
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


@dataclass(frozen=True)
class ImportedMatter:
    row: int
    matter: Matter
    file: str | None


def matters_from_rows(base: Policy, rows: list[SheetRow], letters: dict[str, str]) -> list[ImportedMatter]:
    """Parse and validate every row against the base policy's vocabulary; raise SheetError."""
    listing = Listing(base)
    errors: list[RowError] = []
    imported: list[ImportedMatter] = []
    first_row: dict[str, int] = {}

    def error(row: int, key: str | None, problem: str, hint: str | None = None) -> None:
        label = COLUMN_BY_KEY[key].label if key in COLUMN_BY_KEY else key
        errors.append(RowError(row, label, problem, hint, letters.get(key or "")))

    required = [k for k in ("id", "name", "domain", "responsibility", "township_duties", "lead", "basis") if k not in letters]
    if required:
        labels = ", ".join(COLUMN_BY_KEY[k].label for k in required)
        raise SheetError([RowError(None, None, f"the sheet has no column {labels}", "keep the columns of the exported sheet")])
    for row in rows:
        fields, problems = listing.parse(row.cells)
        for p in problems:
            error(row.number, p.column, p.problem, p.hint)
        file = _file_cell(row, error)
        if problems:
            continue
        if "id" not in fields:
            error(row.number, "id", "a matter needs an id", _next_id(base, fields.get("domain"), first_row))
            continue
        try:
            matter = Matter.model_validate(fields)
        except ValidationError as exc:
            for err in exc.errors():
                key = str(err["loc"][0]) if err["loc"] else None
                problem = "required" if err["type"] == "missing" else str(err["msg"]).replace("Value error, ", "")
                error(row.number, key, problem[0].lower() + problem[1:])
            continue
        if matter.id in first_row:
            error(row.number, "id", f"matter id `{matter.id}` is used twice", f"first used in row {first_row[matter.id]}")
            continue
        first_row[matter.id] = row.number
        imported.append(ImportedMatter(row.number, matter, file))
    if errors:
        raise SheetError(errors)
    if not imported:
        raise SheetError([RowError(None, None, "the sheet has no matters", "an empty list would remove every matter")])
    return imported


def _file_cell(row: SheetRow, error: Any) -> str | None:
    value = text(row.cells.get("file"))
    if not value:
        return None
    parts = Path(value).parts
    # Only a matters file: never policy.yaml, rules/, the schema, or anything outside the policy.
    if (
        Path(value).is_absolute()
        or "\\" in value
        or len(parts) < 2
        or parts[0] != "matters"
        or any(p in ("..", ".") or p.startswith(".") for p in parts)
        or not value.endswith((".yaml", ".yml"))
    ):
        error(row.number, "file", f"`{value}` is not a matters file", "give matters/<name>.yaml, or clear the cell to use matters/<domain>.yaml")
        return None
    return Path(value).as_posix()


def _next_id(base: Policy, domain: str | None, taken: dict[str, int]) -> str | None:
    """A hint for a new row: the next free id in the style of the domain's other matters."""
    ids = [m.id for m in base.matters.values() if m.domain == domain] or list(base.matters)
    for ident in ids:
        stem, sep, number = ident.rpartition("-")
        if sep and number.isdigit():
            used = {*base.matters, *taken}
            for n in range(int(number) + 1, int(number) + 1000):
                candidate = f"{stem}-{n:0{len(number)}d}"
                if candidate not in used:
                    return f"for example `{candidate}`"
    return None


class _Dumper(yaml.SafeDumper):
    """Block style with indented sequences, like the hand-written policy files."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


class _Flow(list[Any]):
    pass


class _FlowMap(dict[str, Any]):
    pass


_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
_Dumper.add_representer(_FlowMap, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v, flow_style=True))


def _styled(matter: Matter) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in canonical(matter).items():
        if key == "basis":
            out[key] = [_FlowMap(b) for b in value]
        elif key == "time_limits":
            out[key] = _FlowMap(value)
        elif key == "examples":
            out[key] = list(value)  # one ticket text per line, as authors write them
        elif isinstance(value, list):
            out[key] = _Flow(value)
        else:
            out[key] = value
    return out


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=False)


def matters_yaml(matters: list[Matter]) -> str:
    """A matters file in the canonical style (the inverse of loading it)."""
    return GENERATED_HEADER + dump_yaml({"matters": [_styled(m) for m in matters]})


def _round_trip() -> YAML:
    """ruamel.yaml in round-trip mode, set to the policy files' own layout (2-space maps,
    `  - ` items, no line wrapping): loading and dumping an untouched file gives it back byte
    for byte, comments and quoting included."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _rt_styled(key: str, value: Any) -> Any:
    """A new value in the files' style: lists and maps in flow style, `basis` a block of flow maps."""
    if isinstance(value, dict):
        flow_map = CommentedMap(value)
        flow_map.fa.set_flow_style()
        return flow_map
    if isinstance(value, list):
        if key == "basis":
            block = CommentedSeq([_rt_styled("", v) for v in value])
            block.fa.set_block_style()
            return block
        flow_seq = CommentedSeq(value)
        flow_seq.fa.set_flow_style()
        return flow_seq
    return value


def _rt_update(item: CommentedMap, new: dict[str, Any]) -> None:
    """Change only the keys whose values differ; their comments stay attached."""
    for key in [k for k in item if k not in new]:
        del item[key]
    for index, (key, value) in enumerate(new.items()):
        if key not in item:
            item.insert(index, key, _rt_styled(key, value))
        elif _plain(item[key]) != value:
            item[key] = _rt_styled(key, value)


def update_matters_text(text: str, matters: list[dict[str, Any]]) -> str | None:
    """A matters file with `matters` (canonical mappings) written into it in place.

    Items whose content is unchanged keep their text, comments and layout; a changed
    item keeps its comments and unchanged keys; deleted items go, new ones are appended.
    Returns None when nothing would be left in the file.
    """
    rt = _round_trip()
    data = rt.load(text)
    if not isinstance(data, CommentedMap):
        data = CommentedMap()
    wanted = {m["id"]: m for m in matters}
    items = data.get("matters")
    if not isinstance(items, CommentedSeq):
        items = CommentedSeq()
        data["matters"] = items
    for index in reversed(range(len(items))):  # delete in place: the list's own comments stay
        if not isinstance(items[index], CommentedMap) or items[index].get("id") not in wanted:
            del items[index]
    present = set()
    for item in items:
        present.add(item["id"])
        if _plain(item) != wanted[item["id"]]:
            _rt_update(item, wanted[item["id"]])
    for matter in matters:
        if matter["id"] not in present:
            item = CommentedMap()
            _rt_update(item, matter)
            items.append(item)
    if not items:
        del data["matters"]
    if not data:
        return None
    out = io.StringIO()
    rt.dump(data, out)
    return out.getvalue()


def build_files(
    base: Policy, imported: list[ImportedMatter], normalize: bool = False, as_of: date | None = None
) -> tuple[dict[str, str], ImportReport]:
    """The complete policy's files: the base's other files plus the imported matters.

    A sheet exported for one date (`as_of`) lists only the matters in force that day: the
    base's other matters are kept as they are, not deleted. Any other matter missing from
    the sheet is removed and named in the report.

    A matters file whose matters are unchanged keeps its text (an unchanged sheet
    reproduces the policy byte for byte); a changed one is edited in place through
    ruamel.yaml's round trip, so its comments, quoting and untouched items survive.
    `normalize` rewrites every matters file in the canonical style instead.
    """
    files = dict(base.files)
    report = ImportReport(Path("."), len(imported))
    before: dict[str, list[Matter]] = {}
    for matter in base.matters.values():
        before.setdefault(base.where("matters", matter.id).file, []).append(matter)
    after: dict[str, list[Matter]] = {}
    in_sheet = {item.matter.id for item in imported}
    kept_out = [m for m in base.matters.values() if m.id not in in_sheet and as_of is not None and not m.in_force(as_of)]
    imported = imported + [ImportedMatter(0, m, base.where("matters", m.id).file) for m in kept_out]
    report.kept_matters = [m.id for m in kept_out]
    report.removed_matters = [m for m in base.matters if m not in in_sheet and m not in report.kept_matters]
    for item in imported:
        name = item.file
        if name is None and item.matter.id in base.matters:
            name = base.where("matters", item.matter.id).file
        if name is None or name == "<policy>":
            name = f"matters/{item.matter.domain}.yaml"
        after.setdefault(name, []).append(item.matter)
    for name in sorted(set(before) | set(after)):
        new = after.get(name, [])
        if not normalize and name in files and before.get(name, []) == new:
            report.kept.append(name)
            continue
        if not normalize and name in files:
            text = update_matters_text(files[name], [canonical(m) for m in new])
            if text is None:
                files.pop(name, None)
                report.removed.append(name)
            else:
                files[name] = text
                report.written.append(name)
            continue
        data = yaml.safe_load(files.get(name, "")) or {}
        others = {k: v for k, v in data.items() if k != "matters"} if isinstance(data, dict) else {}
        if not new and not others:
            files.pop(name, None)
            report.removed.append(name)
            continue
        body = matters_yaml(new) if new else GENERATED_HEADER
        files[name] = (dump_yaml(others) + "\n" if others else "") + (body if new else "")
        report.written.append(name)
    return files, report


def _check_out(out: Path, base_dir: Path) -> None:
    if out.resolve() != base_dir.resolve() and out.resolve().is_relative_to(base_dir.resolve()):
        raise SheetError([RowError(None, None, f"`{out}` lies inside the base policy `{base_dir}`", "choose a directory outside it, or the base itself")])
    if not out.exists():
        return
    if not out.is_dir():
        raise SheetError([RowError(None, None, f"`{out}` exists and is not a directory")])
    if any(out.iterdir()) and not (out / "policy.yaml").is_file():
        raise SheetError([RowError(None, None, f"`{out}` is not empty and holds no policy.yaml", "give an empty or new directory, or a policy directory to update")])


def _deleted_but_referenced(base: Policy, imported: list[ImportedMatter], as_of: date | None = None) -> list[RowError]:
    """A matter whose row was deleted while rules or delegations still name it, one error each
    (a sheet exported for `as_of` leaves out the matters not in force then: those are kept)."""
    kept = {item.matter.id for item in imported}
    errors = []
    for matter_id in sorted(set(base.matters) - kept):
        if as_of is not None and not base.matters[matter_id].in_force(as_of):
            continue
        users = [rule.id for rule in base.rules if _names_matter(rule.tests().get("matter"), matter_id)]
        users += [d.id for d in base.delegations if matter_id in d.matters]
        if users:
            where = sorted({base.where("rules" if u in base.rules_by_id else "delegations", u).file for u in users})
            errors.append(
                RowError(
                    None,
                    None,
                    f"matter `{matter_id}` ({base.matters[matter_id].name}) is no longer in the sheet, but {_clauses(users)} still use it",
                    f"restore its row, or first remove `{matter_id}` from {', '.join(where)}",
                )
            )
    return errors


def _names_matter(test: Comparison | None, matter_id: str) -> bool:
    if test is None:
        return False
    _, value = test.operator
    return matter_id in value if isinstance(value, tuple) else value == matter_id


def _clauses(ids: list[str]) -> str:
    return ("clause " if len(ids) == 1 else "clauses ") + ", ".join(ids)


def _row_errors(exc: PolicyError, imported: list[ImportedMatter]) -> list[RowError]:
    rows = {item.matter.id: item.row for item in imported}
    out = []
    for finding in exc.findings:
        if finding.id in rows and (finding.file or "").startswith("matters"):
            out.append(RowError(rows[finding.id], None, finding.message, finding.hint))
        else:
            out.append(RowError(None, None, f"the policy would not load: {finding.render()}"))
    return out


def _write_tree(root: Path, files: dict[str, str], extra_from: Path) -> None:
    # Non-YAML files of the base (e.g. the JSON Schema) come along unchanged.
    for path in sorted(extra_from.rglob("*")):
        rel = path.relative_to(extra_from)
        if path.is_file() and path.suffix not in (".yaml", ".yml"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, root / rel)
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def import_sheet(sheet: Path, out: Path, base_dir: Path, normalize: bool = False) -> ImportReport:
    """Import a sheet into `out` as a complete policy built on `base_dir`; all or nothing.

    Raises SheetError (row-level problems, or a policy that would not load) and leaves
    `out` untouched in that case.
    """
    base = load_policy(base_dir)
    _check_out(out, base_dir)
    data = read_rows(sheet)
    imported = matters_from_rows(base, data.rows, data.letters)
    still_used = _deleted_but_referenced(base, imported, data.as_of)
    if still_used:
        raise SheetError(still_used)
    files, report = build_files(base, imported, normalize, data.as_of)
    report.out = out
    report.as_of = data.as_of
    report.warnings += [f"ignored column `{label}`" for label in data.ignored]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.import-", dir=out.parent))
    # mkdtemp makes a private (0700) directory; the policy keeps its base's permissions.
    os.chmod(staging, (out if out.exists() else base_dir).stat().st_mode & 0o7777)
    try:
        _write_tree(staging, files, base_dir)
        try:
            result = load_policy(staging)
            compile_policy(result)  # exactly what `tiaokuai check` accepts
        except PolicyError as exc:
            raise SheetError(_row_errors(exc, imported)) from None
        unbumped = unchanged_version(base.manifest.version, base.digest, result, "the base policy")
        if unbumped is not None:
            report.warnings.append(unbumped.render())
        _replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return report


def _replace(staging: Path, out: Path) -> None:
    """Move the validated tree into place: two renames, the old tree restored on failure."""
    if not out.exists():
        os.replace(staging, out)
        return
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.replace(out, old)
    try:
        os.replace(staging, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old)
