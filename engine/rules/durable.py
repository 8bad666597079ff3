"""The only module that talks to durable_rules.

The safe pattern (docs/durable_rules.md, "The safe pattern"):
- one Host for the process, with its timer threads switched off (they steal actions);
- every decision asserts one fact on one fixed sid with an explicit id, collects the
  fired rule names in Python, then retracts the fact (no per-case sids: `delete_state`
  corrupts the heap and live sids are capped at 1,024);
- one lock around each decision and each (un)registration: the C extension is not
  thread-safe between its calls;
- each policy version is registered under its own ruleset names (no in-place update).

Deciding talks to the C engine directly (`assert_fact`, `start_action_for_state`,
`complete_and_start_action`, `retract_fact`) instead of through `Host.assert_fact`: the
Rete network evaluates exactly the same, but the Python glue around it (a Closure, a
Promise, a JSON round trip of the session state and an `update_state` per fired rule)
cost ~70 % of a decision (bench/results.md, profile). The rule actions are never run;
the fired rule's name is read from the action the engine hands out.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from dataclasses import dataclass
from typing import Any

import orjson
from durable import engine as durable_engine

from engine.errors import EngineFailure
from engine.rules.compile import CompiledPolicy

SID = "tk"
_RETRACT_PREFIX = '{"sid":"tk","id":"'
# Result codes of the C engine's assert/retract (src/rules/rules.h).
_OK, _NOT_HANDLED = 0, 1


def _encode(fact: dict[str, Any], fact_id: str) -> str:
    """The fact as the C engine reads it: JSON text, with the fixed sid and the fact's id.

    # NOTE: orjson, not json: ~5x faster on every cache miss (bench/results.md). Where the
    # two differ, json decides: orjson writes NaN and infinities as null (json refuses
    # them, and so must we) and has no integers beyond 64 bits (json writes them).
    """
    for value in fact.values():
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value} is not a JSON value")
    try:
        body = orjson.dumps(fact).decode()
    except TypeError:  # an integer beyond 64 bits
        body = json.dumps(fact, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # The session keys go first; the fact's own properties follow (never these three keys).
    head = f'{{"sid":"{SID}","id":"{fact_id}","decision_id":"{fact_id}"'
    return f"{head},{body[1:]}" if len(body) > 2 else f"{head}}}"


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
    """The ruleset names under which one compiled policy version lives in the Host."""

    generation: int
    names: dict[str, str]  # shard → registered ruleset name


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
        # ruleset name → C handle, its rule names, the fact properties its rules test
        self._handles: dict[str, tuple[int, frozenset[str], tuple[str, ...] | None]] = {}

    def register(self, compiled: CompiledPolicy) -> Registration:
        """Create one ruleset per shard, named after the policy digest and a generation."""
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
                self._handles[name] = (handle, frozenset(rules), None if self._whole_facts else properties_tested(rules))
        return Registration(generation, names)

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
        # ruleset, on a session holding no facts, right before the ruleset goes: not the
        # per-decision `delete_state` that corrupts the heap (docs/durable_rules.md §2).
        """
        try:
            _c.delete_state(handle, SID)
        except Exception:  # noqa: BLE001 - never used for a decision: no session to free
            pass

    def fire(self, ruleset: str, fact: dict[str, Any]) -> list[str]:
        """Assert `fact`, return the names of every rule that fired (in firing order), retract it.

        Raises EngineFailure when the ruleset is not registered or the engine reports an error;
        the fact is retracted in every case, so the fixed session never accumulates facts.
        """
        with self._lock:
            entry = self._handles.get(ruleset)
            if entry is None:
                raise EngineFailure(f"ruleset `{ruleset}` is not registered")
            handle, rule_names, tested = entry
            fact_id = str(next(self._fact_ids))
            if tested is not None:
                fact = {key: fact[key] for key in tested if key in fact}
            elif not _SESSION_KEYS.isdisjoint(fact):
                fact = {key: value for key, value in fact.items() if key not in _SESSION_KEYS}
            try:
                message = _encode(fact, fact_id)
            except (TypeError, ValueError) as exc:  # only JSON scalars may reach the engine
                raise EngineFailure(f"fact is not plain JSON: {exc}") from exc
            try:
                hits = self._collect(handle, message, rule_names)
            except Exception as exc:
                self._retract(handle, fact_id)
                raise EngineFailure(f"durable_rules failed: {exc}") from exc
            self._retract(handle, fact_id)
            return hits

    @staticmethod
    def _collect(handle: int, message: str, rule_names: frozenset[str]) -> list[str]:
        code, state = _c.assert_fact(handle, message)
        if code == _NOT_HANDLED:
            return []  # nothing matched: the engine kept nothing
        if code != _OK:
            raise EngineFailure(f"durable_rules answered code {code}")
        hits: list[str] = []
        started = _c.start_action_for_state(handle, state)
        action: str | None = started[1] if started is not None else None
        try:
            while action is not None:
                # The action is `{"<rule name>": {...}}`; rule names are ids (no quotes), so the
                # name is read without decoding the echoed fact. Anything else is decoded properly.
                name = action[2 : action.find('"', 2)]
                if name not in rule_names:
                    name = next(iter(json.loads(action)))
                hits.append(name)
                action = _c.complete_and_start_action(handle, state)
        except Exception:
            _c.abandon_action(handle, state)  # release the session's action lease
            raise
        return hits

    @staticmethod
    def _retract(handle: int, fact_id: str) -> None:
        try:
            code, state = _c.retract_fact(handle, f'{_RETRACT_PREFIX}{fact_id}"}}')
            pending = code == _OK and _c.start_action_for_state(handle, state) is not None
        except Exception as exc:
            raise EngineFailure(f"durable_rules could not retract a fact: {exc}") from exc
        if pending:
            # Guarded rules never fire on a retraction; if one did, the session would hold an
            # unfinished action and every later decision would be wrong: fail loudly instead.
            raise EngineFailure("durable_rules started an action on retraction")


_adapter: DurableRules | None = None
_adapter_lock = threading.Lock()


def shared_adapter() -> DurableRules:
    """The process's single durable_rules Host (one per process, never per request)."""
    global _adapter
    with _adapter_lock:
        if _adapter is None:
            _adapter = DurableRules()
        return _adapter
