"""The matcher's arithmetic on a list small enough to score by hand: BM25 with the weights the
module documents (name and aliases 3, examples 1, duties 0.3; words 1, bigrams 0.5; k1 1.2,
b 0.5), the evidence a dispatcher sees, leave-one-out scoring, matters out of force, the
policy's examples of tickets outside the list, and each confidence level with its reason.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from engine.intake import Confidence, Matcher, Thresholds
from engine.intake.matcher import Candidate, Classification, Evidence, policy_terms
from engine.intake.text import Segmenter
from engine.policy.load import load_policy
from engine.policy.model import Matter
from tests.conftest import SEED_POLICY

SEGMENTER = Segmenter(["河沙"])
TEMPLATE = load_policy(SEED_POLICY).matters["WAT-01"]


def matter(id: str, name: str, aliases: tuple[str, ...] = (), examples: tuple[str, ...] = (), duties: tuple[str, ...] = (),
           **dates: date) -> Matter:
    return TEMPLATE.model_copy(update={"id": id, "name": name, "aliases": aliases, "examples": examples,
                                       "department_duties": duties, "valid_from": None, "valid_until": None, **dates})


# The list: A's words, with field weights, are alpha 3 + 1 + 0.3 = 4.3, beta 3, gamma 1 + 1 = 2,
# delta 1 (length 10.3); B's delta 3, epsilon 1 (length 4); C's word and bigram 河沙 3 each
# (length 6), in force until 2026; the outside examples' gamma 1, zeta 1 (length 2).
A = matter("A", "alpha", aliases=("beta",), examples=("alpha gamma", "gamma delta"), duties=("alpha",))
B = matter("B", "delta", examples=("epsilon",))
C = matter("C", "河沙", valid_until=date(2026, 1, 1))
OUTSIDE = ("gamma zeta",)
DOCS, AVERAGE = 4, (10.3 + 4 + 6 + 2) / 4


def weight(tf: float, length: float, df: int, docs: int = DOCS, average: float = AVERAGE) -> float:
    """BM25's weight of a feature in one matter (k1 = 1.2, b = 0.5)."""
    idf = math.log(1 + (docs - df + 0.5) / (df + 0.5))
    return idf * tf * 2.2 / (tf + 1.2 * (0.5 + 0.5 * length / average))


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher([A, B, C], SEGMENTER, outside=OUTSIDE)


def scored(candidates: list[Candidate] | tuple[Candidate, ...]) -> list[tuple[Any, ...]]:
    return [(c.id, c.name, c.score, [(e.term, e.kind, e.fields, e.score, e.example) for e in c.evidence]) for c in candidates]


def test_scores_are_bm25_of_the_weighted_fields(matcher: Matcher) -> None:
    alpha = (1 + math.log(2)) * weight(4.3, 10.3, 1)  # said twice: 1 + ln 2
    delta_a, delta_b = weight(1, 10.3, 2), weight(3, 4, 2)
    assert scored(matcher.rank("alpha alpha, delta")) == [
        ("A", "alpha", round(alpha + delta_a, 2), [("alpha", "word", ("name", "example", "duty"), round(alpha, 2), "alpha gamma"),
                                                  ("delta", "word", ("example",), round(delta_a, 2), "gamma delta")]),
        ("B", "delta", round(delta_b, 2), [("delta", "word", ("name",), round(delta_b, 2), None)]),
    ]  # fmt: skip
    assert matcher.vocabulary_size == 8  # alpha beta gamma delta epsilon zeta, 河沙 as a word and as a bigram


def test_a_bigram_counts_half_a_word(matcher: Matcher) -> None:
    word = weight(3, 6, 1)
    assert scored(matcher.rank("河沙")) == [
        ("C", "河沙", round(1.5 * word, 2), [("河沙", "word", ("name",), round(word, 2), None), ("河沙", "ngram", ("name",), round(word / 2, 2), None)]),
    ]  # fmt: skip


def test_an_alias_and_an_example_score_for_their_matter(matcher: Matcher) -> None:
    (a,) = matcher.rank("beta epsilon")[:1]
    assert scored([a]) == [("A", "alpha", round(weight(3, 10.3, 1), 2), [("beta", "word", ("alias",), round(weight(3, 10.3, 1), 2), None)])]
    assert scored(matcher.rank("epsilon")) == [("B", "delta", round(weight(1, 4, 1), 2), [("epsilon", "word", ("example",), round(weight(1, 4, 1), 2), "epsilon")])]


def test_matters_out_of_force_on_the_day_are_left_out(matcher: Matcher) -> None:
    assert [c.id for c in matcher.rank("河沙", on=date(2025, 12, 31))] == ["C"]
    assert matcher.rank("河沙", on=date(2026, 1, 1)) == []
    assert matcher.classify("河沙", on=date(2026, 1, 1)).candidates == ()
    # the outside examples have no dates: they always count
    assert matcher.classify("zeta", on=date(2026, 6, 1)).reason == "未识别出清单事项: 诉求与清单中任何事项都没有共同的词"


