"""What a signed checkpoint covers in one database: every hash chain it holds.

The decision log keeps one chain per jurisdiction (`decisions:<policy id>`) and the case
events one more (`case_events`). A checkpoint that signed only the newest record would
leave every other chain free to be rewritten and re-chained unseen, so each checkpoint
signs each chain's (records, last hash), and `tiaokuai audit verify` checks them all.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.cases.store import CaseStore
from engine.log.checkpoint import Chain, Heads
from engine.log.store import DecisionLog

DECISIONS = "decisions:"
CASE_EVENTS = "case_events"


class Anchors:
    """The chains of one database, as checkpoints sign and verify them."""

    def __init__(self, log: DecisionLog, events: CaseStore) -> None:
        self.log, self.events = log, events

    def heads(self) -> Heads:
        count, head = self.log.head()
        chains: list[Chain] = [(DECISIONS + policy_id, n, last) for policy_id, (n, last) in self.log.chain_heads().items()]
        events, last_event = self.events.head()
        if events:
            chains.append((CASE_EVENTS, events, last_event))
        return Heads(count, head, tuple(sorted(chains)))

    def hash_at(self, chain: str, n: int) -> str | None:
        """The hash of the n-th record (from 1) of a chain; None if it has none there."""
        if chain == CASE_EVENTS:
            return self.events.hash_at(n)
        if chain.startswith(DECISIONS):
            return self.log.chain_hash_at(chain.removeprefix(DECISIONS), n)
        return None

    @staticmethod
    def lengths(decision_chains: Mapping[str, int], events: int) -> dict[str, int]:
        """The records each chain holds, from a walk of the log (`Verification.chains`) and of the events."""
        return {**{DECISIONS + policy_id: n for policy_id, n in decision_chains.items()}, CASE_EVENTS: events}
