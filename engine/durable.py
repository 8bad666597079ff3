"""The only module that talks to durable_rules.

The safe pattern (research/durable_rules.md, "Recommended pattern"):
- one Host for the process, with its timer threads switched off (they steal actions);
- every decision asserts one fact on one fixed sid with an explicit id, collects the
  fired rule names in Python, then retracts the fact (no per-case sids: `delete_state`
  corrupts the heap and live sids are capped at 1,024);
- one lock around each decision and each (un)registration: the C extension is not
  thread-safe between its calls;
- each policy version is registered under its own ruleset names (no in-place update).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from durable import engine as durable_engine

from engine.compile import CompiledPolicy
from engine.errors import EngineFailure

SID = "tk"


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A Host without the two background timer loops.

    # NOTE: the default Host runs `threading.Timer` loops that may take a pending action on
    # their own thread; the caller then sees an incomplete set of fired rules.
    """

    def _run(self) -> None:
        return None


@dataclass(frozen=True)
class Registration:
    """The ruleset names under which one compiled policy version lives in the Host."""

    generation: int
    names: dict[str, str]  # shard → registered ruleset name


class DurableRules:
    """Registers compiled policies and evaluates facts against them."""

    def __init__(self) -> None:
        self._host = _QuietHost()
        self._lock = threading.Lock()
        self._generations = itertools.count(1)
        self._fact_ids = itertools.count(1)
        self._hits: list[str] = []

    def _action(self, rule_name: str) -> Callable[[Any], None]:
        hits = self._hits

        def fired(_closure: Any) -> None:
            hits.append(rule_name)

        return fired

    def register(self, compiled: CompiledPolicy) -> Registration:
        """Create one ruleset per shard, named after the policy digest and a generation."""
        generation = next(self._generations)
        stem = f"tk{generation}_{compiled.policy.digest[:12]}"
        names = {shard: f"{stem}_{shard}" for shard in compiled.shards}
        definitions: dict[str, dict[str, Any]] = {}
        for shard, rules in compiled.shards.items():
            # durable_rules deletes `run` from the dict it is given: pass fresh copies.
            definitions[names[shard]] = {
                rule_name: {**definition, "run": self._action(rule_name)}
                for rule_name, definition in rules.items()
            }
        with self._lock:
            try:
                self._host.register_rulesets(definitions)
            except Exception as exc:
                self._forget(list(definitions))
                raise EngineFailure(f"durable_rules refused the policy: {exc}") from exc
        return Registration(generation, names)

    def unregister(self, registration: Registration) -> None:
        """Drop a version's rulesets. Its fixed sid holds no facts, so nothing is lost."""
        with self._lock:
            self._forget(list(registration.names.values()))

    def _forget(self, names: list[str]) -> None:
        directory = self._host._ruleset_directory
        for name in names:
            ruleset = directory.pop(name, None)
            if ruleset is None:
                continue
            self._host._ruleset_list.remove(ruleset)
            durable_engine.durable_rules_engine.delete_ruleset(ruleset._handle)

    def fire(self, ruleset: str, fact: dict[str, Any]) -> list[str]:
        """Assert `fact`, return the names of every rule that fired, retract the fact."""
        with self._lock:
            fact_id = str(next(self._fact_ids))
            message = {**fact, "sid": SID, "id": fact_id, "decision_id": fact_id}
            self._hits.clear()
            try:
                state = self._host.assert_fact(ruleset, message)
            except durable_engine.MessageNotHandledException:
                return []  # nothing matched: the engine kept nothing
            except Exception as exc:
                raise EngineFailure(f"durable_rules failed: {exc}") from exc
            hits = list(self._hits)
            try:
                self._host.retract_fact(ruleset, {"sid": SID, "id": fact_id})
            except durable_engine.MessageNotHandledException:
                pass
            if isinstance(state, dict) and "exception" in state:
                error = state.pop("exception")
                self._host.update_state(ruleset, state)
                raise EngineFailure(f"a rule action failed: {error}")
            return hits
