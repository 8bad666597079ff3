"""A lead request in words → the case to decide, and the `intake` block that says how.

Explicit ids and attributes always win: `matter` over the text, `township` over `place` over
the text, a given attribute over any cue. A confident match is decided; a medium one is
decided and marked `needs_confirmation` with the alternatives; a weak one, or a text that
names no matter, is dispatched to the centre with the candidates and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from engine.errors import CaseError, ErrorCode
from engine.intake.cues import CueBook
from engine.intake.matcher import Candidate, Classification, Confidence, Matcher, Thresholds, policy_terms
from engine.intake.places import Gazetteer, PlaceLookup
from engine.intake.text import Segmenter, has_words
from engine.policy.index import Policy
from engine.policy.model import Scalar

MAX_TEXT_CHARS = 2000  # a 12345 ticket is a few hundred characters; longer is an export, not a ticket
RUNNERS_UP = 3


@dataclass(frozen=True)
class Interpretation:
    """The case intake hands to the engine, and what it did to get there."""

    matter: str | None  # None: dispatch
    township: str
    attributes: Mapping[str, Scalar]
    block: Mapping[str, object] = field(compare=False)


class Intake:
    """Everything intake knows, built from one policy at load (see `build`)."""

    def __init__(self, policy: Policy, thresholds: Thresholds | None = None) -> None:
        self.policy = policy
        county = division_words(policy.manifest.jurisdiction or "")
        self.gazetteer = Gazetteer(policy.townships(), county_names=county)
        self.cues = CueBook(policy.attributes.values())
        terms = policy_terms(policy.matters.values()) | self.gazetteer.words | self.cues.words | county
        self.segmenter = Segmenter(terms)
        self.matcher = Matcher(
            policy.matters.values(), self.segmenter, self.gazetteer.words | county, thresholds or Thresholds(),
            outside=policy.manifest.dispatch.examples,
        )

    # --- the pieces, for classify, search and check ----------------------------------------------

    def classify(self, text: str, on: date | None = None, limit: int = 5) -> Classification:
        return self.matcher.classify(check_text(text), on, limit)

    def search(self, query: str, on: date | None = None) -> list[Candidate]:
        """The list's search (API and web): matters by the same ranking as intake."""
        if not has_words(query):
            return []
        return self.matcher.rank(query[:MAX_TEXT_CHARS], on)

    def place(self, text: str, *, field: bool) -> PlaceLookup:
        return self.gazetteer.lookup(text, field=field)

    # --- a lead request ------------------------------------------------------------------------

    def interpret(
        self,
        *,
        text: str | None,
        place: str | None,
        matter: str | None,
        township: str | None,
        attributes: Mapping[str, Scalar],
        on: date,
    ) -> Interpretation:
        block: dict[str, object] = {}
        if text is not None:
            text = check_text(text)
            block["text"] = text
        township_id, township_block = self._township(text, place, township)
        block["township"] = township_block
        classification: Classification | None = None
        if matter is None and text is not None:
            classification = self.matcher.classify(text, on, limit=RUNNERS_UP + 1)
            block["confidence"] = classification.confidence.value
            block["reason"] = classification.reason
            best = classification.best
            if best is not None and classification.confidence is not Confidence.low:
                matter = best.id
                block["matter"] = {"id": best.id, "name": best.name, "score": best.score, "source": "text"}
                block["needs_confirmation"] = classification.confidence is Confidence.medium
                block["runners_up"] = [c.to_dict() for c in classification.candidates[1:]]
                block["evidence"] = [e.to_dict() for e in best.evidence]
            else:
                block["matter"] = None
                block["needs_confirmation"] = False
                block["candidates"] = [c.to_dict() for c in classification.candidates]
        elif matter is not None:
            known = self.policy.matters.get(matter)
            block["matter"] = {"id": matter, "name": known.name if known else None, "source": "request"}
            block["needs_confirmation"] = False
        merged = dict(attributes)
        inferred_block: list[dict[str, object]] = []
        known_matter = self.policy.matters.get(matter) if matter is not None else None
        if text is not None and known_matter is not None:
            for inferred in self.cues.infer(text, known_matter.attributes):
                entry = inferred.to_dict()
                if inferred.attribute in attributes:
                    entry["overridden_by"] = "request"
                else:
                    merged[inferred.attribute] = inferred.value
                inferred_block.append(entry)
                if inferred.alternatives and classification is not None and "overridden_by" not in entry:
                    block["needs_confirmation"] = True
        if text is not None:
            block["attributes"] = inferred_block
        return Interpretation(matter, township_id, merged, block)

    def _township(self, text: str | None, place: str | None, township: str | None) -> tuple[str, dict[str, object]]:
        if township is not None:
            return township, {"id": township, "name": self._name(township), "via": "township"}
        if place is not None:
            if not place.strip():
                raise CaseError(ErrorCode.PLACE_UNKNOWN, "`place` is empty", field="place",
                                  hint="give a township, street, village or address in 衢江区")
            return self._resolve(self.gazetteer.lookup(place, field=True), place, "place")
        if text is not None:
            lookup = self.gazetteer.lookup(text, field=False)
            if lookup.matches or lookup.outside:
                return self._resolve(lookup, text, "text")
        raise CaseError(
            ErrorCode.MISSING_FIELD,
            "no township: give `township` (an id), `place` (a name or address), or name the township in `text`",
            field="township",
            hint="GET /v1/organizations?kind=township lists them; villages and aliases are accepted in `place`",
        )

    def _resolve(self, lookup: PlaceLookup, said: str, via: str) -> tuple[str, dict[str, object]]:
        field_name = "place" if via == "place" else "text"
        townships = lookup.townships
        if len(townships) > 1:
            names = [self._name(t) or t for t in townships]
            raise CaseError(
                ErrorCode.PLACE_AMBIGUOUS,
                f"`{said[:50]}` names {len(names)} townships: {'、'.join(names)}",
                field=field_name,
                hint="give `township` as the one that leads; for a site that spans both, add "
                "attributes cross_township=true and other_township",
                extra={"candidates": [{"id": t, "name": self._name(t)} for t in townships]},
            )
        if not townships:
            nearest = self.gazetteer.nearest(said)
            if lookup.outside:
                raise CaseError(
                    ErrorCode.PLACE_OUTSIDE_COUNTY,
                    f"`{lookup.outside}` is outside {self.policy.manifest.jurisdiction or 'the county'}",
                    field=field_name,
                    hint=f"nearest names here: {'、'.join(nearest)}" if nearest else None,
                    extra={"nearest": nearest},
                )
            raise CaseError(
                ErrorCode.PLACE_UNKNOWN,
                f"`{said[:50]}` names no township, street, village or community of the policy",
                field=field_name,
                hint=f"nearest names: {'、'.join(nearest)}" if nearest else None,
                extra={"nearest": nearest},
            )
        # the most specific name found says most about where: a village over the township's name
        specificity = {"village": 0, "community": 0, "name": 1, "alias": 2}
        match = min((m for m in lookup.matches if m.township == townships[0]), key=lambda m: specificity.get(m.via, 3))
        return townships[0], {
            "id": townships[0],
            "name": self._name(townships[0]),
            "via": via,
            "matched": match.matched,
            "kind": match.via,
        }

    def _name(self, org_id: str) -> str | None:
        org = self.policy.organizations.get(org_id)
        return org.name if org else None


def division_words(jurisdiction: str) -> frozenset[str]:
    """"浙江省衢州市衢江区" → its divisions with and without their suffix (浙江省, 浙江, 衢州市, 衢州, …):
    words that say where the county is, not which matter or township."""
    words: set[str] = set()
    for part in re.findall(r"[^省市区县]+[省市区县]", jurisdiction):
        words.add(part)
        if len(part) > 2:
            words.add(part[:-1])
    return frozenset(words)


def check_text(text: str) -> str:
    """The text as intake reads it, or an IntakeError saying why it cannot be read."""
    if not text.strip():
        raise CaseError(ErrorCode.TEXT_EMPTY, "`text` is empty", field="text",
                          hint="give the ticket's words, e.g. 河道里有人偷挖河沙")
    if len(text) > MAX_TEXT_CHARS:
        raise CaseError(ErrorCode.TEXT_TOO_LONG, f"`text` has {len(text)} characters, more than {MAX_TEXT_CHARS}",
                          field="text", hint="send the ticket's summary (诉求内容), not the whole record")
    if not has_words(text):
        raise CaseError(ErrorCode.TEXT_UNREADABLE, "`text` has no words, only punctuation, symbols or emoji",
                          field="text", hint="give the ticket's words")
    return text.strip()

