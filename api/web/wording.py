"""Chinese wording for the pages: China time, case errors and case attributes as auditors read them.

The engine's messages are English and name ids ("`severity` must lie between 1.0 and 4.0");
the API keeps them. The pages say the same in Chinese with the policy's own labels; the
error code stays on the page as a `data-code` attribute for scripts and tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from api.web.clauses import FACT_LABELS, Describer
from api.web.render import OUTCOME_ZH, RESULT_ZH
from engine import CaseError, ErrorCode
from engine.cases import china_time
from engine.listing import render_limit
from engine.policy import Policy, closest

FIELD_ZH = {**FACT_LABELS, "as_of": "日期", "text": "诉求原文", "place": "地点"}
SCOPE_ZH = {  # what a scope lets a page do, for the sign-in form (api/tokens.py SCOPES)
    "decisions:read": "查看决策记录(含案件数据)",
    "policy:admin": "管理政策(版本差异与影响分析)",
    "cases:decide": "判定牵头单位",
    "list:read": "查看责任清单",
    "cases:act": "办理案件",
    "cases:arbitrate": "裁定争议",
    "cases:read": "查看案件",
}
EVIDENCE_ZH = {"name": "事项名称", "alias": "别名", "example": "诉求示例", "duty": "职责"}  # where intake found a word
TYPE_ZH = {"bool": "是或否", "int": "整数", "number": "数字"}


def china_time_text(moment: str | datetime) -> str:
    """A UTC moment (ISO 8601 text as the decision log writes it, or a datetime; naive means UTC)
    as `2026-11-01 18:23:45` in China time (UTC+8)."""
    value = datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) else moment
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return china_time(value).strftime("%Y-%m-%d %H:%M:%S")


def number(value: object) -> str:
    """1.0 → 1, 2.5 → 2.5: numbers as people write them."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def field_label(policy: Policy, field: str | None) -> str | None:
    """`attributes.severity` → 严重程度(1-4); `township` → 乡镇(街道)."""
    if field is None:
        return None
    key = field.removeprefix("attributes.")
    attr = policy.attributes.get(key)
    return attr.name if attr is not None else FIELD_ZH.get(key, key)


def _names(policy: Policy, ids: object) -> str:
    if not isinstance(ids, list):
        return ""
    return "、".join(str(i.get("name") or i.get("id")) if isinstance(i, dict) else policy.organizations[i].name if i in policy.organizations else str(i) for i in ids)


def case_error(policy: Policy, error: CaseError) -> tuple[str, str | None]:
    """(message, hint) in Chinese for a case the engine refused."""
    key = (error.field or "").removeprefix("attributes.")
    attr = policy.attributes.get(key)
    label = field_label(policy, error.field) or ""
    extra = error.extra or {}
    code = error.code
    if code == ErrorCode.VALUE_OUT_OF_RANGE and attr is not None:
        low, high = attr.minimum, attr.maximum
        if low is not None and high is not None:
            return f"「{label}」须在 {number(low)} 至 {number(high)} 之间", None
        return f"「{label}」须{f'不小于 {number(low)}' if low is not None else f'不大于 {number(high)}'}", None
    if code == ErrorCode.WRONG_TYPE and attr is not None:
        return f"「{label}」须为{TYPE_ZH.get(attr.type.value, '列表中的一项')}", None
    if code == ErrorCode.VALUE_NOT_ALLOWED and attr is not None:
        choices = [v.name for v in attr.values] if attr.values else [t.name for t in policy.townships()]
        return f"「{label}」的取值不在政策允许的范围内", "可选: " + "、".join(choices)
    if code == ErrorCode.UNKNOWN_ATTRIBUTE:
        return f"政策未定义案件要素「{key}」", None
    if code == ErrorCode.UNKNOWN_TOWNSHIP:
        return "政策中没有该乡镇(街道)", "从列表中选择乡镇(街道)"
    if code == ErrorCode.UNKNOWN_MATTER:
        return "清单中没有该事项", "从列表中选择事项, 或选择“清单外”"
    if code == ErrorCode.INVALID_DATE:
        return "日期无效", "按 年-月-日 填写, 如 2026-11-01"
    if code == ErrorCode.MISSING_FIELD and error.field == "township":
        return "无法确定乡镇(街道)", "选择乡镇(街道), 或在“地点”中填写乡镇、村(社区)名称"
    if code == ErrorCode.PLACE_AMBIGUOUS:
        return f"地点涉及多个乡镇(街道): {_names(policy, extra.get('candidates'))}", "选择牵头的乡镇(街道); 跨乡镇的现场请同时填写“跨乡镇(街道)”要素"
    if code == ErrorCode.PLACE_OUTSIDE_COUNTY:
        return f"地点不在{policy.manifest.jurisdiction or '本县(区)'}辖区内", _nearest(extra)
    if code == ErrorCode.PLACE_UNKNOWN:
        return "未能从地点识别出乡镇(街道)、村或社区", _nearest(extra)
    if code == ErrorCode.TEXT_EMPTY:
        return "诉求原文为空", None
    if code == ErrorCode.TEXT_TOO_LONG:
        return "诉求原文过长", "请删减后再提交"
    if code == ErrorCode.TEXT_UNREADABLE:
        return "诉求原文中没有可识别的文字", None
    return f"无法判定该案件{f'(「{label}」有误)' if label else ''}", None


