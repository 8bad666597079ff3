"""The combining semantics of `decide`, clause by clause, on the made-up `shanhai` county.

Every explanation is compared whole and in order (the winner first, then the others as
ranked, then amendments as listed): auditors read these lines, so a swapped label or a
garbled reason is a regression, not a detail.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from engine import Case, Runtime
from tests.conftest import FIXTURES, ROOT, runtime_for

DAY = date(2026, 11, 1)
NO_LEAD = "牵头单位 `@enforcement_team` 对本案无法确定(该乡镇无对应机构)"


def decide(rt: Runtime, **kw: Any) -> dict[str, Any]:
    kw.setdefault("as_of", DAY)
    return rt.decide(Case(**kw)).to_dict()


def ids(orgs: list[dict[str, Any]]) -> list[str]:
    return [o["id"] for o in orgs]


def lines(d: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(e["rule"], e["result"], e["reason"]) for e in d["explanation"]]


def test_a_clause_without_a_lead_is_skipped_and_the_next_one_wins(shanhai: Runtime) -> None:
    """west has no enforcement team: SH-TEAM-ANY (delegation) cannot lead; the list default does."""
    d = decide(shanhai, township="west", matter="SH-F1", attributes={"spread": True})
    assert (d["outcome"], d["lead"]["id"], d["rule"]["id"]) == ("assigned", "sh-forest", "SH-F1")
    assert lines(d) == [
        ("SH-F1", "won", "胜出: 优先级 0, 层级 清单默认, 牵头 山海县林业局"),
        ("SH-TEAM-ANY", "skipped", NO_LEAD),
    ]
    assert d["fired"] == ["SH-TEAM-ANY", "SH-F1"]
    assert d["rule"] == {"id": "SH-F1", "title": "清单默认: 山林火情", "kind": "list", "basis": [{"document": "森林防火条例"}]}
    assert d["policy"] == {"id": "shanhai", "version": "1", "digest": shanhai.policy.digest}
    assert ids(d["supports"]) == ["sh-fire", "sh-police", "west"]
    assert d["time_limits"] == {"sign": "1h", "report_in": "24h"}
    assert d["township"]["duties"] == ["发现报告", "先期处置"]


def test_a_team_leads_only_from_the_day_it_exists(shanhai: Runtime) -> None:
    before = decide(shanhai, township="east", matter="SH-F1", as_of=date(2023, 6, 1), attributes={"spread": True})
    assert (before["lead"]["id"], lines(before)[1]) == ("sh-forest", ("SH-TEAM-ANY", "skipped", NO_LEAD))
    after = decide(shanhai, township="east", matter="SH-F1", attributes={"spread": True})
    assert (after["lead"]["id"], after["rule"]["id"]) == ("east-team", "SH-TEAM-ANY")


def test_nothing_left_to_lead_dispatches_and_reports_the_skipped(shanhai: Runtime) -> None:
    d = decide(shanhai, township="west", matter="SH-F4", reference="12345-SH-0001")
    assert (d["reference"], d["notes"]) == ("12345-SH-0001", [])  # the caller's reference comes back
    assert (d["outcome"], d["lead"]["id"], d["supports"], d["time_limits"]) == ("dispatch", "sh-centre", [], {"sign": "2h"})
    assert lines(d) == [
        ("dispatch", "dispatch", "事项 SH-F4 无规则适用, 由县社会治理中心兜底派单"),
        ("SH-TEAM-ANY", "skipped", NO_LEAD),
        ("SH-F4", "skipped", NO_LEAD),
    ]
    assert d["township"]["duties"] == ["巡查发现"]


def test_dispatch_names_its_reason_and_rule(shanhai: Runtime) -> None:
    no_matter = decide(shanhai, township="west")
    assert lines(no_matter) == [("dispatch", "dispatch", "未指明事项(清单外), 由县社会治理中心兜底派单")]
    assert no_matter["rule"] == {
        "id": "dispatch", "title": "兜底派单: 县社会治理中心", "kind": "dispatch",
        "basis": [{"document": "山海县兜底派单办法(虚构)"}],
    }
    assert (no_matter["matter"], no_matter["fired"], no_matter["township"]["duties"]) == (None, [], ["发现、报告"])
    ended = decide(shanhai, township="west", matter="SH-OLD")
    assert lines(ended) == [("dispatch", "dispatch", "事项 SH-OLD 于 2026-11-01 不在清单有效期内, 由县社会治理中心兜底派单")]
    assert ended["matter"] == {"id": "SH-OLD", "name": "已废止事项", "domain": "sea"}


def test_a_winning_rule_without_supports_takes_the_matters_and_never_lists_its_lead(shanhai: Runtime) -> None:
    """SH-NORTH names no supports: SH-F1's apply, minus the lead (sh-police) itself."""
    d = decide(shanhai, township="north", matter="SH-F1", attributes={"spread": True})
    assert (d["lead"]["id"], ids(d["supports"])) == ("sh-police", ["sh-fire", "north"])
    assert lines(d) == [
        ("SH-NORTH", "won", "胜出: 优先级 0, 层级 一件事, 牵头 山海县公安局"),
        ("SH-TEAM-ANY", "lost", "落选: 同优先级下 赋权/1+X 层级低于 SH-NORTH 的 一件事"),
        ("SH-F1", "lost", "落选: 同优先级下 清单默认 层级低于 SH-NORTH 的 一件事"),
    ]
    assert d["rule"] == {"id": "SH-NORTH", "title": "北坡乡山林火情由公安局牵头(虚构)", "kind": "integrated",
                         "basis": [{"document": "虚构依据一"}]}
    assert d["township"]["duties"] == ["发现报告", "先期处置"]  # a rule that names no duties keeps the matter's


