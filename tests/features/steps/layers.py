"""Step definitions for the layered lists, the three township lists and the layer checks.

Every step that observes a county's own change (an override, a removal, an added clause,
a recall) records it for the layer-coverage gate (tests/conftest.py, `--rule-coverage`):
each change a served county makes to its template must be exercised by some scenario.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from pytest_bdd import given, parsers, then, when

from engine.errors import Finding, PolicyError
from engine.listing.township_lists import LIST_NAMES, LIST_ZH, three_lists
from engine.policy.index import Policy
from engine.policy.load import load_policy
from tests.conftest import FIXTURES, JURISDICTIONS, record_layer
from tests.features.steps.lead import CaseContext, _split, org_id


@dataclass
class LayerContext:
    lists: dict[str, Any] | None = None
    entry: dict[str, Any] | None = None
    policy: Policy | None = None
    findings: list[Finding] = field(default_factory=list)
    finding: Finding | None = None


@pytest.fixture
def lctx() -> LayerContext:
    return LayerContext()


def jurisdiction_dir(name: str) -> Any:
    """A served county by id, or by (part of) its name: 柯城区, 示例县."""
    for directory in sorted(p for p in JURISDICTIONS.iterdir() if (p / "policy.yaml").is_file()):
        policy = load_policy(directory)
        if name in (policy.id, policy.manifest.jurisdiction) or name in policy.manifest.jurisdiction:
            return directory
    raise AssertionError(f"no jurisdiction `{name}` under {JURISDICTIONS}")


@given(parsers.parse('使用辖区"{name}"'))
def use_jurisdiction(ctx: CaseContext, name: str) -> None:
    ctx.policy_dir = jurisdiction_dir(name)


def _layers(ctx: CaseContext) -> list[dict[str, Any]]:
    assert ctx.decision is not None, ctx.error
    layers: list[dict[str, Any]] = ctx.decision["rule"].get("layers", [])
    assert layers, f"rule `{ctx.decision['rule']['id']}` cites no layer"
    return layers


@then(parsers.parse('适用条款来自"{layer}"层'))
def clause_from_layer(ctx: CaseContext, layer: str) -> None:
    layers = _layers(ctx)
    assert layers[0]["layer"] == layer and layers[0]["action"] == "defined", layers
    if layer == ctx.policy.id:
        record_layer(ctx.policy.id, ctx.decision["rule"]["id"], "added")  # type: ignore[index]


@then(parsers.parse('适用条款由"{layer}"层覆盖"{fields}"'))
def clause_overridden(ctx: CaseContext, layer: str, fields: str) -> None:
    wanted = sorted(_split(fields))
    found = [c for c in _layers(ctx) if c["layer"] == layer and c["action"] == "override" and c["fields"] == wanted]
    assert found, f"no override of {wanted} by `{layer}` in {_layers(ctx)}"
    record_layer(layer, ctx.decision["rule"]["id"], "override", found[0].get("township_kind"))  # type: ignore[index]


@then("适用条款未被覆盖")
def clause_not_overridden(ctx: CaseContext) -> None:
    assert [c["action"] for c in _layers(ctx)] == ["defined"], _layers(ctx)


@then(parsers.parse('该事项因"{layer}"层覆盖"{field_name}"而不在清单有效期内'))
def out_of_force_by_override(ctx: CaseContext, layer: str, field_name: str) -> None:
    assert ctx.decision is not None and ctx.decision["outcome"] == "dispatch", ctx.decision
    assert ctx.matter is not None and "不在清单有效期内" in ctx.decision["explanation"][0]["reason"]
    changes = ctx.policy.clause_layers("matters", ctx.matter)
    assert any(c.layer == layer and c.action == "override" and field_name in c.fields for c in changes), changes
    record_layer(layer, ctx.matter, "override")


@then(parsers.parse('该事项已被"{layer}"层删减'))
def matter_removed(ctx: CaseContext, layer: str) -> None:
    assert ctx.error is not None and ctx.error.code == "unknown_matter", ctx.decision
    removal = ctx.policy.removed.get(("matters", ctx.matter or ""))
    assert removal is not None and removal.layer == layer and removal.basis
    record_layer(layer, ctx.matter or "", "remove")


# --- the three lists -------------------------------------------------------------------


@when(parsers.parse('查看"{township}"在"{day}"的三张清单'))
def view_lists(ctx: CaseContext, lctx: LayerContext, township: str, day: str) -> None:
    policy = ctx.policy
    lctx.lists = three_lists(policy, org_id(policy, township), date.fromisoformat(day)).to_dict(policy)
    for name in LIST_NAMES:
        for entry in lctx.lists[name]:
            clause = entry.get("clause")
            if clause and (any(r.id == clause for r in policy.recalls) or any(d.id == clause for d in policy.delegations)):
                record_layer(policy.id, clause, "added")


@then(parsers.parse('"{matter}"在"{list_name}"清单'))
def matter_on_list(ctx: CaseContext, lctx: LayerContext, matter: str, list_name: str) -> None:
    assert lctx.lists is not None
    names = {v: k for k, v in LIST_ZH.items()}
    assert list_name in names, f"no list `{list_name}`: {list(names)}"
    found = [e for e in lctx.lists[names[list_name]] if matter in (e["matter"]["name"], e["matter"]["id"])]
    others = [n for n in LIST_NAMES if any(matter in (e["matter"]["name"], e["matter"]["id"]) for e in lctx.lists[n])]
    assert found, f"`{matter}` is on {[LIST_ZH[n] for n in others]}, not on {list_name}"
    lctx.entry = found[0]


@then(parsers.parse('该事项的承接部门为"{org}"'))
def entry_receiver(lctx: LayerContext, org: str) -> None:
    assert lctx.entry is not None and lctx.entry["receiver"]["name"] == org, lctx.entry


@then(parsers.parse('该事项的对应上级部门为"{org}"'))
def entry_department(lctx: LayerContext, org: str) -> None:
    assert lctx.entry is not None and lctx.entry["department"]["name"] == org, lctx.entry


@then(parsers.parse('该事项的工作方式包含"{text}"'))
def entry_method(lctx: LayerContext, text: str) -> None:
    assert lctx.entry is not None and text in lctx.entry["method"], lctx.entry


@then(parsers.parse('该事项由条款"{clause}"列入'))
def entry_clause(lctx: LayerContext, clause: str) -> None:
    assert lctx.entry is not None and lctx.entry.get("clause") == clause, lctx.entry


@then("三张清单的事项数之和等于本区在该日有效的事项数")
def lists_partition(ctx: CaseContext, lctx: LayerContext) -> None:
    assert lctx.lists is not None
    ids = [e["matter"]["id"] for n in LIST_NAMES for e in lctx.lists[n]]
    day = date.fromisoformat(lctx.lists["as_of"])
    assert len(ids) == len(set(ids)) == sum(1 for m in ctx.policy.matters.values() if m.in_force(day))


# --- checking layers -------------------------------------------------------------------


@when(parsers.parse('检查分层清单"{name}"'))
def check_layer(lctx: LayerContext, name: str) -> None:
    try:
        lctx.policy = load_policy(FIXTURES / "layers" / name)
    except PolicyError as exc:
        lctx.findings = list(exc.findings)


@then(parsers.parse('检查发现"{code}"'))
def found_code(lctx: LayerContext, code: str) -> None:
    matches = [f for f in lctx.findings if f.code == code]
    assert matches, f"no `{code}` in {[f.render() for f in lctx.findings]}"
    lctx.finding = matches[0]


@then(parsers.parse('发现位于文件"{file}"'))
def finding_file(lctx: LayerContext, file: str) -> None:
    assert lctx.finding is not None and lctx.finding.file == file, lctx.finding


@then(parsers.parse('发现的提示包含"{text}"'))
def finding_hint(lctx: LayerContext, text: str) -> None:
    assert lctx.finding is not None and text in (lctx.finding.hint or ""), lctx.finding


@then("检查没有发现")
def no_findings(lctx: LayerContext) -> None:
    assert lctx.policy is not None, [f.render() for f in lctx.findings]


@then(parsers.parse('条款"{clause}"来自"{layer}"层并被"{county}"层覆盖'))
def history_override(lctx: LayerContext, clause: str, layer: str, county: str) -> None:
    assert lctx.policy is not None
    changes = lctx.policy.clause_layers("matters", clause)
    assert [(c.layer, c.action) for c in changes] == [(layer, "defined"), (county, "override")], changes


@then(parsers.parse('条款"{clause}"已被"{county}"层删减'))
def history_removed(lctx: LayerContext, clause: str, county: str) -> None:
    assert lctx.policy is not None
    removal = lctx.policy.removed.get(("matters", clause))
    assert removal is not None and removal.layer == county and clause not in lctx.policy.matters


@then(parsers.parse('适用的赋权为"{delegation}"'))
def delegation_applies(ctx: CaseContext, delegation: str) -> None:
    assert ctx.decision is not None and ctx.township and ctx.matter, ctx.error
    found = [d.id for d in ctx.policy.delegations_for(ctx.township, ctx.matter, ctx.as_of)]
    assert delegation in found, found
    record_layer(ctx.policy.id, delegation, "added")