def _nearest(extra: dict[str, object]) -> str | None:
    nearest = extra.get("nearest")
    return "相近的地名: " + "、".join(str(n) for n in nearest) if isinstance(nearest, list) and nearest else None


def attributes_text(policy: Policy, attributes: dict[str, object], describe: Describer | None = None) -> list[str]:
    """Case attributes as `跨乡镇(街道): 否`, in the policy's words (`describe`: one built for many calls)."""
    describe = describe or Describer(policy)
    return [f"{field_label(policy, key)}: {number(value) if isinstance(value, float) else describe.value(key, value)}" for key, value in attributes.items()]


def did_you_mean(word: str, names: Mapping[str, str]) -> str | None:
    """"是否要找 WAT-01 河道非法采砂?" for an unknown id, over the known ids and their names."""
    match = closest(word, {k: (k, v) for k, v in names.items()})
    return f"是否要找 {match} {names[match]}?" if match else None


# Feature steps name policy codes ("site_type", "river", "assigned"): they are executable and
# stay as written; the pages add their meaning in the policy's words after each such step.
_STEP_GLOSSES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'^(?:案件属性|推断属性)"(?P<key>[^"<]+)"为"(?P<value>[^"<]+)"'), "attribute"),
    (re.compile(r'^结果为"(?P<value>[^"<]+)"$'), "outcome"),
    (re.compile(r'^时限"(?P<key>[^"<]+)"为"(?P<value>[^"<]+)"$'), "limit"),
    (re.compile(r'^规则"(?P<key>[^"<]+)"的判定为"(?P<value>[^"<]+)"$'), "result"),
    (re.compile(r'^适用规则为"(?P<key>[^"<]+)"$'), "rule"),
]


def step_glosser(policy: Policy) -> Callable[[str], str | None]:
    """`gloss(text)`: what a step's codes mean in the policy's words (`现场类型: 河道管理范围内`),
    or None; built once per page."""
    titles = {r.id: r.title for r in policy.rules} | {m.id: m.name for m in policy.matters.values()}
    labels = policy.manifest.time_limit_labels
    describe = Describer(policy)

    def gloss(text: str) -> str | None:
        for pattern, kind in _STEP_GLOSSES:
            found = pattern.match(text)
            if found is None:
                continue
            key, value = found.groupdict().get("key") or "", found.groupdict().get("value") or ""
            if kind == "attribute" and key in policy.attributes:
                return f"{field_label(policy, key)}: {describe.value(key, {'true': True, 'false': False}.get(value, value))}"
            if kind == "outcome" and value in OUTCOME_ZH:
                return OUTCOME_ZH[value]
            if kind == "limit" and key in labels:
                return f"{labels[key]} {render_limit(value)}"
            if kind == "result" and key in titles and value in RESULT_ZH:
                return f"「{titles[key]}」{RESULT_ZH[value]}"
            if kind == "rule" and key in titles:
                return f"「{titles[key]}」"
        return None

    return gloss
