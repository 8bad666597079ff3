"""The policy-version diff page: impact analysis (engine.analysis.diff) as tables.

Versions to compare: the active policy, the policy directory on disk (an author's edits
before they are activated) and every version stored in the decision log. The default is
"active → disk" when they differ (what would my edit do?), else "previous stored → active"
(what did the last change do?).

Cases checked: the enumerated case space (engine.analysis.space) of the matters the change can
reach (engine.analysis.diff.affected_matters decides which), plus, for readers with
`decisions:read`, the most recent logged lead requests. `?all=1` decides every matter's
cases (exhaustive).

The analysis never runs in the serving process: a child process computes it with a
timeout (engine.impact), one at a time per worker; identical requests wait for the
same run; results are kept per (base, head, exhaustive, logged) key, at most `CACHED` of
them, each with at most `MAX_ROWS` case rows (and the totals).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select

from api.http.schemas.lead import logged_case
from api.web.clauses import Describer
from api.web.wording import attributes_text, china_time_text
from engine import Analysis, AnalysisFailed, PolicyError, ReplayError, Runtime, impact_in_child
from engine.lead import Case
from engine.log import DecisionLog, policy_versions
from engine.policy import Policy, digest_files, load_policy, read_policy_dir

MAX_ROWS = 500
CACHED = 16
MAX_WAITING = 8  # requests waiting for analyses in one worker; more get 503
LOGGED = 2000  # most recent logged lead requests re-decided under both versions
SECTION_ZH = {"policy": "政策", "organizations": "单位", "attributes": "案件属性", "matters": "事项", "rules": "规则", "delegations": "赋权"}
CHANGE_ZH = {"added": "新增", "removed": "删除", "changed": "修改"}
FIELD_ZH = {"outcome": "结果", "lead": "牵头单位", "supports": "配合单位"}
# The fields a clause change names (engine.analysis.diff), as the policy's authors call them.
CLAUSE_FIELD_ZH = {
    "valid_from": "生效日期", "valid_until": "失效日期", "name": "名称", "name_en": "英文名称", "title": "标题",
    "title_en": "英文标题", "domain": "领域", "responsibility": "主体责任", "township_duties": "乡镇(街道)职责",
    "department_duties": "县级部门职责", "lead": "牵头部门", "supports": "配合部门", "time_limits": "时限",
    "basis": "依据", "aliases": "别名", "examples": "诉求示例", "attributes": "案件要素", "provenance": "来源",
    "source": "出处", "note": "备注", "variants": "乡镇变体", "kind": "类型", "priority": "优先级", "when": "适用条件",
    "then": "处置安排", "description": "说明", "townships": "乡镇(街道)", "matters": "事项", "short_name": "简称",
    "parent": "上级单位", "enforcement_team": "综合执法队", "serves": "服务乡镇", "successor": "承继单位",
    "places": "地名", "position": "顺序", "version": "版本号", "type": "取值类型", "values": "取值",
}  # fmt: skip

Key = tuple[str, str, bool, bool]


class AnalysisBusy(Exception):
    """Too many analyses are waiting in this worker."""


class Analyses:
    """One analysis at a time, identical requests computed once, results cached by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run = threading.Lock()
        self._done: OrderedDict[Key, Analysis] = OrderedDict()
        self._running: dict[Key, Future[Analysis]] = {}
        self._waiting = 0
        self.computed = 0  # how many analyses ran (tests, /healthz-style introspection)

    def get(self, key: Key, compute: Callable[[], Analysis]) -> Analysis:
        with self._lock:
            if key in self._done:
                self._done.move_to_end(key)
                return self._done[key]
            if self._waiting >= MAX_WAITING:
                raise AnalysisBusy(f"{MAX_WAITING} analyses are already waiting; try again later")
            self._waiting += 1
            future = self._running.get(key)
            owner = future is None
            if future is None:
                future = self._running[key] = Future()
        try:
            if not owner:
                return future.result()
            try:
                with self._run:
                    result = compute()
                    self.computed += 1
            except BaseException as exc:
                future.set_exception(exc)
                raise
            future.set_result(result)
            with self._lock:
                self._done[key] = result
                while len(self._done) > CACHED:
                    self._done.popitem(last=False)
            return result
        finally:
            with self._lock:
                self._waiting -= 1
                if owner:
                    self._running.pop(key, None)


analyses = Analyses()
_disk: dict[str, Policy] = {}


@dataclass(frozen=True)
class Version:
    key: str  # "active", "disk" or a digest
    label: str
    digest: str


def _log(request: Request) -> DecisionLog | None:
    log = getattr(request.app.state, "decision_log", None)
    return log if isinstance(log, DecisionLog) else None


def _stored_versions(log: DecisionLog | None) -> list[tuple[str, str, str]]:
    """(digest, version, stored_at) of every policy stored in the decision log, newest first."""
    if log is None:
        return []
    t = policy_versions.c
    with log.db.connect() as conn:
        rows = conn.execute(select(t.digest, t.version, t.stored_at).order_by(t.stored_at.desc()))
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]




