"""Intake: the matcher, the gazetteer and the cue book pinned on the seed policy.

Each test states one behaviour a dispatcher relies on and fails when it breaks: words the
policy defines stay whole, variants fold, places never vote for a matter, evidence says
where a word was found, explicit input wins, two townships are never guessed between.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

from engine.errors import CaseError, ErrorCode
from engine.intake import MAX_TEXT_CHARS, Confidence, Intake, Matcher, Thresholds, intake_for
from engine.intake.text import Segmenter, normalise
from engine.policy.index import Policy
from engine.policy.load import load_policy, policy_from_files, read_policy_dir
from tests.conftest import ROOT, SEED_POLICY

TICKETS = ROOT / "bench" / "intake" / "tickets.yaml"
DAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(SEED_POLICY)


@pytest.fixture(scope="module")
def intake(policy: Policy) -> Intake:
    return intake_for(policy)


def interpret(intake: Intake, text: str | None, place: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return intake.interpret(
        text=text, place=place, matter=kw.get("matter"), township=kw.get("township"),  # type: ignore[arg-type]
        attributes=kw.get("attributes", {}), on=DAY,  # type: ignore[arg-type]
    )


# --- the labelled set and the examples -------------------------------------------------------


def test_labelled_set_is_disjoint_from_the_examples_and_covers_the_list(policy: Policy) -> None:
    tickets = yaml.safe_load(TICKETS.read_text(encoding="utf-8"))["tickets"]
    examples = {e for m in policy.matters.values() for e in m.examples} | set(policy.manifest.dispatch.examples)
    both = [t["text"] for t in tickets if t["text"] in examples]
    assert not both, f"texts both taught (policy examples) and tested (bench/intake/tickets.yaml): {both}"
    counts = Counter(t["matter"] for t in tickets)
    assert len(tickets) >= 400 and counts[None] >= 30
    assert set(policy.matters) <= set(counts), set(policy.matters) - set(counts)
    assert all(t["matter"] in policy.matters for t in tickets if t["matter"] is not None)
    assert len({t["text"] for t in tickets}) == len(tickets)


def test_every_matter_has_five_examples_recognised_as_itself(policy: Policy, intake: Intake) -> None:
    wrong = []
    for matter in policy.matters.values():
        assert len(matter.examples) >= 5, matter.id
        for example in matter.examples:
            best = intake.matcher.rank(example)[0]
            if best.id != matter.id:
                wrong.append((matter.id, example, best.id))
    assert not wrong


# --- words ----------------------------------------------------------------------------------


def test_policy_terms_stay_whole_words() -> None:
    plain = Segmenter(())
    extended = Segmenter({"黑气点"})
    assert "黑气点" not in plain.words("村里有个黑气点")
    assert "黑气点" in extended.words("村里有个黑气点")


def test_spelling_variants_fold_before_matching(intake: Intake) -> None:
    assert normalise("挖砂") == normalise("挖沙") == "挖沙"
    assert normalise("噪声扰民") == "噪音扰民"
    assert normalise("ＡＢＣ１２") == "abc12"  # full-width folds (NFKC) and lowercases
    sand = intake.classify("河里有人偷挖河沙").best
    assert sand is not None and sand.id == "WAT-01"
    assert any(e.term == "偷挖河沙" and "alias" in e.fields for e in sand.evidence), sand.evidence


def test_evidence_says_which_words_matched_and_where(intake: Intake) -> None:
    best = intake.classify("路上的窨井盖不见了").best
    assert best is not None and best.id == "URB-03"
    by_term = {e.term: e for e in best.evidence}
    assert by_term["窨井盖"].kind == "word" and by_term["井盖"].kind == "ngram"
    assert {"name", "alias"} <= set(by_term["井盖"].fields)
    assert all(e.score > 0 for e in best.evidence)
    assert best.score == pytest.approx(sum(c.score for c in best.evidence), abs=0.5) or len(best.evidence) == 6
    example = next(e for e in best.evidence if "example" in e.fields)
    assert example.example in intake.policy.matters["URB-03"].examples


def test_place_names_never_vote_for_a_matter(intake: Intake) -> None:
    assert intake.matcher.rank("高家镇横路后村") == []
    with_place = intake.classify("高家镇河里有人偷挖河沙").candidates
    without = intake.classify("河里有人偷挖河沙").candidates
    assert [c.id for c in with_place] == [c.id for c in without]
    assert with_place[0].score == without[0].score


def test_confidence_high_medium_low(policy: Policy, intake: Intake) -> None:
    assert intake.classify("河道里有人开采砂船偷挖河沙").confidence is Confidence.high
    low = intake.classify("请问图书馆开放时间")
    assert low.confidence is Confidence.low and "未识别" in low.reason
    strict = Matcher(policy.matters.values(), intake.segmenter, intake.gazetteer.words, Thresholds(high=10_000, medium=1))
    assert strict.classify("河道里有人开采砂船偷挖河沙").confidence is Confidence.medium


def test_as_of_leaves_out_matters_not_in_force(policy: Policy, intake: Intake) -> None:
    files = dict(policy.files)
    name = next(n for n in files if n.endswith("water.yaml"))
    files[name] = files[name].replace("  - id: WAT-01\n", "  - id: WAT-01\n    valid_until: 2026-01-01\n", 1)
    ended = Intake(policy_from_files(files))
    assert ended.classify("河里有人偷挖河沙", on=date(2025, 6, 1)).best.id == "WAT-01"  # type: ignore[union-attr]
    later = ended.classify("河里有人偷挖河沙", on=date(2026, 6, 1)).candidates
    assert "WAT-01" not in [c.id for c in later]


def test_built_from_the_policy_alone_and_rebuilt_with_it(policy: Policy) -> None:
    first, second = Intake(policy), Intake(policy)
    for text in ("楼上邻居半夜跳绳", "工地晚上打桩", "井盖丢了"):
        assert first.matcher.rank(text) == second.matcher.rank(text)
    files = dict(read_policy_dir(SEED_POLICY))
    name = next(n for n in files if n.endswith("health.yaml"))
    files[name] = files[name].replace("aliases: [黑诊所, 非法行医, 游医]", "aliases: [黑诊所, 非法行医, 游医, 蒙古大夫]")
    edited = policy_from_files(files)
    assert intake_for(edited) is not intake_for(policy)
    assert intake_for(edited).classify("村里来了个蒙古大夫").best.id == "HLT-01"  # type: ignore[union-attr]
    assert intake_for(policy).matcher.rank("蒙古大夫") == []


# --- attributes from cues -------------------------------------------------------------------


def test_a_cue_sets_an_attribute_of_the_chosen_matter(intake: Intake) -> None:
    river = interpret(intake, "高家镇衢江边上有人晚上偷偷挖沙")
    assert river.matter == "WAT-01" and river.attributes["site_type"] == "river"
    assert river.block["attributes"] == [{"id": "site_type", "value": "river", "cue": "江边"}]
    farm = interpret(intake, "莲花镇有人在农田里偷挖砂石")
    assert farm.attributes["site_type"] == "farmland"


def test_a_negated_cue_does_not_count(intake: Intake) -> None:
    got = interpret(intake, "高家镇有人挖沙，不是在河里，是在农田里")
    assert got.attributes["site_type"] == "farmland"
    assert "severity" not in interpret(intake, "高家镇山体滑坡，没有人受伤").attributes


def test_explicit_input_wins_over_inference(intake: Intake) -> None:
    got = interpret(intake, "莲花镇有人在农田里偷挖砂石", attributes={"site_type": "river"})
    assert got.attributes["site_type"] == "river"
    assert got.block["attributes"][0]["overridden_by"] == "request"  # type: ignore[index]
    given = interpret(intake, "莲花镇有人在农田里偷挖砂石", matter="LND-01", township="gaojia")
    assert (given.matter, given.township) == ("LND-01", "gaojia")
    assert given.block["matter"]["source"] == "request"  # type: ignore[index]


def test_low_confidence_dispatches_with_candidates(intake: Intake) -> None:
    got = interpret(intake, "请问区政务服务中心几点下班", place="樟潭街道")
    assert got.matter is None and got.township == "zhangtan"
    assert got.block["confidence"] == "low" and "candidates" in got.block


# --- places ---------------------------------------------------------------------------------


def test_a_village_resolves_to_its_township(intake: Intake) -> None:
    got = interpret(intake, "横路后村村口有人往田边倒建筑垃圾")
    assert got.township == "gaojia"
    assert got.block["township"] == {"id": "gaojia", "name": "高家镇", "via": "text", "matched": "横路后村", "kind": "village"}


def test_short_aliases_count_in_place_fields_and_before_place_words(intake: Intake) -> None:
    assert interpret(intake, "井盖丢了", place="横路").township == "gaojia"
    assert interpret(intake, "安仁那边的江滩上有人挖沙").township == "gaojia"
    with pytest.raises(CaseError) as missing:
        interpret(intake, "村后溪边有人电鱼")  # 后溪 inside other words is no place
    assert missing.value.code == ErrorCode.MISSING_FIELD


def test_two_townships_are_asked_about_not_guessed(intake: Intake) -> None:
    with pytest.raises(CaseError) as err:
        interpret(intake, "路边垃圾没人清运", place="高家镇和莲花镇交界的公路边")
    assert err.value.code == ErrorCode.PLACE_AMBIGUOUS and err.value.field == "place"
    assert [c["id"] for c in err.value.extra["candidates"]] == ["gaojia", "lianhua"]  # type: ignore[union-attr]


def test_a_place_outside_the_county_is_refused_with_nearest_names(intake: Intake) -> None:
    with pytest.raises(CaseError) as err:
        interpret(intake, "井盖丢了", place="龙游县湖镇镇")
    assert err.value.code == ErrorCode.PLACE_OUTSIDE_COUNTY and "龙游县" in err.value.message
    assert err.value.extra["nearest"]
    with pytest.raises(CaseError) as unknown:
        interpret(intake, "井盖丢了", place="花果山水帘洞")
    assert unknown.value.code == ErrorCode.PLACE_UNKNOWN


def test_no_township_anywhere_says_what_is_missing(intake: Intake) -> None:
    with pytest.raises(CaseError) as err:
        interpret(intake, "井盖丢了")
    assert err.value.code == ErrorCode.MISSING_FIELD and "place" in err.value.message


# --- bad text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [("", ErrorCode.TEXT_EMPTY), ("  \n\t ", ErrorCode.TEXT_EMPTY), ("？！。……", ErrorCode.TEXT_UNREADABLE),
     ("😡😡🔥", ErrorCode.TEXT_UNREADABLE), ("井" * (MAX_TEXT_CHARS + 1), ErrorCode.TEXT_TOO_LONG)],
)
def test_unreadable_text_is_refused(intake: Intake, text: str, code: ErrorCode) -> None:
    with pytest.raises(CaseError) as err:
        intake.classify(text)
    assert err.value.code == code and err.value.field == "text" and err.value.hint


def test_mixed_scripts_are_read_for_their_words(intake: Intake) -> None:
    best = intake.classify("manhole cover 井盖 missing!! 😡").best
    assert best is not None and best.id == "URB-03"


def test_tickets_file_exists() -> None:
    assert Path(TICKETS).is_file()
