"""durable_rules' structural limits, checked on compiled definitions before they reach the engine.

durable_rules 2.0.28 builds one alpha network per ruleset (src/rules/rete.c). The rule
`{"$and": [t1, t2, ...]}` becomes a chain of alpha nodes from the root; rules that share a
prefix share its nodes. An `$or` creates a fresh "forward" node and hangs each branch under
the current node, linked to that forward node; the terms after it hang under the forward
node. Five fixed-size tables bound this network, and overflowing them either fails with a
bare code or never returns:

| limit | table (rules.h / rete.c)        | past it                                     |
|-------|---------------------------------|---------------------------------------------|
| 512   | distinct tests under one node   | `create_ruleset` spins forever, GIL held    |
| 128   | `$or` forward links per node    | error 107 (reads past the list first)       |
| 256   | rules ending at the same node   | error 108 (identical conditions)            |
| 14    | `$or`/nested `$and` per rule    | error 113 (32-slot expression sequence)     |
| 4096  | rules per ruleset               | error 106                                   |

Each boundary was confirmed on 2.0.28 (512 siblings build, 513 hang; 128/129 forwards,
256/257 identical rules, 14/15 compound terms). `analyse` replays how rete.c would build the
network from the compiled JSON and reports every limit a shard would cross, naming the rules
involved, so a policy is refused before durable_rules ever sees it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# The engine's own limits and the margins we keep below them.
MAX_SIBLINGS = 480  # engine: 512; a hang gives no error, so keep a margin
MAX_FORWARDS = 128
MAX_IDENTICAL = 256
MAX_COMPOUND_TERMS = 14
MAX_RULES = 4096


@dataclass(frozen=True)
class Violation:
    """One limit a shard would cross: which, by how much, and the rules that build the node."""

    shard: str
    limit: str  # siblings | forwards | identical | compound | rules
    count: int
    maximum: int
    rules: tuple[str, ...]  # durable rule names, the main culprit first
    test: str = ""  # the node's path, for the message

    def describe(self) -> str:
        """The reason in the house style (lowercase, no final period)."""
        where = f" after `{self.test}`" if self.test else ""
        if self.limit == "siblings":
            return (
                f"{self.count} distinct tests would sit under one node of the rules engine{where}; "
                f"it hangs above 512 (limit kept at {self.maximum})"
            )
        if self.limit == "forwards":
            return f"{self.count} `in` lists would branch from the same test{where}; the rules engine fails above {self.maximum}"
        if self.limit == "identical":
            return f"{self.count} rules would have identical conditions{where}; the rules engine fails above {self.maximum}"
        if self.limit == "compound":
            return f"{self.count} `in`/`not_in` conditions in one rule; the rules engine fails above {self.maximum}"
        return f"{self.count} rules in shard `{self.shard}`; the rules engine fails above {self.maximum}"


@dataclass
class _Node:
    path: str
    children: dict[tuple[str, str, str], _Node] = field(default_factory=dict)
    child_rules: list[str] = field(default_factory=list)  # rules that added a child, in order
    forwards: list[tuple[str, _Node]] = field(default_factory=list)  # (rule, forward node)
    ending: list[str] = field(default_factory=list)


def _split(term: Mapping[str, Any]) -> tuple[str, Any]:
    if len(term) != 1:
        raise ValueError(f"a compiled term has exactly one key, got {sorted(term)}")
    ((key, value),) = term.items()
    return key, value


def _literal(value: Any) -> str:
    """A test's operand as JSON: the node key (1, "1" and true differ) and the label's text.

    # NOTE: orjson, not json.dumps(sort_keys=True): one call per test of every rule, and the
    # stdlib encoder was a third of the activation gate's limit analysis at ×100.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class _Builder:
    def __init__(self) -> None:
        self.root = _Node("")
        self.compound = 0

    def child(self, node: _Node, key: tuple[str, str, str], rule: str) -> _Node:
        found = node.children.get(key)
        if found is None:
            prop, op, value = key
            label = "" if prop == "decision_id" else f"{prop} {op.lstrip('$')} {value}"  # the guard says nothing
            path = " ∧ ".join(part for part in (node.path, label) if part)
            found = node.children[key] = _Node(path)
            node.child_rules.append(rule)
        return found

    def walk(self, node: _Node, term: Mapping[str, Any], rule: str) -> _Node:
        key, value = _split(term)
        if key == "$and":
            self.compound += 1
            for sub in value:
                node = self.walk(node, sub, rule)
            return node
        if key == "$or":
            self.compound += 1
            forward = _Node(f"{node.path} ∧ (…)" if node.path else "(…)")
            for sub in value:
                self.walk(node, sub, rule).forwards.append((rule, forward))
            return forward
        if key.startswith("$"):
            prop, operand = _split(value)
            return self.child(node, (prop, key, _literal(operand)), rule)
        return self.child(node, (key, "==", _literal(value)), rule)


def _nodes(root: _Node) -> Iterator[_Node]:
    """Every node once: children and the forward nodes `$or` branches link to."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        stack.extend(node.children.values())
        stack.extend(forward for _, forward in node.forwards)


def analyse(shards: Mapping[str, Mapping[str, Any]]) -> list[Violation]:
    """Every structural limit the compiled shards would cross (empty when all is well).

    `shards` maps shard name → durable rule name → definition, as `engine.rules.compile` builds
    them: `{"all": [{"m": <term>}]}` with terms made of `$and`, `$or`, `$ex`, `$neq`,
    `$lt`, `$lte`, `$gt`, `$gte` and equality.
    """
    found: list[Violation] = []
    for shard, rules in shards.items():
        builder = _Builder()
        for name, definition in rules.items():
            builder.compound = 0
            end = builder.walk(builder.root, definition["all"][0]["m"], name)
            end.ending.append(name)
            # the outer $and is the rule's own; the others are the author's in/not_in lists
            if builder.compound - 1 > MAX_COMPOUND_TERMS:
                found.append(Violation(shard, "compound", builder.compound - 1, MAX_COMPOUND_TERMS, (name,)))
        if len(rules) > MAX_RULES:
            found.append(Violation(shard, "rules", len(rules), MAX_RULES, tuple(rules)))
        for node in _nodes(builder.root):
            if len(node.children) > MAX_SIBLINGS:
                # the rules that put the most tests there first: usually one wide `in` list
                culprits = tuple(name for name, _ in Counter(node.child_rules).most_common())
                found.append(Violation(shard, "siblings", len(node.children), MAX_SIBLINGS, culprits, node.path))
            if len(node.forwards) > MAX_FORWARDS:
                culprits = tuple(dict.fromkeys(rule for rule, _ in node.forwards))
                found.append(Violation(shard, "forwards", len(node.forwards), MAX_FORWARDS, culprits, node.path))
            if len(node.ending) > MAX_IDENTICAL:
                found.append(Violation(shard, "identical", len(node.ending), MAX_IDENTICAL, tuple(node.ending), node.path))
    return found