def test_a_winning_rule_with_supports_keeps_its_own(shanhai: Runtime) -> None:
    d = decide(shanhai, township="west", matter="SH-S1", reference="12345-SH-0002")
    assert d["reference"] == "12345-SH-0002"
    assert (d["rule"]["id"], d["lead"]["id"], ids(d["supports"])) == ("SH-STREET", "sh-police", ["sh-ocean"])


def test_amendments_add_in_policy_order_and_the_last_coordinator_wins(shanhai: Runtime) -> None:
    """SH-AMD-CALM (spread defaults to false) and SH-AMD-BIG (area ≥ 10) both apply."""
    d = decide(shanhai, township="east", matter="SH-F1", attributes={"area_ha": 20, "neighbour": "north"})
    assert (d["rule"]["id"], d["lead"]["id"]) == ("SH-TEAM-ANY", "east-team")
    # matter supports, then CALM's (east again: listed once), then BIG's (sh-fire again: listed once)
    assert ids(d["supports"]) == ["sh-fire", "sh-police", "east", "sh-emergency", "north"]
    assert d["coordinator"]["id"] == "sh-centre"  # BIG is listed after CALM
    assert d["time_limits"] == {"sign": "15min", "report_in": "24h", "handle": "3d"}
    assert d["notes"] == ["火情未蔓延", "乡镇先行扑救", "面积较大", "相邻乡镇配合"]
    assert lines(d) == [
        ("SH-TEAM-ANY", "won", "胜出: 优先级 0, 层级 赋权/1+X, 牵头 东岭镇综合行政执法队"),
        ("SH-F1", "lost", "落选: 同优先级下 清单默认 层级低于 SH-TEAM-ANY 的 赋权/1+X"),
        ("SH-AMD-CALM", "applied", "附加: 配合单位 @township、sh-emergency"),
        ("SH-AMD-BIG", "applied", "附加: 配合单位 @neighbour、sh-fire"),
    ]
    assert d["fired"] == ["SH-TEAM-ANY", "SH-F1", "SH-AMD-CALM", "SH-AMD-BIG"]
    only_calm = decide(shanhai, township="east", matter="SH-F1")
    assert (only_calm["coordinator"]["id"], only_calm["time_limits"]["sign"]) == ("sh-emergency", "30min")
    # no neighbour given: `@neighbour` names nobody and is left out, nothing else changes
    alone = decide(shanhai, township="east", matter="SH-F1", attributes={"area_ha": 20})
    assert ids(alone["supports"]) == ["sh-fire", "sh-police", "east", "sh-emergency"]
    assert alone["coordinator"]["id"] == "sh-centre"