def test_a_matter_out_of_force_does_not_hide_one_in_force_after_it() -> None:
    listed = Matcher([matter("OLD", "omega", valid_until=date(2026, 1, 1)), matter("NEW", "omega")], SEGMENTER)
    assert [c.id for c in listed.rank("omega", on=date(2026, 6, 1))] == ["NEW"]
    assert [c.id for c in listed.rank("omega", on=date(2025, 6, 1))] == ["NEW", "OLD"]


def test_every_outside_example_adds_to_the_outside_score() -> None:
    # zeta: 3 in M (the name); 4 in the outside document (four examples, each 1), which is 4 long
    listed = Matcher([matter("M", "zeta")], SEGMENTER, outside=("zeta", "zeta!", "zeta?", "zeta。"))
    first, outside = round(weight(3, 3, 2, docs=2, average=3.5), 2), round(weight(4, 4, 2, docs=2, average=3.5), 2)
    assert outside > first
    assert listed.classify("zeta").reason == (
        f"未识别出清单事项: 更像清单外诉求(咨询、表扬等), 清单外示例得分 {outside:g} 不低于最高事项得分 {first:g}")


def test_leaving_an_example_out_scores_without_its_words(matcher: Matcher) -> None:
    # A without "gamma delta": gamma 2 - 1 in a matter 10.3 - 2 long; delta is gone from A
    assert scored(matcher.rank("gamma delta", leave_out=("A", "gamma delta"))) == [
        ("B", "delta", round(weight(3, 4, 2), 2), [("delta", "word", ("name",), round(weight(3, 4, 2), 2), None)]),
        ("A", "alpha", round(weight(1, 8.3, 2), 2), [("gamma", "word", ("example",), round(weight(1, 8.3, 2), 2), "alpha gamma")]),
    ]  # fmt: skip
    # a word of the matter that the left-out example lacks keeps its weight; the matter is shorter
    assert {c.id: c.score for c in matcher.rank("alpha gamma", leave_out=("A", "gamma delta"))} == {
        "A": round(weight(4.3, 8.3, 1) + weight(1, 8.3, 2), 2)}
    whole = {c.id: c.score for c in matcher.rank("gamma delta")}
    assert whole == {"A": round(weight(2, 10.3, 2) + weight(1, 10.3, 2), 2), "B": round(weight(3, 4, 2), 2)}


def test_the_outside_examples_are_never_a_candidate_but_can_outscore_the_list(matcher: Matcher) -> None:
    outside = round(weight(1, 2, 2) + weight(1, 2, 1), 2)
    first = round(weight(2, 10.3, 2), 2)
    got = matcher.classify("gamma zeta")
    assert [c.id for c in got.candidates] == ["A"] and got.candidates[0].score == first
    assert (got.confidence, got.reason) == (
        Confidence.low, f"未识别出清单事项: 更像清单外诉求(咨询、表扬等), 清单外示例得分 {outside:g} 不低于最高事项得分 {first:g}")


def test_evidence_is_the_six_best_features_best_first_then_by_term() -> None:
    words = "one two three four five six seven"
    many = Matcher([matter("M", words), matter("N", "one two")], SEGMENTER)
    (best, second) = many.rank(words)
    # one and two are in both matters: a lower idf, so they come last; the seventh feature is not shown
    assert [e.term for e in best.evidence] == ["five", "four", "seven", "six", "three", "one"]
    assert len({e.score for e in best.evidence[:5]}) == 1 and best.evidence[5].score < best.evidence[0].score
    assert best.score == pytest.approx(sum(e.score for e in best.evidence) + best.evidence[5].score, abs=0.02)  # two still counts
    assert [e.term for e in second.evidence] == ["one", "two"]


def test_equal_scores_rank_by_matter_id() -> None:
    tied = Matcher([matter("Z2", "omega"), matter("Z1", "omega")], SEGMENTER)
    assert [c.id for c in tied.rank("omega")] == ["Z1", "Z2"]
    assert tied.classify("omega", limit=1).candidates == tuple(tied.rank("omega")[:1])


def test_classify_lists_at_most_the_limit() -> None:
    five = Matcher([matter(f"P{i}", "omega") for i in range(7)], SEGMENTER)
    assert [c.id for c in five.classify("omega").candidates] == ["P0", "P1", "P2", "P3", "P4"]
    assert len(five.classify("omega", limit=7).candidates) == 7


