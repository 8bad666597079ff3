"""The seed policy as a responsibility list: its size, its townships, and how it is organised.

These check the content promises of the list (issue 3), not engine behaviour: a complete row
for every matter, one YAML file and one feature chapter per domain, every clause traced to a
scenario by its `@rule:` tag, and the real townships of 衢江区.
"""

from __future__ import annotations

import re
from collections import defaultdict

import yaml
from fastapi.testclient import TestClient

from engine.runtime import Runtime
from tests.conftest import ROOT, SEED_POLICY

FEATURES = ROOT / "features"

# 国家统计用区划代码 330803 (衢江区): 2 个街道、10 个镇、8 个乡.
QUJIANG_TOWNSHIPS = {
    "樟潭街道", "浮石街道",
    "上方镇", "峡川镇", "莲花镇", "全旺镇", "大洲镇", "后溪镇", "廿里镇", "湖南镇", "高家镇", "杜泽镇",
    "灰坪乡", "太真乡", "双桥乡", "周家乡", "云溪乡", "举村乡", "岭洋乡", "黄坛口乡",
}  # fmt: skip


def tags_in(text: str) -> set[str]:
    return set(re.findall(r"@rule:([A-Za-z0-9_.-]+)", text))


def test_list_has_at_least_67_matters_in_10_domains(client: TestClient) -> None:
    body = client.get("/v1/matters").json()
    assert body["total"] >= 67 and len(body["items"]) == body["total"]
    assert len({m["domain"] for m in body["items"]}) >= 10


def test_organizations_list_the_real_townships(client: TestClient) -> None:
    body = client.get("/v1/organizations", params={"kind": "township"}).json()
    assert {o["name"] for o in body["items"]} == QUJIANG_TOWNSHIPS
    kinds = {o["kind"] for o in body["items"]}
    assert kinds == {"street", "township"}


def test_every_matter_is_a_complete_row(seed_runtime: Runtime) -> None:
    incomplete = []
    for m in seed_runtime.policy.matters.values():
        if not (m.township_duties and m.department_duties and m.basis and m.aliases and m.lead):
            incomplete.append(m.id)
        if m.provenance == "sourced" and not m.source:
            incomplete.append(f"{m.id} (sourced without source)")
    incomplete += [f"{r.id} (sourced without source)" for r in seed_runtime.policy.rules if r.provenance == "sourced" and not r.source]
    assert not incomplete


def test_one_matter_file_per_domain() -> None:
    domains_in: dict[str, set[str]] = defaultdict(set)
    for path in sorted((SEED_POLICY / "matters").glob("*.yaml")):
        for matter in yaml.safe_load(path.read_text(encoding="utf-8"))["matters"]:
            domains_in[path.stem].add(matter["domain"])
    assert all(domains == {stem} for stem, domains in domains_in.items()), dict(domains_in)


def test_every_domain_has_its_feature_chapter_naming_each_matter(seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    for domain in policy.manifest.domains:
        chapter = FEATURES / f"{domain.id}.feature"
        assert chapter.exists(), f"no chapter for domain {domain.id}"
        tagged = tags_in(chapter.read_text(encoding="utf-8"))
        missing = [m.id for m in policy.matters.values() if m.domain == domain.id and m.id not in tagged]
        assert not missing, f"{chapter.name} has no scenario tagged for {missing}"


def test_every_rule_is_tagged_in_some_scenario(seed_runtime: Runtime) -> None:
    tagged = set().union(*(tags_in(p.read_text(encoding="utf-8")) for p in FEATURES.glob("*.feature")))
    assert not [r.id for r in seed_runtime.policy.rules if r.id not in tagged]