def test_an_amendment_without_coordinator_keeps_the_winners(shanhai: Runtime) -> None:
    d = decide(shanhai, township="north", matter="SH-S1", attributes={"depth": 30})
    assert (d["rule"]["id"], d["lead"]["id"], d["coordinator"]["id"]) == ("SH-SEA-ESC", "sh-emergency", "sh-bb")
    assert ids(d["supports"]) == ["sh-police"]  # inherited from SH-S1; SH-AMD-DEEP adds none
    assert (d["time_limits"], d["notes"]) == ({"sign": "30min", "handle": "12h"}, ["深水区作业须配备救生设备"])
    assert d["township"]["duties"] == ["疏散人员", "报告"]  # the winning rule's own, not SH-S1's
    assert lines(d) == [
        ("SH-SEA-ESC", "won", "胜出: 优先级 0, 层级 升级处置, 牵头 山海县应急管理局"),
        ("SH-S1", "lost", "落选: 同优先级下 清单默认 层级低于 SH-SEA-ESC 的 升级处置"),
        ("SH-AMD-DEEP", "applied", "附加: 配合单位 无"),
    ]


def test_clauses_of_one_rank_with_one_lead_tie(shanhai: Runtime) -> None:
    d = decide(shanhai, township="west", matter="SH-F3", attributes={"stage": "early"})
    assert (d["outcome"], d["lead"]["id"], d["rule"]["id"], d["candidates"], d["arbiter"]) == (
        "assigned", "sh-forest", "SH-TIE-A", [], None
    )
    assert ids(d["supports"]) == ["sh-fire"]  # the winner's (inherited); SH-TIE-B's sh-police does not join
    assert lines(d) == [
        ("SH-TIE-A", "won", "胜出: 优先级 0, 层级 一件事, 牵头 山海县林业局"),
        ("SH-TIE-B", "tied", "与 SH-TIE-A 同级且牵头单位相同"),
        ("SH-F3", "lost", "落选: 同优先级下 清单默认 层级低于 SH-TIE-A 的 一件事"),
        ("SH-LOW", "lost", "落选: 优先级 -5 低于 SH-TIE-A 的 0"),
    ]
    assert d["notes"] == []


def test_clauses_of_one_rank_with_different_leads_conflict(shanhai: Runtime) -> None:
    d = decide(shanhai, township="west", matter="SH-F3", attributes={"stage": "late"})
    assert (d["outcome"], d["lead"]["id"], d["rule"]["id"]) == ("conflict", "sh-forest", "SH-TIE-A")
    assert ids(d["candidates"]) == ["sh-forest", "sh-fire"]
    assert d["arbiter"] == {"id": "sh-bb", "name": "山海县委编办", "kind": "arbiter"}
    assert d["notes"] == ["牵头单位存在争议, 提请 山海县委编办 裁定; 争议期间由首个列明的 山海县林业局 继续办理"]
    assert lines(d) == [
        ("SH-TIE-A", "won", "胜出: 优先级 0, 层级 一件事, 牵头 山海县林业局"),
        ("SH-CONF-C", "conflict", "冲突: 与 SH-TIE-A 同级但牵头单位为 山海县消防救援大队"),
        ("SH-F3", "lost", "落选: 同优先级下 清单默认 层级低于 SH-TIE-A 的 一件事"),
        ("SH-LOW", "lost", "落选: 优先级 -5 低于 SH-TIE-A 的 0"),
    ]
    assert d["fired"] == ["SH-TIE-A", "SH-CONF-C", "SH-LOW", "SH-F3"]


def test_the_seed_conflict_is_explained_whole() -> None:
    d = decide(runtime_for(FIXTURES / "haiwan"), township="haiwan-east", matter="HW-02")
    assert lines(d) == [
        ("HW-R1", "won", "胜出: 优先级 0, 层级 一件事, 牵头 海湾县海洋渔业局"),
        ("HW-R2", "conflict", "冲突: 与 HW-R1 同级但牵头单位为 海湾县港航管理中心"),
        ("HW-02", "lost", "落选: 同优先级下 清单默认 层级低于 HW-R1 的 一件事"),
    ]
    assert d["notes"] == ["牵头单位存在争议, 提请 海湾县委编办 裁定; 争议期间由首个列明的 海湾县海洋渔业局 继续办理"]


