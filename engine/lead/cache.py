"""The decision cache: a bounded map from a normalised case to its frozen Decision.

One cache belongs to one active policy (engine.runtime), so the policy digest is part of
every key by construction: a reload starts an empty cache. The key is the case without
its `reference` (the caller's ticket number does not change who leads); a hit is returned
with the caller's reference put back. Only decisions are cached, never errors, so a case
the policy rejects is checked again every time.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date

from engine.lead.decision import Case, Decision

DEFAULT_CACHE_SIZE = 10_000

CaseKey = tuple[str, str | None, date, tuple[tuple[str, str, object], ...]]


def cache_key(case: Case) -> CaseKey:
    """The case as a hashable key. Value types are part of it: `True` and `1` hash alike,
    but `permit: 1` is a wrong_type error while `permit: true` is a decision."""
    attributes = tuple(sorted((k, type(v).__name__, v) for k, v in case.attributes.items()))
    return (case.township, case.matter, case.as_of, attributes)


class DecisionCache:
    """A bounded first-in-first-out cache; `size` 0 disables it.

    Safe to share between threads without a lock: each operation is one dict call, which
    the GIL makes atomic; at worst two threads evaluate the same new case once each.
    FIFO rather than LRU keeps a hit to one dict lookup (no reordering on read).
    """

    def __init__(self, size: int = DEFAULT_CACHE_SIZE) -> None:
        self.size = size
        self._entries: dict[Hashable, Decision] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Decision | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: Hashable, decision: Decision) -> None:
        if self.size <= 0:
            return
        entries = self._entries
        while len(entries) >= self.size:
            try:
                entries.pop(next(iter(entries)), None)
            except (StopIteration, RuntimeError):  # emptied or resized by another thread
                break
        entries[key] = decision

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> dict[str, int]:
        return {"size": self.size, "entries": len(self._entries), "hits": self.hits, "misses": self.misses}