def _disk_policy(request: Request) -> tuple[Policy | None, str | None]:
    path = getattr(request.app.state.settings, "policy_dir", None)
    if path is None:
        return None, None
    try:
        digest = digest_files(read_policy_dir(path))
        if digest not in _disk:  # loaded (not compiled) once per version of the directory
            _disk.clear()
            _disk[digest] = load_policy(path)
        return _disk[digest], None
    except PolicyError as exc:
        return None, "; ".join(f.render() for f in exc.findings[:5])


def _logged_cases(log: DecisionLog | None, policy_id: str) -> list[tuple[str, Case]]:
    if log is None:
        return []
    total = log.count()
    out = []
    for record in log.query(kind="lead", after=max(0, total - LOGGED), limit=LOGGED):
        if record.policy_id != policy_id:
            continue  # another jurisdiction's case: its townships are not this policy's
        try:
            out.append((record.id, logged_case(record.request, record.response_json())))
        except ReplayError:
            continue  # not a lead request this engine can read; `tiaokuai replay` reports those
    return out


async def diff_page(request: Request, active: Runtime, with_logged: bool) -> tuple[int, dict[str, Any]]:
    """The status and template context of the diff page for the request's `base` and `head`."""
    log = _log(request)
    disk, disk_error = await run_in_threadpool(_disk_policy, request)
    policies: dict[str, Policy] = {"active": active.policy}
    versions = [Version("active", f"当前生效 {active.policy.version} ({active.policy.digest[:12]})", active.policy.digest)]
    if disk is not None and disk.digest != active.policy.digest:
        policies["disk"] = disk
        versions.append(Version("disk", f"磁盘上的政策目录(未生效) {disk.version} ({disk.digest[:12]})", disk.digest))
    stored = _stored_versions(log)
    for digest, version, stored_at in stored:
        if digest != active.policy.digest and (disk is None or digest != disk.digest):
            versions.append(Version(digest, f"决策日志中的版本 {version} ({digest[:12]}, 存于 {china_time_text(stored_at)[:16]} 北京时间)", digest))
    contents: dict[str, set[str]] = {}  # version number → the digests seen under it
    for digest, version, _ in stored:
        contents.setdefault(version, set()).add(digest)
    for policy in policies.values():
        contents.setdefault(policy.version, set()).add(policy.digest)
    params = request.query_params
    default_base, default_head = "active", "disk" if "disk" in policies else "active"
    if default_head == "active" and len(versions) > 1:
        default_base = versions[1].key
    base_key = params.get("base") or default_base
    head_key = params.get("head") or default_head
    whole = params.get("all") == "1"
    describe = Describer(active.policy)  # once: a diff shows up to MAX_ROWS cases
    context: dict[str, Any] = {
        "versions": versions,
        "base_key": base_key,
        "head_key": head_key,
        "whole": whole,
        "impact": None,
        "error": None,
        "disk_error": disk_error,
        "SECTION_ZH": SECTION_ZH,
        "CHANGE_ZH": CHANGE_ZH,
        "FIELD_ZH": FIELD_ZH,
        "CLAUSE_FIELD_ZH": CLAUSE_FIELD_ZH,
        "same_version": sorted(v for v, digests in contents.items() if len(digests) > 1),
        "attributes_text": lambda attributes: "; ".join(attributes_text(active.policy, dict(attributes), describe)),
        "max_rows": MAX_ROWS,
        "with_logged": with_logged,
        "active_ids": set(active.policy.matters) | set(active.policy.rules_by_id),
    }
    by_key = {v.key: v for v in versions}
    for key in (base_key, head_key):
        if key not in by_key:
            context["error"] = f"没有版本「{key[:64]}」: 请从列表中选择版本"
            return 422, context
    if base_key == head_key:
        context["error"] = (
            "请选择两个不同的版本进行比较。"
            if len(versions) > 1
            else "只有一个政策版本: 修改磁盘上的政策目录或启用新版本后, 此处显示变更的影响。"
        )
        return 200, context
    timeout = float(request.app.state.settings.analysis_timeout)

    def files(key: str) -> dict[str, str]:
        return dict(policies[key].files) if key in policies else _stored(log, key)

    def compute() -> Analysis:
        logged = _logged_cases(log, active.policy.id) if with_logged else []
        return impact_in_child(files(base_key), files(head_key), logged, whole, timeout, MAX_ROWS)

    pair: Key = (by_key[base_key].digest, by_key[head_key].digest, whole, with_logged)
    try:
        result = await run_in_threadpool(analyses.get, pair, compute)
    except PolicyError as exc:
        context["error"] = "; ".join(f.render() for f in exc.findings[:5])
        return 422, context
    except AnalysisFailed as exc:
        context["error"] = f"{exc}: 请缩小范围(不检查全部事项)或在命令行运行 tiaokuai diff" if exc.timed_out else str(exc)
        return 503, context
    except AnalysisBusy as exc:
        context["error"] = f"分析任务繁忙, 请稍后重试 ({exc})"
        return 503, context
    context["impact"] = result.impact
    context["changed_total"] = result.changed_total
    context["groups"] = result.groups
    return 200, context


def _stored(log: DecisionLog | None, digest: str) -> dict[str, str]:
    assert log is not None  # only digests read from the log are offered
    return log.policy_files(digest)
