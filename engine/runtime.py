"""The active policy of a running process: load, activate, decide, reload.

One `Runtime` per process holds the durable_rules adapter and the active compiled policy.
Activation is all-or-nothing: a policy that fails to load, validate, check (the fast checks
of `engine.analysis.check.gate`), compile or register raises and the previous one keeps serving.

Each active policy has its own decision cache (engine.lead.cache): a case seen before under the
same policy digest is answered without durable_rules; every other case is evaluated by it.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.admission.review import CRITERIA_SHARD, Proposal, Review, compile_criteria, review
from engine.analysis.check import gate
from engine.errors import EngineFailure
from engine.lead.cache import DEFAULT_CACHE_SIZE, DecisionCache, cache_key
from engine.lead.decide import decide
from engine.lead.decision import Case, Decision
from engine.policy.index import Policy
from engine.policy.load import load_policy, policy_from_files
from engine.rules.compile import CompiledPolicy, compile_policy
from engine.rules.durable import DurableRules, Registration, shared_adapter


@dataclass(frozen=True)
class Active:
    compiled: CompiledPolicy
    registration: Registration
    loaded_at: datetime
    source: str
    criteria: Registration | None = None  # grid admission criteria: a ruleset of their own
    cache: DecisionCache = field(default_factory=DecisionCache, compare=False)

    @property
    def policy(self) -> Policy:
        return self.compiled.policy


class Runtime:
    """Serves decisions from the active policy; swaps policies atomically."""

    def __init__(self, active: Active, adapter: DurableRules, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._adapter = adapter
        self._swap = threading.Lock()
        self._retired: Registration | None = None
        self._retired_criteria: Registration | None = None
        self.reload_lock = threading.Lock()  # one reload at a time (engine.reload)
        self.cache_size = cache_size
        self._active = dataclasses.replace(active, cache=DecisionCache(cache_size))

    @classmethod
    def from_dir(cls, path: Path | str, cache_size: int = DEFAULT_CACHE_SIZE) -> Runtime:
        adapter = shared_adapter()
        return cls(activate(load_policy(path), adapter, str(path)), adapter, cache_size)

    @classmethod
    def from_files(cls, files: dict[str, str], source: str = "<files>", cache_size: int = DEFAULT_CACHE_SIZE) -> Runtime:
        adapter = shared_adapter()
        return cls(activate(policy_from_files(files), adapter, source), adapter, cache_size)

    @property
    def active(self) -> Active:
        return self._active

    @property
    def policy(self) -> Policy:
        return self._active.policy

    def decide(self, case: Case) -> Decision:
        """Decide `case` under the active policy (from its cache when the same case was seen)."""
        active = self._active  # one read: a concurrent swap cannot split a decision
        key = cache_key(case)
        cached = active.cache.get(key)
        if cached is not None:
            return cached.with_reference(case.reference)
        try:
            decision = self._evaluate(active, case)
        except EngineFailure:
            if self._active is active:
                raise
            # NOTE: this decision read a policy that was replaced twice while it ran, so
            # its rulesets are gone; the answer comes from the policy now active.
            active = self._active
            decision = self._evaluate(active, case)
        active.cache.put(key, decision)
        return decision

    def decide_uncached(self, case: Case) -> Decision:
        """Decide `case` with durable_rules, bypassing the cache (benchmarks, differential tests)."""
        return self._evaluate(self._active, case)

    def _evaluate(self, active: Active, case: Case) -> Decision:
        names = active.registration.names

        def fire(shard: str, fact: dict[str, Any]) -> list[str]:
            return self._adapter.fire(names[shard], fact)

        return decide(case, active.compiled, fire)

    def review(self, proposal: Proposal) -> Review:
        """Review a grid task proposal against the active policy's admission criteria."""
        active = self._active
        criteria = active.criteria

        def fire(fact: dict[str, Any]) -> list[str]:
            return [] if criteria is None else self._adapter.fire(criteria.names[CRITERIA_SHARD], fact)

        return review(proposal, active.policy, fire)

    def swap(self, policy: Policy, source: str) -> Active:
        """Activate `policy`. The replaced version stays registered until the next swap.

        # NOTE: a decision that read the old `Active` just before the swap may still be
        # firing its rulesets; dropping them one swap later lets it finish.
        """
        with self._swap:
            new = dataclasses.replace(activate(policy, self._adapter, source), cache=DecisionCache(self.cache_size))
            old, self._active = self._active, new
            if self._retired is not None:
                self._adapter.unregister(self._retired)
            self._retired = old.registration
            if self._retired_criteria is not None:
                self._adapter.unregister(self._retired_criteria)
            self._retired_criteria = old.criteria
        return new


def activate(policy: Policy, adapter: DurableRules, source: str) -> Active:
    """Check, compile and register `policy`; raise PolicyError (nothing registered) on errors."""
    gate(policy)  # engine.analysis.check's fast checks: every error kind, milliseconds, no enumeration
    compiled = compile_policy(policy)
    registration = adapter.register(compiled)
    criteria = None
    compiled_criteria = compile_criteria(policy)
    if compiled_criteria is not None:
        try:
            criteria = adapter.register(compiled_criteria)
        except Exception:
            adapter.unregister(registration)  # all or nothing: the previous policy keeps serving
            raise
    return Active(compiled, registration, datetime.now(UTC), source, criteria)
