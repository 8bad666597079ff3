"""Which attribute values does the text indicate? Cue words from the policy's vocabulary.

Each attribute value may list cues (site_type river ← 河道, 河滩, 江边). A cue counts where it
occurs in the normalised text, unless a negation comes just before it ("不是在河里"). When
cues for several values of one attribute occur, the value with the most cue characters wins
(ties: the earliest), and the others are reported as alternatives; for an int attribute the
highest value wins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.intake.text import normalise
from engine.policy.model import Attribute, AttributeType, Scalar

NEGATIONS = ("没有", "不是", "没", "无", "未", "不", "非")
NEGATION_WINDOW = 3  # characters before a cue searched for a negation


@dataclass(frozen=True)
class Inferred:
    attribute: str
    value: Scalar
    cue: str
    alternatives: tuple[Scalar, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.attribute, "value": self.value, "cue": self.cue}
        if self.alternatives:
            out["alternatives"] = list(self.alternatives)
        return out


@dataclass(frozen=True)
class _Cue:
    word: str  # normalised
    shown: str  # as written in the policy
    value: Scalar


class CueBook:
    """The cues of every attribute, ready to search."""

    def __init__(self, attributes: Iterable[Attribute]) -> None:
        self.attributes: dict[str, Attribute] = {a.id: a for a in attributes}
        self._cues: dict[str, list[_Cue]] = defaultdict(list)
        for attribute in self.attributes.values():
            for value, words in cue_table(attribute).items():
                for word in words:
                    self._cues[attribute.id].append(_Cue(normalise(word), word, value))

    @property
    def words(self) -> frozenset[str]:
        return frozenset(c.shown for cues in self._cues.values() for c in cues)

    def infer(self, text: str, attribute_ids: Iterable[str]) -> list[Inferred]:
        """The values the text indicates, for the given attributes, in their order."""
        normalised = normalise(text)
        found: list[Inferred] = []
        for attribute_id in attribute_ids:
            hits: dict[Scalar, list[tuple[int, str]]] = defaultdict(list)  # value -> (position, cue)
            for cue in self._cues.get(attribute_id, ()):
                start = normalised.find(cue.word)
                while start >= 0:
                    if not _negated(normalised, start):
                        hits[cue.value].append((start, cue.shown))
                        break
                    start = normalised.find(cue.word, start + 1)
            if not hits:
                continue
            attribute = self.attributes[attribute_id]
            if attribute.type is AttributeType.int or attribute.type is AttributeType.number:
                order = sorted(hits, key=lambda v: -float(v))
            else:
                order = sorted(hits, key=lambda v: (-sum(len(c) for _, c in hits[v]), min(p for p, _ in hits[v])))
            best = order[0]
            found.append(Inferred(attribute_id, best, min(hits[best])[1], tuple(order[1:])))
        return found


def cue_table(attribute: Attribute) -> Mapping[Scalar, tuple[str, ...]]:
    """value → cues, with values typed as a case carries them (bool, int, enum id)."""
    if attribute.type is AttributeType.enum:
        return {v.id: v.cues for v in attribute.values if v.cues}
    table: dict[Scalar, tuple[str, ...]] = {}
    for key, words in attribute.cues.items():
        if attribute.type is AttributeType.bool:
            table[key == "true"] = words
        elif attribute.type is AttributeType.int:
            table[int(key)] = words
        else:
            table[float(key)] = words
    return table


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - NEGATION_WINDOW) : start]
    return any(n in before for n in NEGATIONS)
