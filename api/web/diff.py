"""The policy-version diff page: impact analysis (engine.analysis.diff) as tables.

Versions to compare: the active policy, the policy directory on disk (an author's edits
before they are activated) and every version stored in the decision log. The default is
"active → disk" when they differ (what would my edit do?), else "previous stored → active"
(what did the last change do?).

Cases checked: the enumerated case space (engine.analysis.space) of the matters the change can
reach (engine.analysis.diff.affected_matters decides which), plus the most recent logged lead
requests. `?all=1` decides every matter's cases (exhaustive).

Each compared version is compiled and registered once under its own ruleset names and
kept (durable_rules cannot free a ruleset without leaking or crashing, see
engine/rules/durable.py); at most `MAX_VERSIONS` are kept, and results are cached per pair.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import select

from api.http.schemas.lead import logged_case
from engine import PolicyError, ReplayError, Runtime
from engine.analysis import Impact, impact
from engine.lead import Case
from engine.log import DecisionLog, policy_versions
from engine.policy import Policy, load_policy, policy_from_files

MAX_VERSIONS = 6
MAX_ROWS = 500
LOGGED = 2000  # most recent logged lead requests re-decided under both versions
SECTION_ZH = {"policy": "政策", "organizations": "单位", "attributes": "案件属性", "matters": "事项", "rules": "规则", "delegations": "赋权"}
CHANGE_ZH = {"added": "新增", "removed": "删除", "changed": "修改"}
FIELD_ZH = {"outcome": "结果", "lead": "牵头单位", "supports": "配合单位"}

_runtimes: OrderedDict[str, Runtime] = OrderedDict()
_impacts: OrderedDict[tuple[str, str, bool], Impact] = OrderedDict()
_lock = threading.Lock()


class TooManyVersions(Exception):
    """More distinct versions were asked for than this process keeps compiled."""


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
        return load_policy(path), None
    except PolicyError as exc:
        return None, "; ".join(f.render() for f in exc.findings[:5])


def _runtime_for(policy: Policy, active: Runtime) -> Runtime:
    if policy.digest == active.policy.digest:
        return active
    with _lock:
        runtime = _runtimes.get(policy.digest)
        if runtime is None:
            if len(_runtimes) >= MAX_VERSIONS:
                raise TooManyVersions(f"at most {MAX_VERSIONS} other versions can be compared per process; restart to compare others")
            runtime = Runtime.from_files(dict(policy.files), f"digest {policy.digest[:12]}")
            _runtimes[policy.digest] = runtime
        return runtime


def _logged_cases(log: DecisionLog | None) -> list[tuple[str, Case]]:
    if log is None:
        return []
    total = log.count()
    out = []
    for record in log.query(kind="lead", after=max(0, total - LOGGED), limit=LOGGED):
        try:
            out.append((record.id, logged_case(record.request, record.response_json())))
        except ReplayError:
            continue  # not a lead request this engine can read; `tiaokuai replay` reports those
    return out


def diff_page(request: Request, active: Runtime) -> tuple[int, dict[str, Any]]:
    """The status and template context of the diff page for the request's `base` and `head`."""
    log = _log(request)
    disk, disk_error = _disk_policy(request)
    policies: dict[str, Policy] = {"active": active.policy}
    versions = [Version("active", f"当前生效 {active.policy.version} ({active.policy.digest[:12]})", active.policy.digest)]
    if disk is not None and disk.digest != active.policy.digest:
        policies["disk"] = disk
        versions.append(Version("disk", f"磁盘上的政策目录(未生效) {disk.version} ({disk.digest[:12]})", disk.digest))
    for digest, version, stored_at in _stored_versions(log):
        if digest != active.policy.digest and (disk is None or digest != disk.digest):
            versions.append(Version(digest, f"决策日志中的版本 {version} ({digest[:12]}, {stored_at[:10]})", digest))
    params = request.query_params
    default_base, default_head = "active", "disk" if "disk" in policies else "active"
    if default_head == "active" and len(versions) > 1:
        default_base = versions[1].key
    base_key = params.get("base") or default_base
    head_key = params.get("head") or default_head
    whole = params.get("all") == "1"
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
        "max_rows": MAX_ROWS,
        "active_ids": set(active.policy.matters) | set(active.policy.rules_by_id),
    }
    known = {v.key for v in versions}
    for key in (base_key, head_key):
        if key not in known:
            context["error"] = f"unknown version `{key}`: choose one of the listed versions"
            return 422, context
    if base_key == head_key:
        context["error"] = (
            "请选择两个不同的版本进行比较。"
            if len(versions) > 1
            else "只有一个政策版本: 修改磁盘上的政策目录或启用新版本后, 此处显示变更的影响。"
        )
        return 200, context
    try:
        base, head = (policies[k] if k in policies else policy_from_files(_stored(log, k)) for k in (base_key, head_key))
        pair = (base.digest, head.digest, whole)
        with _lock:
            cached = _impacts.get(pair)
        if cached is None:
            base_rt, head_rt = _runtime_for(base, active), _runtime_for(head, active)
            cached = impact(base, base_rt.decide, head, head_rt.decide, _logged_cases(log), exhaustive=whole)
            with _lock:
                _impacts[pair] = cached
                while len(_impacts) > 16:
                    _impacts.popitem(last=False)
    except PolicyError as exc:
        context["error"] = "; ".join(f.render() for f in exc.findings[:5])
        return 422, context
    except TooManyVersions as exc:
        context["error"] = str(exc)
        return 503, context
    context["impact"] = cached
    context["groups"] = grouped(cached)
    return 200, context


@dataclass
class Group:
    """The changed cases of one matter in one township, summarised for the page."""

    matter: str | None
    township: str
    cases: int = 0
    fields: set[str] = field(default_factory=set)
    before: set[str] = field(default_factory=set)
    after: set[str] = field(default_factory=set)


def grouped(result: Impact) -> list[Group]:
    """Changed cases grouped by matter and township, in the analysis' order."""
    groups: dict[tuple[str | None, str], Group] = {}
    for change in result.changes:
        key = (change.case.matter, change.case.township)
        group = groups.setdefault(key, Group(*key))
        group.cases += 1
        group.fields.update(change.changed)
        for side, summary in ((group.before, change.before), (group.after, change.after)):
            side.add(summary.lead_name or summary.outcome if summary.error is None else f"拒绝: {summary.error}")
    return list(groups.values())


def _stored(log: DecisionLog | None, digest: str) -> dict[str, str]:
    assert log is not None  # only digests read from the log are offered
    return log.policy_files(digest)
