"""Admission reviews on durable_rules without a whole Runtime.

`Runtime.review` fires the active policy's criteria ruleset in the process's durable_rules Host.
`Reviewer` does the same with only that ruleset registered: no lead rules compiled, no intake
index built, no activation gate run. Review tests that need nothing else use it, so a session
that runs them (each mutant of `make mutation` runs in a fresh one) starts in a fraction of a
second; the Runtime's own review path stays covered by tests/engine/admission/test_review.py,
the HTTP tests and the features.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from engine.admission.review import CRITERIA_SHARD, Proposal, Review, compile_criteria, review
from engine.policy.index import Policy
from engine.rules.durable import Registration, shared_adapter


class Reviewer:
    """Reviews proposals against `policy`'s criteria, registered once for the session (as
    tests/conftest.py keeps its Runtimes): unregistering one in a fixture's teardown crashed
    the process inside durable_rules under `make mutation` (delete_state, engine/rules/durable.py)."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._adapter = shared_adapter()
        compiled = compile_criteria(policy)
        self._registration: Registration | None = self._adapter.register(compiled) if compiled is not None else None

    def _fire(self, fact: dict[str, Any]) -> list[str]:
        if self._registration is None:
            return []
        return self._adapter.fire(self._registration.names[CRITERIA_SHARD], fact)

    def __call__(self, proposal: Proposal, **changes: Any) -> Review:
        return review(dataclasses.replace(proposal, **changes), self.policy, self._fire)

