"""Which matter of the list is this ticket? BM25 over each matter's own words, with evidence.

The index is built from the policy alone when it is loaded: each matter is one document made
of its name and aliases (weight 3), its example tickets (weight 1) and its department duties
(weight 0.3). A ticket is scored against every matter in force on the day; the score of a
matter is the sum, over the ticket's features, of that feature's BM25 weight in the matter
(words count fully, character bigrams half: they catch variants and words jieba cuts
differently). Every candidate carries the features that scored, and in which fields of the
matter they were found, so a dispatcher can see why it ranks where it does.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from engine.intake.text import Segmenter, features, normalise
from engine.policy.model import Matter

FIELD_WEIGHTS: Mapping[str, float] = {"name": 3.0, "alias": 3.0, "example": 1.0, "duty": 0.3}
OUTSIDE = "@dispatch"  # the document of the policy's examples of tickets outside the list
KIND_WEIGHTS: Mapping[str, float] = {"w": 1.0, "c": 0.5}
K1, B = 1.2, 0.5  # BM25 saturation and length normalisation
EVIDENCE_LIMIT = 6


class Confidence(StrEnum):
    """How sure intake is of the first candidate; decides what the lead endpoint does with it."""

    high = "high"  # decided
    medium = "medium"  # decided, marked needs_confirmation, alternatives listed
    low = "low"  # dispatched to the centre with the candidates


@dataclass(frozen=True)
class Thresholds:
    """Score levels measured on the evaluation set (bench/intake): below `medium` the best
    candidate is no better than what texts outside the list reach; `high` also needs the
    first candidate to lead the second by `margin` times."""

    high: float = 14.0
    medium: float = 9.0
    margin: float = 1.4


@dataclass(frozen=True)
class Evidence:
    """One feature of the ticket that scored for a candidate."""

    term: str
    kind: str  # "word" | "ngram"
    fields: tuple[str, ...]  # where the matter has it: name, alias, example, duty
    score: float
    example: str | None = None  # the first example of the matter that has the term

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"term": self.term, "kind": self.kind, "in": list(self.fields), "score": self.score}
        if self.example is not None:
            out["example"] = self.example
        return out


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    score: float
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "score": self.score,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class Classification:
    candidates: tuple[Candidate, ...]
    confidence: Confidence
    reason: str  # zh, for the dispatcher: why this confidence

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


@dataclass(frozen=True)
class _Posting:
    matter: str
    tf: float  # field-weighted count of texts of the matter that have the feature
    fields: tuple[str, ...]
    example: str | None


class Matcher:
    """The BM25 index of one policy's matters. Immutable after construction; thread-safe."""

    def __init__(
        self,
        matters: Iterable[Matter],
        segmenter: Segmenter,
        places: frozenset[str] = frozenset(),
        thresholds: Thresholds | None = None,
        outside: Iterable[str] = (),
    ) -> None:
        self.segmenter = segmenter
        self.places = frozenset(normalise(p) for p in places)
        self.thresholds = thresholds or Thresholds()
        self.matters: dict[str, Matter] = {m.id: m for m in matters}
        docs: dict[str, dict[str, float]] = {}
        fields: dict[tuple[str, str], set[str]] = defaultdict(set)
        examples: dict[tuple[str, str], str] = {}
        for matter in self.matters.values():
            doc: dict[str, float] = defaultdict(float)
            for field_name, text in _fields(matter):
                for feature in self.features(text):
                    doc[feature] += FIELD_WEIGHTS[field_name]
                    fields[(matter.id, feature)].add(field_name)
                    if field_name == "example":
                        examples.setdefault((matter.id, feature), text)
            docs[matter.id] = doc
        outside_doc: dict[str, float] = defaultdict(float)
        for text in outside:
            for feature in self.features(text):
                outside_doc[feature] += FIELD_WEIGHTS["example"]
                fields[(OUTSIDE, feature)].add("example")
                examples.setdefault((OUTSIDE, feature), text)
        if outside_doc:
            docs[OUTSIDE] = outside_doc
        self._n = len(docs) or 1
        self._length = {m: sum(doc.values()) for m, doc in docs.items()}
        self._avg_length = sum(self._length.values()) / self._n or 1.0
        df: Counter[str] = Counter(f for doc in docs.values() for f in doc)
        self._idf = {f: math.log(1 + (self._n - k + 0.5) / (k + 0.5)) for f, k in df.items()}
        self._postings: dict[str, list[_Posting]] = defaultdict(list)
        for matter_id, doc in docs.items():
            for feature, tf in doc.items():
                self._postings[feature].append(
                    _Posting(
                        matter_id,
                        tf,
                        tuple(f for f in FIELD_WEIGHTS if f in fields[(matter_id, feature)]),
                        examples.get((matter_id, feature)),
                    )
                )

    @property
    def vocabulary_size(self) -> int:
        return len(self._postings)

    def features(self, text: str) -> Counter[str]:
        """The text's features as the index sees them (place names dropped)."""
        return features(self.segmenter, normalise(text), self.places)

    def _weight(self, feature: str, tf: float, length: float) -> float:
        return self._idf[feature] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / self._avg_length))

    def _scores(
        self, text: str, on: date | None, leave_out: tuple[str, str] | None
    ) -> tuple[dict[str, float], dict[str, list[Evidence]]]:
        own: dict[str, float] = defaultdict(float)
        if leave_out is not None:
            own.update(dict.fromkeys(self.features(leave_out[1]), FIELD_WEIGHTS["example"]))
        scores: dict[str, float] = defaultdict(float)
        contributions: dict[str, list[Evidence]] = defaultdict(list)
        for feature, count in self.features(text).items():
            kind, term = feature.split(":", 1)
            factor = KIND_WEIGHTS[kind] * (1 + math.log(count))
            for posting in self._postings.get(feature, ()):
                matter = self.matters.get(posting.matter)
                if on is not None and matter is not None and not matter.in_force(on):
                    continue
                tf, length = posting.tf, self._length[posting.matter]
                if leave_out is not None and posting.matter == leave_out[0]:
                    tf -= own[feature]
                    length -= sum(own.values())
                    if tf <= 0:
                        continue
                gained = factor * self._weight(feature, tf, length)
                scores[posting.matter] += gained
                contributions[posting.matter].append(
                    Evidence(term, "word" if kind == "w" else "ngram", posting.fields, round(gained, 2), posting.example)
                )
        return scores, contributions

    def rank(self, text: str, on: date | None = None, leave_out: tuple[str, str] | None = None) -> list[Candidate]:
        """Every matter in force `on` that shares a feature with the text, best first.

        `leave_out=(matter_id, example)` scores as if that example were not in the policy:
        a measure of how well the rest of the list recognises it (bench/intake)."""
        scores, contributions = self._scores(text, on, leave_out)
        return self._candidates(scores, contributions)

    def _candidates(self, scores: dict[str, float], contributions: dict[str, list[Evidence]]) -> list[Candidate]:
        ranked = sorted(((m, s) for m, s in scores.items() if m != OUTSIDE), key=lambda item: (-item[1], item[0]))
        return [
            Candidate(
                matter_id,
                self.matters[matter_id].name,
                round(score, 2),
                tuple(sorted(contributions[matter_id], key=lambda e: (-e.score, e.term))[:EVIDENCE_LIMIT]),
            )
            for matter_id, score in ranked
        ]

    def classify(self, text: str, on: date | None = None, limit: int = 5) -> Classification:
        """The best candidates and how sure the first one is."""
        scores, contributions = self._scores(text, on, None)
        ranked = self._candidates(scores, contributions)
        return Classification(tuple(ranked[:limit]), *self.confidence(ranked, round(scores.get(OUTSIDE, 0.0), 2)))

    def confidence(self, ranked: list[Candidate], outside: float = 0.0) -> tuple[Confidence, str]:
        t = self.thresholds
        if not ranked:
            return Confidence.low, "未识别出清单事项: 诉求与清单中任何事项都没有共同的词"
        first = ranked[0].score
        if outside >= first:
            return Confidence.low, (
                f"未识别出清单事项: 更像清单外诉求(咨询、表扬等), 清单外示例得分 {outside:g} 不低于最高事项得分 {first:g}"
            )
        second = ranked[1].score if len(ranked) > 1 else 0.0
        if first < t.medium:
            return Confidence.low, f"未识别出清单事项: 最高得分 {first:g} 低于 {t.medium:g}"
        if first >= t.high and first >= t.margin * second:
            return Confidence.high, f"得分 {first:g}, 领先第二名 {second:g}"
        if first < t.high:
            return Confidence.medium, f"得分 {first:g} 低于 {t.high:g}, 需人工确认"
        return Confidence.medium, f"得分 {first:g} 与第二名 {second:g} 接近, 需人工确认"


def _fields(matter: Matter) -> Iterable[tuple[str, str]]:
    yield "name", matter.name
    for alias in matter.aliases:
        yield "alias", alias
    for example in matter.examples:
        yield "example", example
    for duty in matter.department_duties:
        yield "duty", duty


def policy_terms(matters: Iterable[Matter]) -> set[str]:
    """Words jieba must keep whole: matter names split at 和/、/quotes, and aliases."""
    terms: set[str] = set()
    for matter in matters:
        for text in (matter.name, *matter.aliases):
            for part in _split_name(text):
                if len(part) >= 2:
                    terms.add(part)
    return terms


def _split_name(text: str) -> list[str]:
    for sep in "和、()（）\"“”":
        text = text.replace(sep, "|")
    return [p for p in text.split("|") if p]