def test_place_names_are_folded_and_dropped_from_the_index() -> None:
    placed = Matcher([A], SEGMENTER, places=frozenset({"ＢＥＴＡ"}))
    assert placed.rank("beta") == [] and placed.vocabulary_size == 3  # alpha gamma delta
    assert placed.features("Beta alpha") == {"w:alpha": 1}


def test_an_empty_list_matches_nothing() -> None:
    empty = Matcher([], SEGMENTER)
    assert (empty.rank("alpha"), empty.vocabulary_size) == ([], 0)
    got = empty.classify("alpha")
    assert (got.candidates, got.best, got.confidence) == ((), None, Confidence.low)


def ranked(*scores: float) -> list[Candidate]:
    return [Candidate(f"M{i}", f"事项{i}", s, ()) for i, s in enumerate(scores)]


@pytest.mark.parametrize(
    ("scores", "outside", "confidence", "reason"),
    [
        ((), 0.0, "low", "未识别出清单事项: 诉求与清单中任何事项都没有共同的词"),
        ((20.0,), 20.0, "low", "未识别出清单事项: 更像清单外诉求(咨询、表扬等), 清单外示例得分 20 不低于最高事项得分 20"),
        ((8.99,), 0.0, "low", "未识别出清单事项: 最高得分 8.99 低于 9"),
        ((9.0,), 0.0, "medium", "得分 9 低于 14, 需人工确认"),
        ((13.99, 1.0), 8.0, "medium", "得分 13.99 低于 14, 需人工确认"),
        ((14.0,), 13.99, "high", "得分 14, 领先第二名 0"),
        ((14.0, 10.0), 0.0, "high", "得分 14, 领先第二名 10"),  # exactly 1.4 times
        ((14.0, 10.01), 0.0, "medium", "得分 14 与第二名 10.01 接近, 需人工确认"),
        ((30.5, 21.5, 40.0), 0.0, "high", "得分 30.5, 领先第二名 21.5"),  # the second candidate, not the best other
    ],
)
def test_confidence_levels_and_their_reasons(scores: tuple[float, ...], outside: float, confidence: str, reason: str) -> None:
    matcher = Matcher([], SEGMENTER)
    assert matcher.confidence(ranked(*scores), outside) == (Confidence(confidence), reason)


def test_without_outside_examples_a_weak_match_is_low_for_its_score_alone() -> None:
    assert Matcher([], SEGMENTER).confidence(ranked(0.5)) == (Confidence.low, "未识别出清单事项: 最高得分 0.5 低于 9")
    weak = Matcher([matter("M", "one two"), matter("N", "one")], SEGMENTER)  # `one` is in both: a low idf
    got = weak.classify("one")
    assert got.candidates[0].score < 1 and got.reason == f"未识别出清单事项: 最高得分 {got.candidates[0].score:g} 低于 9"


def test_confidence_follows_the_thresholds_given() -> None:
    strict = Matcher([], SEGMENTER, thresholds=Thresholds(high=20.0, medium=10.0, margin=2.0))
    assert strict.confidence(ranked(9.5)) == (Confidence.low, "未识别出清单事项: 最高得分 9.5 低于 10")
    assert strict.confidence(ranked(20.0, 10.0)) == (Confidence.high, "得分 20, 领先第二名 10")
    assert strict.confidence(ranked(20.0, 10.5))[0] is Confidence.medium
    assert Matcher([], SEGMENTER).confidence(ranked(9.0)) == (Confidence.medium, "得分 9 低于 14, 需人工确认")  # no outside: 0


def test_serialised_candidates_and_evidence() -> None:
    found = Evidence("井盖", "ngram", ("name", "alias"), 4.2, "井盖丢了")
    assert found.to_dict() == {"term": "井盖", "kind": "ngram", "in": ["name", "alias"], "score": 4.2, "example": "井盖丢了"}
    assert Evidence("窨井盖", "word", ("name",), 1.0).to_dict() == {"term": "窨井盖", "kind": "word", "in": ["name"], "score": 1.0}
    assert Candidate("URB-03", "窨井盖缺失", 5.2, (found,)).to_dict() == {
        "id": "URB-03", "name": "窨井盖缺失", "score": 5.2, "evidence": [found.to_dict()]}
    assert Classification(tuple(ranked(3.0, 2.0)), Confidence.low, "r").best == ranked(3.0)[0]


def test_policy_terms_are_the_parts_of_names_and_aliases() -> None:
    named = matter("T", "河道和湖泊、水库(山塘)“采砂”（堆场）", aliases=("黑诊所", "x", '"游医"'))
    assert policy_terms([named]) == {"河道", "湖泊", "水库", "山塘", "采砂", "堆场", "黑诊所", "游医"}
    assert policy_terms([matter("U", "井", aliases=("a和b",))]) == set()
    assert policy_terms([matter("V", "X射线探伤")]) == {"X射线探伤"}  # only the listed separators split
