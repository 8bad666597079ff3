"""Intake: from a ticket's words and place to the case the engine decides.

The matcher ranks the list's matters against a text (BM25 over names, aliases, examples and
duties, jieba words plus character bigrams, every candidate with its evidence); the gazetteer
finds the township from a place or the text; the cue book infers attribute values. All three
are built from the policy alone when it is loaded (`intake_for`), so they can never drift from
the list, and are rebuilt with every new policy.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from engine.intake.cues import CueBook, Inferred, cue_table
from engine.intake.interpret import MAX_TEXT_CHARS, Intake, Interpretation, check_text
from engine.intake.matcher import Candidate, Classification, Confidence, Evidence, Matcher, Thresholds
from engine.intake.places import Gazetteer, PlaceLookup, PlaceMatch
from engine.policy.index import Policy

__all__ = [
    "MAX_TEXT_CHARS",
    "Candidate",
    "Classification",
    "Confidence",
    "CueBook",
    "Evidence",
    "Gazetteer",
    "Inferred",
    "Intake",
    "Interpretation",
    "Matcher",
    "PlaceLookup",
    "PlaceMatch",
    "Thresholds",
    "check_text",
    "cue_table",
    "intake_for",
]

_CACHE: OrderedDict[str, Intake] = OrderedDict()
_CACHE_SIZE = 4  # the active policy, the one being reloaded, and a few replayed ones
_lock = threading.Lock()


def intake_for(policy: Policy) -> Intake:
    """The intake of a policy, built once per policy digest (the same files give the same intake)."""
    with _lock:
        found = _CACHE.get(policy.digest)
        if found is not None:
            _CACHE.move_to_end(policy.digest)
            return found
    built = Intake(policy)
    with _lock:
        _CACHE[policy.digest] = built
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return built
