"""The only module that talks to durable_rules.

The safe pattern (docs/durable_rules.md, "The safe pattern"):
- one Host for the process, with its timer threads switched off (they steal actions);
- every decision puts one fact on one fixed sid with an explicit id and collects the fired
  rule names in Python; the fact is the session's state, so the next decision's fact
  replaces it and the session holds one fact at most (§8; no per-case sids: `delete_state`
  corrupts the heap and live sids are capped at 1,024);
- one lock around each decision and each (un)registration: the C extension is not
  thread-safe between its calls;
- each policy version is registered under its own ruleset names (no in-place update).

Deciding talks to the C engine directly (`update_state`, `start_action_for_state`,
`complete_and_start_action`) instead of through `Host.assert_fact`: the Rete network
evaluates exactly the same, but the Python glue around it (a Closure, a Promise, a JSON
round trip of the session state and an `update_state` per fired rule) cost ~70 % of a
decision (bench/results.md, profile). The rule actions are never run; the fired rule's
name is read from the action the engine hands out.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from durable import engine as durable_engine

from engine.errors import EngineFailure
from engine.policy.collector import collector_paused
from engine.rules.compile import CompiledPolicy, Fire

SID = "tk"
# The state message the engine itself creates for a new session: it carries no
# `decision_id`, so no guarded rule matches it (§5). A session is reset to it before its
# ruleset is deleted and after a failed decision.
EMPTY_STATE = '{"sid":"tk","id":"sid-tk","$s":1}'


def _encode(message: dict[str, Any], fact: dict[str, Any]) -> str:
    """`message` (the session keys, then `fact`'s properties) as the JSON text the C engine reads.

    # NOTE: orjson, not json: ~5x faster on every cache miss (bench/results.md). Where the
    # two differ, json decides: orjson writes NaN and infinities as null (json refuses
    # them, and so must we) and has no integers beyond 64 bits (json writes them).
    """
    try:
        text: str = orjson.dumps(message).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if "null" in text:  # a None, or a non-finite float orjson wrote as null
        for value in fact.values():
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{value} is not a JSON value")
    return text


_SESSION_KEYS = frozenset({"sid", "id", "decision_id"})
_OPERATORS = frozenset({"$ex", "$nex", "$neq", "$lt", "$lte", "$gt", "$gte"})


def properties_tested(rules: dict[str, dict[str, Any]]) -> tuple[str, ...] | None:
    """The fact properties the rules of one ruleset test, or None when a condition uses a
    form this reading does not know (then the whole fact is sent).

    A property no rule tests cannot change which rules fire: it is left out of the message,
    so the C engine parses, stores and echoes less (docs/durable_rules.md §1).
    """
    keys: set[str] = set()

    def walk(term: Any) -> bool:
        if not isinstance(term, dict) or len(term) != 1:
            return False
        ((op, arg),) = term.items()
        if op in ("$and", "$or"):
            return isinstance(arg, list) and all(walk(t) for t in arg)
        if op in _OPERATORS:
            if not isinstance(arg, dict) or len(arg) != 1:
                return False
            ((key, value),) = arg.items()
            op, arg = key, value
        if op.startswith("$") or "." in op or isinstance(arg, dict | list):
            return False  # an operator, a nested path or an expression this reading does not know
        keys.add(op)
        return True

    for rule in rules.values():
        conditions = rule.get("all")
        if set(rule) - {"all", "run", "pri"} or not isinstance(conditions, list):
            return None
        for condition in conditions:
            if not isinstance(condition, dict) or set(condition) != {"m"} or not walk(condition["m"]):
                return None
    return tuple(sorted(keys - _SESSION_KEYS))


_c = durable_engine.durable_rules_engine


def _never_run(_closure: Any) -> None:
    """The action every rule is registered with; `fire` completes actions without running them."""


class _QuietHost(durable_engine.Host):  # type: ignore[misc]
    """A Host without the two background timer loops.

    # NOTE: the default Host runs `threading.Timer` loops that may take a pending action on
    # their own thread; the caller then sees an incomplete set of fired rules.
    """

    def _run(self) -> None:
        return None


@dataclass(frozen=True)
class Registration:
    """The ruleset names under which one compiled policy version lives in the Host, and
    `fire(shard, fact)` over them (what `engine.lead.decide.decide` takes)."""

    generation: int
    names: dict[str, str]  # shard → registered ruleset name
    fire: Fire = field(compare=False, repr=False)


class DurableRules:
    """Registers compiled policies and evaluates facts against them."""

    def __init__(self, whole_facts: bool = False) -> None:
        # `whole_facts`: send every property of a fact, tested or not (bench/engine.py's row
        # for the adapter before `properties_tested`); decisions are the same either way.
        self._whole_facts = whole_facts
        self._host = _QuietHost()
        self._lock = threading.Lock()
        self._generations = itertools.count(1)
        self._fact_ids = itertools.count(1)
        # ruleset name → C handle, its rule names (each mapped to itself: the fired names
        # handed out are the definitions' own string objects), the fact properties its rules test
        self._handles: dict[str, tuple[int, dict[str, str], tuple[str, ...] | None]] = {}

    def register(self, compiled: CompiledPolicy) -> Registration:
        """Create one ruleset per shard, named after the policy digest and a generation.

        # NOTE: collection is paused as while loading (engine.policy.collector): the copies of
        # the definitions and durable_rules' Python objects for them all live on, and each full
        # collection meanwhile walked the whole policy again (bench/results.md, load: register).
        """
        with collector_paused():
            return self._register(compiled)

    def _register(self, compiled: CompiledPolicy) -> Registration:
        generation = next(self._generations)
        stem = f"tk{generation}_{compiled.policy.digest[:12]}"
        names = {shard: f"{stem}_{shard}" for shard in compiled.shards}
        definitions: dict[str, dict[str, Any]] = {}
        for shard, rules in compiled.shards.items():
            # durable_rules deletes `run` from the dict it is given: pass fresh copies.
            definitions[names[shard]] = {
                rule_name: {**definition, "run": _never_run}
                for rule_name, definition in rules.items()
            }
        with self._lock:
            try:
                self._host.register_rulesets(definitions)
            except Exception as exc:
                self._forget(list(definitions))
                raise EngineFailure(f"durable_rules refused the policy: {exc}") from exc
            for name, rules in definitions.items():
                handle = self._host._ruleset_directory[name]._handle
                tested = None if self._whole_facts else properties_tested(rules)
                self._handles[name] = (handle, {rule: rule for rule in rules}, tested)
        def fire_shard(shard: str, fact: dict[str, Any]) -> list[str]:
            # made once per registration, not per decision (a closure per call cost ~0.5 µs)
            return self.fire(names[shard], fact)

        return Registration(generation, names, fire_shard)

    def unregister(self, registration: Registration) -> None:
        """Drop a version's rulesets. Its fixed sid holds no facts, so nothing is lost."""
        with self._lock:
            self._forget(list(registration.names.values()))

    def _forget(self, names: list[str]) -> None:
        directory = self._host._ruleset_directory
        for name in names:
            self._handles.pop(name, None)
            ruleset = directory.pop(name, None)
            if ruleset is None:
                continue
            self._host._ruleset_list.remove(ruleset)
            self._free_session(ruleset._handle)
            _c.delete_ruleset(ruleset._handle)

    @staticmethod
    def _free_session(handle: int) -> None:
        """Free the fixed session's state of a ruleset that is about to be deleted.

        # NOTE: `delete_ruleset` frees the ruleset's pools but not what its sessions
        # allocated (their Rete frame pools: ~165 KB per shard of the seed policy), so
        # every reload leaked ~2 MB. `delete_state` frees them. It is called once per
        # ruleset, right before the ruleset goes, on a session first reset to the empty
        # state (it then holds no case fact, as when this was measured): not the
        # per-decision `delete_state` that corrupts the heap (docs/durable_rules.md §2, §8).
        """
        try:
            _c.get_state(handle, SID)
        except Exception:  # noqa: BLE001 - never used for a decision: no session to free
            return
        try:
            _c.update_state(handle, EMPTY_STATE)
            _c.delete_state(handle, SID)
        except Exception:  # noqa: BLE001 - the ruleset goes anyway; at worst its frames leak
            pass

    def fire(self, ruleset: str, fact: dict[str, Any]) -> list[str]:
        """Evaluate `fact`, return the names of every rule that fired (in firing order).

        The fact becomes the fixed session's state: `update_state` removes the previous
        decision's fact and asserts this one in one call (docs/durable_rules.md §8), so the
        session holds one fact at most. Raises EngineFailure when the ruleset is not
        registered or the engine reports an error; the session is then reset to its empty
        state, so a failed decision leaves nothing behind.
        """
        with self._lock:
            entry = self._handles.get(ruleset)
            if entry is None:
                raise EngineFailure(f"ruleset `{ruleset}` is not registered")
            handle, rule_names, tested = entry
            fact_id = str(next(self._fact_ids))
            message: dict[str, Any] = {"sid": SID, "id": fact_id, "decision_id": fact_id}
            if tested is not None:
                for key in tested:
                    if key in fact:
                        message[key] = fact[key]
            else:
                message.update((key, value) for key, value in fact.items() if key not in _SESSION_KEYS)
            try:
                text = _encode(message, fact)
            except (TypeError, ValueError) as exc:  # only JSON scalars may reach the engine
                raise EngineFailure(f"fact is not plain JSON: {exc}") from exc
            hits: list[str] = []
            state = None
            try:
                state = _c.update_state(handle, text)
                started = _c.start_action_for_state(handle, state)
                action: str | None = started[1] if started is not None else None
                while action is not None:
                    # The action is `{"<rule name>": {...}}`; rule names are ids (no quotes), so
                    # the name is read without decoding the echoed fact. Anything else is decoded.
                    name = rule_names.get(action[2 : action.find('"', 2)])
                    hits.append(name if name is not None else next(iter(json.loads(action))))
                    action = _c.complete_and_start_action(handle, state)
            except Exception as exc:
                if state is not None:
                    _c.abandon_action(handle, state)  # release the session's action lease
                self._reset(handle)
                raise EngineFailure(f"durable_rules failed: {exc}") from exc
            return hits

    @staticmethod
    def _reset(handle: int) -> None:
        """Replace the session's fact by the empty state after a failed decision.

        # NOTE: an action abandoned mid-dispatch is not deleted with its fact: the engine
        # hands it out again, and while it is handed out (a 30 s lease) the session would
        # answer every later decision with no hits at all. So whatever the engine still
        # hands out is completed here, which deletes it, and reported: the session is
        # clean again before the lock is released.
        """
        stale = 0
        try:
            state = _c.update_state(handle, EMPTY_STATE)
            started = _c.start_action_for_state(handle, state)
            action = started[1] if started is not None else None
            while action is not None:
                stale += 1
                action = _c.complete_and_start_action(handle, state)
        except Exception as exc:
            raise EngineFailure(f"durable_rules could not reset its session: {exc}") from exc
        if stale:
            raise EngineFailure(f"durable_rules still held {stale} action(s) of a failed decision; cleared")


_adapter: DurableRules | None = None
_adapter_lock = threading.Lock()


def shared_adapter() -> DurableRules:
    """The process's single durable_rules Host (one per process, never per request)."""
    global _adapter
    with _adapter_lock:
        if _adapter is None:
            _adapter = DurableRules()
        return _adapter
