"""The policy-version diff page: impact analysis (engine.diff) as tables.

Versions to compare: the active policy, the policy directory on disk (an author's edits
before they are activated) and every version stored in the decision log. The default is
"active → disk" when they differ (what would my edit do?), else "previous stored → active"
(what did the last change do?).

Each compared version is compiled and registered once under its own ruleset names and
kept (durable_rules cannot free a ruleset without leaking or crashing, see
engine/durable.py); at most `MAX_VERSIONS` are kept, and results are cached per pair.
"""

from __future__ import annotations

import importlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from engine.errors import PolicyError
from engine.load import load_policy, policy_from_files
from engine.policy import Policy
from engine.runtime import Runtime

MAX_VERSIONS = 6
MAX_ROWS = 500
SECTION_ZH = {"policy": "政策", "organizations": "单位", "attributes": "案件属性", "matters": "事项", "rules": "规则", "delegations": "赋权"}
CHANGE_ZH = {"added": "新增", "removed": "删除", "changed": "修改"}
FIELD_ZH = {"outcome": "结果", "lead": "牵头单位", "supports": "配合单位"}

_runtimes: OrderedDict[str, Runtime] = OrderedDict()
_impacts: OrderedDict[tuple[str, str], Any] = OrderedDict()
_lock = threading.Lock()


class TooManyVersions(Exception):
    """More distinct versions were asked for than this process keeps compiled."""


@dataclass(frozen=True)
class Version:
    key: str  # "active", "disk" or a digest
    label: str
    digest: str


def _stored_versions(request: Request) -> list[tuple[str, str, str, str]]:
    """(digest, policy id, version, stored_at) of every policy stored in the decision log."""
    log = getattr(request.app.state, "decision_log", None)
    if log is None:
        return []
    from sqlalchemy import select

    table = importlib.import_module("engine.store").policy_versions
    with log.engine.connect() as conn:
        rows = conn.execute(select(table.c.digest, table.c.policy_id, table.c.version, table.c.stored_at).order_by(table.c.stored_at.desc()))
        return [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


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


def diff_page(request: Request, active: Runtime) -> tuple[int, dict[str, Any]]:
    """The status and template context of the diff page for the request's `base` and `head`."""
    try:
        impact_analysis: Any = importlib.import_module("engine.diff")
    except ImportError:
        impact_analysis = None
    disk, disk_error = _disk_policy(request)
    stored = _stored_versions(request)
    policies: dict[str, Policy] = {"active": active.policy}
    versions = [Version("active", f"当前生效 {active.policy.version} ({active.policy.digest[:12]})", active.policy.digest)]
    if disk is not None and disk.digest != active.policy.digest:
        policies["disk"] = disk
        versions.append(Version("disk", f"磁盘上的政策目录(未生效) {disk.version} ({disk.digest[:12]})", disk.digest))
    for digest, _, version, stored_at in stored:
        if digest != active.policy.digest:
            versions.append(Version(digest, f"决策日志中的版本 {version} ({digest[:12]}, {stored_at[:10]})", digest))
    params = request.query_params
    default_base, default_head = "active", "disk" if "disk" in policies else "active"
    if default_head == "active" and len(versions) > 1:
        default_base = versions[1].key
    base_key = params.get("base") or default_base
    head_key = params.get("head") or default_head
    context: dict[str, Any] = {
        "versions": versions,
        "base_key": base_key,
        "head_key": head_key,
        "impact": None,
        "error": None,
        "disk_error": disk_error,
        "SECTION_ZH": SECTION_ZH,
        "CHANGE_ZH": CHANGE_ZH,
        "FIELD_ZH": FIELD_ZH,
        "max_rows": MAX_ROWS,
        "active_ids": set(active.policy.matters) | set(active.policy.rules_by_id),
    }
    if impact_analysis is None:
        context["error"] = "影响分析模块(engine/diff.py)不可用。"
        return 503, context
    known = {v.key for v in versions}
    for key in (base_key, head_key):
        if key not in known:
            context["error"] = f"unknown version `{key}`: choose one of the listed versions"
            return 422, context
    if base_key == head_key:
        context["error"] = "请选择两个不同的版本进行比较。" if len(versions) > 1 else "只有一个政策版本: 修改磁盘上的政策目录或启用新版本后, 此处显示变更影响。"
        return 200, context
    log = getattr(request.app.state, "decision_log", None)
    try:
        base, head = (_policy(k, policies, log) for k in (base_key, head_key))
        pair = (base.digest, head.digest)
        with _lock:
            cached = _impacts.get(pair)
        if cached is None:
            base_rt, head_rt = _runtime_for(base, active), _runtime_for(head, active)
            cached = impact_analysis.impact(base, base_rt.decide, head, head_rt.decide)
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
    return 200, context


def _policy(key: str, policies: dict[str, Policy], log: Any) -> Policy:
    if key in policies:
        return policies[key]
    return policy_from_files(log.policy_files(key))
