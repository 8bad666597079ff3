"""The session protocol of engine/rules/durable.py (docs/durable_rules.md §8): each decision's
fact replaces the previous one as the fixed session's state, in one `update_state` call.

What must hold: no decision sees anything of the one before it (every clause that holds fires,
nothing else), the session never holds more than one fact, and a failed decision leaves the
session clean for the next one.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from engine.analysis import space
from engine.errors import EngineFailure
from engine.lead.facts import build_fact
from engine.rules import durable
from engine.rules.durable import SID, DurableRules
from engine.rules.evaluate import PythonRules
from engine.runtime import Runtime


def _facts(runtime: Runtime, every: int = 7) -> list[tuple[str, dict[str, Any]]]:
    compiled = runtime.active.compiled
    return [
        (compiled.shard_of_matter[case.matter], build_fact(runtime.policy, case))
        for n, case in enumerate(space.cases(runtime.policy))
        if case.matter is not None and n % every == 0
    ]


def _session_facts(adapter: DurableRules, ruleset: str) -> list[dict[str, Any]]:
    handle = adapter._handles[ruleset][0]
    facts: list[dict[str, Any]] = json.loads(durable._c.get_facts(handle, SID))
    return facts


def test_each_decision_sees_only_its_own_fact(seed_runtime: Runtime) -> None:
    """Shuffled, so that consecutive facts on one session differ in every way the cases do:
    the hits are exactly the Python evaluator's, whatever came before."""
    compiled = seed_runtime.active.compiled
    adapter = DurableRules()
    names = adapter.register(compiled).names
    python = PythonRules(compiled)
    facts = _facts(seed_runtime)
    random.Random(17).shuffle(facts)
    empty = 0
    for shard, fact in facts:
        hits = adapter.fire(names[shard], fact)
        assert sorted(hits, key=python.order) == python.fire(shard, fact), fact  # each once, none missing
        empty += not hits
    assert len(facts) > 1000 and empty < len(facts)


def test_the_session_holds_the_last_fact_only(seed_runtime: Runtime) -> None:
    compiled = seed_runtime.active.compiled
    adapter = DurableRules()
    names = adapter.register(compiled).names
    shard, fact = next((s, f) for s, f in _facts(seed_runtime) if PythonRules(compiled).fire(s, f))
    for _ in range(50):
        assert adapter.fire(names[shard], fact)
    held = _session_facts(adapter, names[shard])
    assert len(held) == 1 and held[0]["matter"] == fact["matter"]


class _FailingOnce:
    """`durable_rules_engine` with one call failing once, as the C engine fails (an exception)."""

    def __init__(self, real: Any, failing: str) -> None:
        self._real, self._failing = real, failing

    def __getattr__(self, name: str) -> Any:
        if name == self._failing:
            self._failing = ""

            def fail(*_args: Any) -> Any:
                raise durable.durable_engine.durable_rules_engine.error("injected failure")

            return fail
        return getattr(self._real, name)


@pytest.mark.parametrize("failing", ["update_state", "start_action_for_state", "complete_and_start_action"])
def test_a_failed_decision_leaves_the_session_clean(seed_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    compiled = seed_runtime.active.compiled
    adapter = DurableRules()
    names = adapter.register(compiled).names
    python = PythonRules(compiled)
    facts = [(s, f) for s, f in _facts(seed_runtime, every=3) if len(python.fire(s, f)) >= 2]
    (shard, fact), (_, other) = facts[0], next((s, f) for s, f in facts[1:] if s == facts[0][0])
    adapter.fire(names[shard], other)  # the session holds a fact before the failure
    monkeypatch.setattr(durable, "_c", _FailingOnce(durable._c, failing))
    with pytest.raises(EngineFailure):
        adapter.fire(names[shard], fact)
    # the next decisions on the same session are exactly right, and nothing is left pending
    assert sorted(adapter.fire(names[shard], fact), key=python.order) == python.fire(shard, fact)
    assert sorted(adapter.fire(names[shard], other), key=python.order) == python.fire(shard, other)
    assert len(_session_facts(adapter, names[shard])) == 1


def test_unregister_frees_a_session_that_holds_a_fact(seed_runtime: Runtime) -> None:
    compiled = seed_runtime.active.compiled
    adapter = DurableRules()
    for _ in range(5):
        registration = adapter.register(compiled)
        for shard, fact in _facts(seed_runtime, every=97):
            adapter.fire(registration.names[shard], fact)
        adapter.unregister(registration)
        with pytest.raises(EngineFailure, match="not registered"):
            adapter.fire(next(iter(registration.names.values())), {})
    names = adapter.register(compiled).names
    python = PythonRules(compiled)
    for shard, fact in _facts(seed_runtime, every=97):
        assert sorted(adapter.fire(names[shard], fact), key=python.order) == python.fire(shard, fact)