def test_notes_name_the_successor_and_the_ended_delegation(seed_runtime: Runtime) -> None:
    after = decide(seed_runtime, township="lingyang", matter="FOR-03", as_of=date(2019, 3, 1))
    assert after["notes"] == ["机构改革: 衢江区林业局 自 2019-03-01 起由 衢州市自然资源和规划局衢江分局 承接"]
    taken_back = decide(seed_runtime, township="lianhua", matter="CON-04", as_of=date(2025, 3, 1))
    assert (taken_back["lead"]["id"], taken_back["notes"]) == ("qj-enforce", ["赋权 FQ-2021-02 已于 2025-01-01 收回"])
    still_delegated = decide(seed_runtime, township="lianhua", matter="CON-04", as_of=date(2024, 12, 31))
    assert (still_delegated["lead"]["id"], still_delegated["notes"]) == ("lianhua-team", [])
    # the take-back is noted only where the list default leads in its place
    escalated = decide(seed_runtime, township="lianhua", matter="CON-04", as_of=date(2025, 3, 1), attributes={"severity": 4})
    assert (escalated["rule"]["id"], escalated["notes"]) == ("ESC-SEVERE", ["吹响应急哨", "区领导统一指挥"])


def test_street_offices_and_towns_get_their_own_list_default(shanhai: Runtime) -> None:
    """SH-S2 differs for street offices (west: every field) and towns (east: supports only)."""
    street = decide(shanhai, township="west", matter="SH-S2")
    assert (street["lead"]["id"], street["supports"], street["township"]["duties"], street["time_limits"]) == (
        "sh-ocean", [], ["发现报告"], {"handle": "1d"}
    )  # an empty supports list in the variant is kept, not replaced by the matter's
    assert street["rule"] == {"id": "SH-S2", "title": "清单默认: 海滩垃圾(街道)", "kind": "list",
                              "basis": [{"document": "海滩保洁办法(虚构)"}, {"document": "街道海滩保洁分工(虚构)"}]}
    assert lines(street) == [("SH-S2", "won", "胜出: 优先级 0, 层级 清单默认, 牵头 山海县海洋局")]
    town = decide(shanhai, township="east", matter="SH-S2")
    assert (town["lead"]["id"], ids(town["supports"]), town["township"]["duties"], town["time_limits"]) == (
        "east", ["sh-police"], ["巡查清理"], {"handle": "3d"}
    )  # what the town variant leaves out is the matter's
    assert town["rule"] == {"id": "SH-S2", "title": "清单默认: 海滩垃圾(乡镇)", "kind": "list",
                            "basis": [{"document": "海滩保洁办法(虚构)"}]}
    assert lines(town) == [("SH-S2", "won", "胜出: 优先级 0, 层级 清单默认, 牵头 东岭镇")]


def test_a_layered_clause_cites_the_layers_that_shaped_it() -> None:
    """示例县 (jurisdictions/shili) overrides URB-01 for street offices only."""
    shili = runtime_for(ROOT / "jurisdictions" / "shili")
    street = decide(shili, township="dongcheng", matter="URB-01")
    assert (street["lead"]["id"], ids(street["supports"]), street["township"]["duties"]) == (
        "dongcheng", ["enforce", "market"], ["街道综合执法中队巡查", "劝离", "查处"]
    )
    assert street["rule"] == {
        "id": "URB-01", "title": "清单默认: 占道经营和流动摊贩(街道)", "kind": "list",
        "basis": [{"document": "浙江省城市市容和环境卫生管理条例", "issuer": "浙江省人民代表大会常务委员会"},
                  {"document": "示例县街道综合执法中队职责(虚构)", "article": "街道辖区占道经营由街道综合执法中队查处"}],
        "layers": [{"layer": "zhejiang", "action": "defined"},
                   {"layer": "shili", "action": "override", "fields": ["lead", "supports", "township_duties"], "township_kind": "street"}],
    }
    assert lines(street) == [
        ("URB-01", "won", "胜出: 优先级 0, 层级 清单默认, 牵头 东城街道; 来自 zhejiang 层, shili 层覆盖 lead、supports、township_duties")
    ]
    town = decide(shili, township="nanshan", matter="URB-01")
    assert (town["lead"]["id"], ids(town["supports"]), town["township"]["duties"]) == ("enforce", ["market"], ["劝导", "疏导", "报告"])
    assert (town["rule"]["title"], town["rule"]["layers"]) == ("清单默认: 占道经营和流动摊贩", [{"layer": "zhejiang", "action": "defined"}])
    assert lines(town) == [("URB-01", "won", "胜出: 优先级 0, 层级 清单默认, 牵头 示例县综合行政执法局; 来自 zhejiang 层")]
