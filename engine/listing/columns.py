"""The responsibility list as officials publish it: one row per matter, in their columns.

`Listing(policy).row(matter)` renders a matter into the cells of the published list
(序号, 事项名称, 领域, 主体责任, 乡镇(街道)职责, 县级部门职责, 牵头部门, 配合部门, 法律依据, 时限)
plus the extra columns a lossless round trip needs (id, English name, aliases, dates,
provenance, the machine-readable basis and the file the matter lives in).

`Listing(policy).parse(cells)` is its inverse: cells → the fields of a `Matter`, with one
`CellProblem` per cell it cannot read. For every matter of a valid policy,
`Matter.model_validate(parse(row(m)))` equals `m` (tests/engine/listing/test_listing.py checks the seed).

Visible cells are what officials read and edit, so they hold names (衢江区水利局, 水利,
签收 1小时), not ids; parsing accepts either. Cells that hold several items use a new line
per item; short lists of names are joined with 、 when no item contains it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from engine.policy.index import Policy
from engine.policy.model import TEAM_REF, TOWNSHIP_REF, Basis, Matter, Provenance, Responsibility
from engine.policy.validate import org_refs, suggest, suggest_named

Cell = str | int | date | None
Group = Literal["official", "extra", "machine"]


@dataclass(frozen=True)
class Column:
    """One column of the list: field key, header label, width in characters, group, help."""

    key: str
    label: str
    width: int
    group: Group
    help: str


COLUMNS: tuple[Column, ...] = (
    Column("seq", "序号", 6, "official", "行号, 导入时忽略 (row number, ignored on import)"),
    Column("name", "事项名称", 24, "official", "事项名称 (matter name)"),
    Column("domain", "领域", 10, "official", "领域名称或编号, 见代码表 (domain name or id)"),
    Column("responsibility", "主体责任", 10, "official", "县级部门 或 乡镇(街道) (who is principally responsible)"),
    Column("township_duties", "乡镇(街道)职责", 32, "official", "每行一项 (one duty per line)"),
    Column("department_duties", "县级部门职责", 32, "official", "每行一项 (one duty per line)"),
    Column("lead", "牵头部门", 22, "official", "单位名称或编号; 属地乡镇(街道) / 乡镇综合行政执法队 (organization name or id)"),
    Column("supports", "配合部门", 28, "official", "单位名称, 以、分隔或每行一个 (names separated by 、 or one per line)"),
    Column("basis", "法律依据", 42, "official", "每行一条: 《文件名》条款 (one per line: 《document》article)"),
    Column("time_limits", "时限", 18, "official", "每行一项: 签收 1小时 / 到场报到 3个工作日 (one limit per line)"),
    Column("id", "事项编号", 12, "extra", "稳定编号, 新增事项必填 (stable id, required)"),
    Column("name_en", "英文名称", 26, "extra", "English name"),
    Column("aliases", "别名", 22, "extra", "检索用别名, 以、分隔 (search aliases)"),
    Column("examples", "示例诉求", 40, "extra", "受理识别用的示例诉求原文, 每行一条 (example ticket texts, one per line)"),
    Column("valid_from", "生效日期", 12, "extra", "YYYY-MM-DD, 空为一直有效 (in force from)"),
    Column("valid_until", "失效日期", 12, "extra", "YYYY-MM-DD, 当日起失效 (in force until, exclusive)"),
    Column("attributes", "相关案件属性", 18, "extra", "属性编号或名称, 以、分隔 (case attributes relevant to the matter)"),
    Column("provenance", "来源类型", 10, "extra", "有出处 或 构建 (sourced or constructed)"),
    Column("source", "来源说明", 30, "extra", "出处说明 (where the item comes from)"),
    Column("note", "备注", 20, "extra", "备注 (note)"),
    Column("basis_detail", "依据明细(机读)", 30, "machine", "法律依据的发布机关、链接, JSON, 勿手改 (machine-readable basis)"),
    Column("file", "所在文件(机读)", 22, "machine", "事项所在的政策文件, 空则按领域 (policy file of the matter)"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
OFFICIAL = tuple(c for c in COLUMNS if c.group == "official")

RESPONSIBILITY_LABELS = {Responsibility.department: "县级部门", Responsibility.township: "乡镇(街道)"}
_RESPONSIBILITY_WORDS = {
    **{label: r for r, label in RESPONSIBILITY_LABELS.items()},
    "部门": Responsibility.department,
    "department": Responsibility.department,
    "乡镇": Responsibility.township,
    "镇街": Responsibility.township,
    "街道": Responsibility.township,
    "township": Responsibility.township,
}
PROVENANCE_LABELS = {Provenance.sourced: "有出处", Provenance.constructed: "构建"}
_PROVENANCE_WORDS = {
    **{label: p for p, label in PROVENANCE_LABELS.items()},
    "sourced": Provenance.sourced,
    "constructed": Provenance.constructed,
}
REF_LABELS = {TOWNSHIP_REF: "属地乡镇(街道)", TEAM_REF: "乡镇综合行政执法队"}
UNIT_LABELS = {"min": "分钟", "h": "小时", "d": "天", "wd": "个工作日"}
_UNIT_WORDS = {"分钟": "min", "小时": "h", "天": "d", "日": "d", "个工作日": "wd", "工作日": "wd", "min": "min", "h": "h", "d": "d", "wd": "wd"}
_LIMIT_LINE = re.compile(
    r"^(?P<label>.*?)\s*[:：]?\s*(?P<n>\d+)\s*(?P<unit>分钟|小时|个工作日|工作日|天|日|min|wd|h|d)$"
)
_NUMBERED = re.compile(r"^(\d{1,3})[.、．]\s*(.*)$")
_NAME_WITH_ID = re.compile(r"^(?P<name>.*?)\s*[（(](?P<id>[A-Za-z][A-Za-z0-9_.-]*)[）)]$")
# Matter fields in the order the policy files are written.
FIELD_ORDER = (
    "id", "name", "name_en", "domain", "responsibility", "township_duties", "department_duties", "lead",
    "supports", "time_limits", "basis", "aliases", "examples", "attributes", "valid_from", "valid_until", "provenance",
    "source", "note",
)  # fmt: skip


@dataclass(frozen=True)
class CellProblem:
    """A cell that cannot be read: its column key, what is wrong, and how to fix it."""

    column: str
    problem: str
    hint: str | None = None


class _Problem(Exception):
    def __init__(self, problem: str, hint: str | None = None) -> None:
        super().__init__(problem)
        self.problem, self.hint = problem, hint


def text(value: Cell) -> str:
    """A cell as stripped text with Unix line ends ("" for an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def join_items(items: Iterable[str]) -> str:
    """Names joined with 、, or one per line when an item itself contains 、."""
    items = list(items)
    sep = "\n" if any("、" in i or "\n" in i for i in items) else "、"
    return sep.join(items)


def split_items(value: str) -> list[str]:
    """The inverse of `join_items`: one item per line, else split at 、 (also ，and ;)."""
    if "\n" in value:
        parts = value.split("\n")
    else:
        parts = re.split(r"[、，,;；]", value)
    return [p.strip() for p in parts if p.strip()]


def numbered(items: Sequence[str]) -> str:
    """Duties as officials list them: `1. 日常巡查发现` one per line."""
    return "\n".join(f"{n}. {item}" for n, item in enumerate(items, 1))


def unnumbered(value: str) -> list[str]:
    """The inverse of `numbered`; unnumbered lines are taken as they are."""
    lines = [line.strip() for line in value.split("\n") if line.strip()]
    matches = [_NUMBERED.match(line) for line in lines]
    if lines and all(m is not None and int(m.group(1)) == n for n, m in enumerate(matches, 1)):
        return [m.group(2).strip() for m in matches if m is not None]
    return lines


def render_basis(basis: Basis) -> str:
    return f"《{basis.document}》{basis.article or ''}"


def parse_basis_line(line: str) -> tuple[str, str | None]:
    """`《document》article` → (document, article); a line without 《》 is all document."""
    line = line.strip()
    if not line.startswith("《"):
        return line, None
    depth = 0
    for index, char in enumerate(line):
        if char == "《":
            depth += 1
        elif char == "》":
            depth -= 1
            if depth == 0:
                article = line[index + 1 :].strip()
                return line[1:index], article or None
    raise _Problem(f"unbalanced 《》 in `{line}`", "write each basis as 《文件名》条款")


def render_limit(value: str) -> str:
    match = re.fullmatch(r"(\d+)(min|h|d|wd)", value)
    return f"{match.group(1)}{UNIT_LABELS[match.group(2)]}" if match else value


class Listing:
    """Renders matters as list rows and reads rows back, with one policy's vocabulary."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.domain_names = {d.id: d.name for d in policy.manifest.domains}
        self.limit_labels = dict(policy.manifest.time_limit_labels)
        self._refs = org_refs(policy)
        by_name: dict[str, list[str]] = {}
        by_short: dict[str, list[str]] = {}
        for org in policy.organizations.values():
            by_name.setdefault(org.name, []).append(org.id)
            if org.short_name:
                by_short.setdefault(org.short_name, []).append(org.id)
            if org.name_en:
                by_short.setdefault(org.name_en, []).append(org.id)
        self._by_name, self._by_short = by_name, by_short

    # --- rendering -----------------------------------------------------------------

    def org_label(self, ref: str) -> str:
        """A lead or support as officials read it: the body's name (name(id) if ambiguous)."""
        if ref in REF_LABELS:
            return REF_LABELS[ref]
        org = self.policy.organizations.get(ref)
        if org is None:
            return ref
        return org.name if len(self._by_name[org.name]) == 1 else f"{org.name}({org.id})"

    def limits_text(self, limits: Mapping[str, str]) -> str:
        return "\n".join(f"{self.limit_labels.get(k, k)} {render_limit(v)}" for k, v in limits.items())

    def row(self, matter: Matter, seq: int | None = None) -> dict[str, Cell]:
        """The cells of one matter, keyed by column key."""
        where = self.policy.where("matters", matter.id)
        return {
            "seq": seq,
            "name": matter.name,
            "domain": self.domain_names.get(matter.domain, matter.domain),
            "responsibility": RESPONSIBILITY_LABELS[matter.responsibility],
            "township_duties": numbered(matter.township_duties),
            "department_duties": numbered(matter.department_duties),
            "lead": self.org_label(matter.lead),
            "supports": join_items(self.org_label(s) for s in matter.supports),
            "basis": "\n".join(render_basis(b) for b in matter.basis),
            "time_limits": self.limits_text(matter.time_limits),
            "id": matter.id,
            "name_en": matter.name_en,
            "aliases": join_items(matter.aliases),
            "examples": "\n".join(matter.examples),
            "valid_from": matter.valid_from,
            "valid_until": matter.valid_until,
            "attributes": join_items(matter.attributes),
            "provenance": PROVENANCE_LABELS[matter.provenance],
            "source": matter.source,
            "note": matter.note,
            "basis_detail": json.dumps([b.model_dump(exclude_none=True) for b in matter.basis], ensure_ascii=False),
            "file": where.file if where.file != "<policy>" else None,
        }

    def rows(self, matters: Iterable[Matter]) -> list[dict[str, Cell]]:
        return [self.row(m, n) for n, m in enumerate(matters, 1)]

    # --- parsing -------------------------------------------------------------------

    def org_ref(self, label: str) -> str:
        """An organization cell → its id or case-relative ref; raises on unknown or ambiguous names."""
        label = label.strip()
        if label in self._refs:
            return label
        for ref, ref_label in REF_LABELS.items():
            if label == ref_label:
                return ref
        for index in (self._by_name, self._by_short):
            ids = index.get(label)
            if ids and len(ids) == 1:
                return ids[0]
            if ids:
                raise _Problem(f"`{label}` names {len(ids)} bodies", f"write it as {label}({ids[0]})")
        match = _NAME_WITH_ID.match(label)
        if match and match.group("id") in self.policy.organizations:
            return match.group("id")
        known: dict[str, list[str]] = {ref_label: [ref_label] for ref_label in REF_LABELS.values()}
        for org in self.policy.organizations.values():
            known[self.org_label(org.id)] = [org.name, org.short_name or "", org.name_en or "", org.id]
        raise _Problem(f"unknown organization `{label}`", suggest_named(label, known) or "see the 代码表 sheet")

    def domain_id(self, label: str) -> str:
        if label in self.domain_names:
            return label
        for domain_id, name in self.domain_names.items():
            if label == name:
                return domain_id
        known = {d.name: [d.name, d.id, d.name_en or ""] for d in self.policy.manifest.domains}
        raise _Problem(f"unknown domain `{label}`", suggest_named(label, known) or f"known: {'、'.join(known)}")

    def limit_key(self, label: str) -> str:
        if label in self.limit_labels:
            return label
        for key, key_label in self.limit_labels.items():
            if label == key_label:
                return key
        if re.fullmatch(r"[a-z][a-z0-9_]*", label):
            return label  # a new kind of limit; the manifest may label it later
        raise _Problem(f"unknown time limit `{label}`", suggest(label, self.limit_labels.values()) or f"known: {'、'.join(self.limit_labels.values())}")

    def limits(self, value: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in re.split(r"[\n;；]", value):
            line = line.strip().rstrip("，,。")
            if not line:
                continue
            match = _LIMIT_LINE.match(line)
            if match is None:
                raise _Problem(f"cannot read the time limit `{line}`", "write it as 签收 1小时 or 到场报到 3个工作日")
            key = self.limit_key(match.group("label").strip())
            if key in out:
                raise _Problem(f"time limit `{match.group('label')}` is given twice")
            out[key] = f"{int(match.group('n'))}{_UNIT_WORDS[match.group('unit')]}"
        return out

    def attribute_id(self, label: str) -> str:
        if label in self.policy.attributes:
            return label
        for attr in self.policy.attributes.values():
            if label in (attr.name, attr.name_en):
                return attr.id
        raise _Problem(f"unknown case attribute `{label}`", suggest(label, self.policy.attributes))

    def basis(self, value: str, detail: str) -> list[dict[str, Any]]:
        """Visible 法律依据 lines, enriched with issuer and url from the machine column."""
        pairs = [parse_basis_line(line) for line in value.split("\n") if line.strip()]
        known: list[dict[str, Any]] = []
        if detail:
            try:
                loaded = json.loads(detail)
            except json.JSONDecodeError:
                loaded = None
            if not isinstance(loaded, list) or not all(isinstance(b, dict) for b in loaded):
                raise _Problem("the machine-readable basis is damaged", "clear the cell; issuers and links will be dropped")
            known = loaded
        if [(b.get("document"), b.get("article")) for b in known] == pairs:
            return known  # unchanged: keep issuer and url as they were
        out: list[dict[str, Any]] = []
        for document, article in pairs:
            same = next((b for b in known if b.get("document") == document), {})
            item: dict[str, Any] = {"document": document, "article": article}
            item.update({k: same[k] for k in ("issuer", "url") if same.get(k)})
            out.append({k: v for k, v in item.items() if v is not None})
        return out

    def parse(self, cells: Mapping[str, Cell]) -> tuple[dict[str, Any], list[CellProblem]]:
        """Cells keyed by column key → Matter fields, and the problems of the cells not read."""
        fields: dict[str, Any] = {}
        problems: list[CellProblem] = []

        def read(key: str, convert: Any) -> None:
            value = text(cells.get(key))
            try:
                result = convert(value)
            except _Problem as exc:
                problems.append(CellProblem(key, exc.problem, exc.hint))
                return
            if result is not None:
                fields[key] = result

        def optional(value: str) -> str | None:
            return value or None

        def one_of(words: Mapping[str, Any], what: str) -> Any:
            def convert(value: str) -> Any:
                if not value:
                    return None
                if value in words:
                    return words[value].value
                raise _Problem(f"`{value}` is not a {what}", f"use {' or '.join(dict.fromkeys(str(k) for k in words if not k.isascii()))}")

            return convert

        def day(value: str) -> date | None:
            if not value:
                return None
            normal = re.sub(r"[年月/.]", "-", value).rstrip("日").strip()
            try:
                return date.fromisoformat("-".join(p.zfill(2) for p in normal.split("-")))
            except ValueError:
                raise _Problem(f"`{value}` is not a date", "use YYYY-MM-DD") from None

        read("id", optional)
        read("name", optional)
        read("name_en", optional)
        read("domain", lambda v: self.domain_id(v) if v else None)
        read("responsibility", one_of(_RESPONSIBILITY_WORDS, "responsibility"))
        read("township_duties", lambda v: unnumbered(v) if v else None)
        read("department_duties", lambda v: unnumbered(v) if v else None)
        read("lead", lambda v: self.org_ref(v) if v else None)
        read("supports", lambda v: [self.org_ref(s) for s in split_items(v)] if v else None)
        read("time_limits", lambda v: self.limits(v) if v else None)
        detail = text(cells.get("basis_detail"))
        read("basis", lambda v: self.basis(v, detail) if v else None)
        read("aliases", lambda v: split_items(v) if v else None)
        read("examples", lambda v: [line.strip() for line in v.split("\n") if line.strip()] if v else None)
        read("attributes", lambda v: [self.attribute_id(a) for a in split_items(v)] if v else None)
        read("valid_from", day)
        read("valid_until", day)
        read("provenance", one_of(_PROVENANCE_WORDS, "provenance"))
        read("source", optional)
        read("note", optional)
        return fields, problems


def canonical(matter: Matter) -> dict[str, Any]:
    """A matter as a plain mapping in file order, without defaults (for writing YAML)."""
    dumped = matter.model_dump(mode="json", exclude_defaults=True)
    for key in ("valid_from", "valid_until"):
        value = getattr(matter, key)
        if value is not None:
            dumped[key] = value
    return {key: dumped[key] for key in FIELD_ORDER if key in dumped}
