"""The list's cells: every matter renders to official columns and parses back to itself."""

from __future__ import annotations

import pytest

from engine.listing.columns import (
    Listing,
    _Problem,
    join_items,
    numbered,
    parse_basis_line,
    split_items,
    unnumbered,
)
from engine.policy.model import Matter
from engine.runtime import Runtime


def test_every_seed_matter_survives_render_and_parse(seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    listing = Listing(policy)
    for matter in policy.matters.values():
        fields, problems = listing.parse(listing.row(matter))
        assert problems == [], (matter.id, problems)
        assert Matter.model_validate(fields) == matter


def test_cells_are_what_officials_read(seed_runtime: Runtime) -> None:
    policy = seed_runtime.policy
    row = Listing(policy).row(policy.matters["WAT-01"])
    assert row["name"] == "河道非法采砂"
    assert row["domain"] == "水利"
    assert row["responsibility"] == "县级部门"
    assert row["lead"] == "衢江区水利局"
    assert row["supports"] == "衢州市公安局衢江分局、衢州市自然资源和规划局衢江分局、衢江区交通运输局"
    assert row["township_duties"] == "1. 日常巡查发现\n2. 劝阻制止\n3. 及时报告\n4. 保护现场\n5. 配合查处"
    assert row["time_limits"] == "签收 1小时\n联系乡镇(街道) 24小时\n到场报到 3个工作日"
    assert str(row["basis"]).splitlines()[0] == "《中华人民共和国水法》第三十九条"


def test_parse_accepts_ids_short_names_and_loose_limits(seed_runtime: Runtime) -> None:
    listing = Listing(seed_runtime.policy)
    assert listing.org_ref("qj-water") == "qj-water"
    assert listing.org_ref("区水利局") == "qj-water"  # short name
    assert listing.org_ref("衢江区水利局(qj-water)") == "qj-water"
    assert listing.org_ref("属地乡镇(街道)") == "@township"
    assert listing.limits("签收：1小时；到场报到 3 工作日") == {"sign": "1h", "report_in": "3wd"}
    assert listing.limits("repair 30min") == {"repair": "30min"}
    assert listing.domain_id("水利") == "water" and listing.domain_id("water") == "water"


def test_parse_reports_unknown_names_with_a_suggestion(seed_runtime: Runtime) -> None:
    listing = Listing(seed_runtime.policy)
    with pytest.raises(_Problem) as exc:
        listing.org_ref("衢江区水里局")
    assert exc.value.problem == "unknown organization `衢江区水里局`"
    assert exc.value.hint == "did you mean `衢江区水利局`?"
    with pytest.raises(_Problem):
        listing.limits("签收 很快")
    with pytest.raises(_Problem):
        listing.limits("签收 1小时\n签收 2小时")


def test_a_bad_row_names_each_bad_cell(seed_runtime: Runtime) -> None:
    listing = Listing(seed_runtime.policy)
    cells = listing.row(seed_runtime.policy.matters["WAT-01"])
    cells.update(lead="水务局", domain="水务", valid_from="2026-13-01", responsibility="市级")
    _, problems = listing.parse(cells)
    assert sorted(p.column for p in problems) == ["domain", "lead", "responsibility", "valid_from"]


def test_list_cells_join_and_split_losslessly() -> None:
    assert split_items(join_items(["甲", "乙"])) == ["甲", "乙"]
    assert split_items(join_items(["发现、报告", "劝阻"])) == ["发现、报告", "劝阻"]
    assert unnumbered(numbered(["巡查", "报告"])) == ["巡查", "报告"]
    assert unnumbered("巡查\n2. 报告") == ["巡查", "2. 报告"]  # not numbered 1..n: taken as written
    assert parse_basis_line("《关于印发《办法》的通知》第三条") == ("关于印发《办法》的通知", "第三条")
    assert parse_basis_line("中华人民共和国水法") == ("中华人民共和国水法", None)
