"""Layered policy (engine.policy.layers): resolution, provenance, findings, replay of the file map."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from engine.errors import PolicyError
from engine.lead.decision import Case
from engine.policy.load import load_policy, policy_from_files, read_policy_dir
from engine.runtime import Runtime
from tests.conftest import FIXTURES, ROOT

JURISDICTIONS = ROOT / "jurisdictions"
LAYERS = FIXTURES / "layers"
DAY = date(2026, 11, 1)


def _codes(path: Path) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    return [f.code for f in caught.value.findings]


def test_county_file_map_holds_every_layer_and_replays_alone() -> None:
    files = read_policy_dir(JURISDICTIONS / "kecheng")
    assert {name.split("/")[0] for name in files if name.startswith("@")} == {"@zhejiang"}
    again = policy_from_files(dict(files))  # e.g. from the decision log's stored version
    assert again.digest == load_policy(JURISDICTIONS / "kecheng").digest
    assert [layer.id for layer in again.layers] == ["zhejiang", "kecheng"]


def test_a_template_change_changes_every_county_digest(tmp_path: Path) -> None:
    for name in ("zhejiang", "kecheng", "shili"):
        shutil.copytree(JURISDICTIONS / name, tmp_path / name)
    before = {c: load_policy(tmp_path / c).digest for c in ("kecheng", "shili")}
    water = tmp_path / "zhejiang" / "matters" / "water.yaml"
    water.write_text(water.read_text(encoding="utf-8").replace("lead: water\n", "lead: enforce\n", 1), encoding="utf-8")
    after = {c: load_policy(tmp_path / c).digest for c in ("kecheng", "shili")}
    assert all(before[c] != after[c] for c in before)


def test_overrides_replace_fields_and_add_their_basis() -> None:
    policy = load_policy(JURISDICTIONS / "kecheng")
    matter = policy.matters["URB-03"]
    assert matter.lead == "enforce" and matter.supports == ("housing", "@township")
    assert any("柯城区" in b.document for b in matter.basis) and any("城市道路管理条例" == b.document for b in matter.basis)
    changes = policy.clause_layers("matters", "URB-03")
    assert [(c.layer, c.action) for c in changes] == [("zhejiang", "defined"), ("kecheng", "override")]
    assert changes[1].location.file == "layer.yaml" and changes[1].location.line is not None
    assert policy.where("matters", "URB-03").file == "@zhejiang/matters/city.yaml"


def test_township_kind_override_is_a_variant_for_that_kind_only() -> None:
    runtime = Runtime.from_dir(JURISDICTIONS / "kecheng", cache_size=0)
    street = runtime.decide(Case(township="fushan", matter="ENV-01", as_of=DAY))
    town = runtime.decide(Case(township="hangbu", matter="ENV-01", as_of=DAY))
    assert street.lead.id == "enforce" and town.lead.id == "hangbu"
    assert [c.layer for c in street.rule.layers] == ["zhejiang", "kecheng"]
    assert [c.layer for c in town.rule.layers] == ["zhejiang"]
    assert street.to_dict()["rule"]["layers"][1] == {
        "layer": "kecheng", "action": "override", "fields": ["lead", "supports", "township_duties"], "township_kind": "street"
    }


def test_removed_matter_is_gone_and_recorded() -> None:
    policy = load_policy(JURISDICTIONS / "kecheng")
    assert "AGR-02" not in policy.matters and ("matters", "AGR-02") in policy.removed
    assert policy.removed[("matters", "AGR-02")].basis


def test_unlayered_policy_output_is_unchanged() -> None:
    runtime = Runtime.from_dir(ROOT / "policy", cache_size=0)
    body = runtime.decide(Case(township="gaojia", matter="WAT-01", attributes={"site_type": "river"}, as_of=DAY)).to_dict()
    assert "layers" not in body["rule"] and "来自" not in body["explanation"][0]["reason"]
    assert runtime.policy.layers == () and runtime.policy.layer_chain() == ("qujiang",)


@pytest.mark.parametrize(
    ("fixture", "code"),
    [
        ("override-missing", "override_missing"),
        ("removal-missing", "removal_missing"),
        ("removal-referenced", "removal_referenced"),
        ("cycle-a", "extends_cycle"),
        ("shadowing", "shadowing"),
        ("override-field", "override_field"),
        ("extends-missing", "extends_missing"),
    ],
)
def test_bad_layers_are_rejected_with_their_finding(fixture: str, code: str) -> None:
    assert code in _codes(LAYERS / fixture)


def test_cycle_in_a_stored_file_map_is_found_too() -> None:
    files = {
        "policy.yaml": "policy: {id: a, version: '1', title: a, jurisdiction: a, extends: b}\n",
        "@b/policy.yaml": "policy: {id: b, version: '1', title: b, jurisdiction: b, extends: a}\n",
    }
    with pytest.raises(PolicyError) as caught:
        policy_from_files(files)
    assert caught.value.findings[0].code in ("extends_cycle", "extends_missing")


def test_override_with_a_bad_value_is_rejected_at_the_override() -> None:
    files = read_policy_dir(LAYERS / "good")
    files["policy.yaml"] = files["policy.yaml"].replace("set: {lead: env}", "set: {lead: env, time_limits: {sign: soon}}")
    with pytest.raises(PolicyError) as caught:
        policy_from_files(files)
    finding = caught.value.findings[0]
    assert (finding.file, finding.id) == ("policy.yaml", "M-01") and "time_limits" in finding.message


def test_override_to_an_unknown_organization_is_a_reference_error() -> None:
    files = read_policy_dir(LAYERS / "good")
    files["policy.yaml"] = files["policy.yaml"].replace("set: {lead: env}", "set: {lead: enviro}")
    with pytest.raises(PolicyError) as caught:
        policy_from_files(files)
    assert caught.value.findings[0].code == "unknown_organization" and "env" in (caught.value.findings[0].hint or "")


def test_template_alone_is_not_servable_but_loads() -> None:
    policy = load_policy(JURISDICTIONS / "zhejiang")
    assert policy.manifest.template and len(policy.matters) == 67 and not policy.townships()
