"""Prove properties of a whole policy: conflicts, gaps, dead clauses, dangling references.

The case space a policy declares is finite (`engine.analysis.space`), so the checker proves rather
than samples. Two passes:

- `static_findings`: clause by clause over the boundary dates, without cases: bodies and
  matters named while not in force, delegations to townships without an enforcement team,
  1+X hubs serving townships with their own team, a lead listed as its own support,
  conditions no declared value satisfies, and durable_rules' structural limits
  (`engine.rules.limits`). It takes milliseconds and finds every *error* kind, so `gate` runs it
  on every activation and a policy with errors is never served.
- `prove`: decides every enumerated case with the engine's own precedence
  (`engine.lead.decide.decide`) and reports conflicts, gaps, shadowed and unsatisfiable
  clauses, each with counter-example cases. Fired rules come from `engine.rules.evaluate`, the
  compiled definitions evaluated in Python (tests compare it with durable_rules on every
  case), or from durable_rules itself with `evaluator="durable"`.

The kinds, their codes and severities are catalogued in `engine.analysis.findings`.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from engine.analysis import space
from engine.analysis.findings import FindingSeverity, severity_of
from engine.errors import Finding, PolicyError
from engine.intake import cue_table, intake_for
from engine.lead.decide import decide
from engine.lead.decision import Case, Decision
from engine.lead.facts import build_fact
from engine.policy.collector import collector_paused
from engine.policy.index import Policy
from engine.policy.lifecycle import validate_cases
from engine.policy.load import load_policy, policy_from_files
from engine.policy.locate import Locator
from engine.policy.model import (
    TEAM_REF,
    TOWNSHIP_REF,
    Attribute,
    AttributeType,
    Comparison,
    Dated,
    Rule,
    RuleKind,
    Scalar,
)
from engine.policy.validate import TEAM_VALUES, TOWNSHIP_KINDS
from engine.rules import limits
from engine.rules.compile import MAX_FACT_PROPERTIES, CompiledPolicy, Fire, build_definitions, compile_test
from engine.rules.evaluate import PythonRules, predicate

MAX_EXAMPLES = 20  # counter-examples kept per finding
Evaluator = Literal["python", "durable"]  # who evaluates the rules in a proof

NOUN = {"matters": "matter", "rules": "rule", "delegations": "delegation", "organizations": "body", "policy": "policy"}
TIER_EN = {"escalation": "escalation", "integrated": "一件事", "delegation": "delegation", "list": "list default"}


@dataclass(frozen=True)
class Report:
    """What a check found. `cases` is how many cases were decided (0 without `prove`)."""

    findings: tuple[Finding, ...]
    policy: Policy | None
    cases: int = 0
    seconds: float = 0.0
    proved: bool = False
    timings: tuple[tuple[str, float], ...] = ()

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != "error"]

    def failed(self, fail_on: FindingSeverity = "warning") -> bool:
        """True when a finding at or above `fail_on` exists (the CLI's exit code 1)."""
        return bool(self.errors) if fail_on == "error" else bool(self.findings)


# --------------------------------------------------------------------------- helpers


class _Context:
    """One policy under check: its boundary dates and where to point the author."""

    def __init__(self, policy: Policy, *, locate_warnings: bool = True, compiled: CompiledPolicy | None = None) -> None:
        self.policy = policy
        self.compiled = compiled  # the policy's ruleset definitions, when the caller built them already
        self.days = space.boundary_dates(policy)
        self.locator = Locator(policy.files)
        self.locate_warnings = locate_warnings
        self._same: dict[tuple[str, str], list[date]] = {}

    @cached_property
    def first_township(self) -> str:
        """The township counter-examples use when a clause names none (once per check, not per clause)."""
        townships = self.policy.townships()
        return townships[0].id if townships else ""

    def same_body_days(self, a: str, b: str) -> list[date]:
        """The boundary dates on which references `a` and `b` name one body (successors
        followed): once per pair, not once per clause naming it."""
        days = self._same.get((a, b))
        if days is None:
            days = self._same[(a, b)] = [d for d in self.days if _same_body(self.policy, a, b, d)]
        return days

    def finding(
        self,
        code: str,
        section: str,
        item_id: str | None,
        message: str,
        hint: str | None = None,
        path: Sequence[str | int] = (),
        examples: Iterable[Case] = (),
    ) -> Finding:
        item: str | None
        severity = severity_of(code)
        if section == "policy":
            file = _manifest_file(self.policy)
            line = self.locator.line(file, "policy", None, path)
            item = self.policy.id
        else:
            where = self.policy.where(section, item_id or "")
            file = where.file
            line = where.line
            if severity == "error" or self.locate_warnings:
                line = self.locator.line(file, section, item_id, path) or line
            item = item_id
        return Finding(code, message, file, line, item, severity, hint, tuple(examples)[:MAX_EXAMPLES])

    def when(self, bad: Sequence[date]) -> str:
        """The first run of boundary dates in `bad`, as an author reads it."""
        index = {d: i for i, d in enumerate(self.days)}
        start = index[bad[0]]
        end = start
        while end + 1 < len(self.days) and self.days[end + 1] in bad:
            end += 1
        until = f" until {self.days[end + 1]}" if end + 1 < len(self.days) else ""
        if start == 0:  # the day before the first boundary stands for all earlier dates
            return f"before {self.days[end + 1]}" if until else "at any date"
        return f"from {self.days[start]}{until}"


def _manifest_file(policy: Policy) -> str:
    return next(
        (name for name, text in sorted(policy.files.items()) if any(line.startswith("policy:") for line in text.splitlines())),
        "policy.yaml",
    )


def _named(test: Comparison | None) -> tuple[str, ...]:
    """The values an eq/in test names positively (empty for ne/not_in and numbers)."""
    if test is None:
        return ()
    op, value = test.operator
    if op == "eq":
        return (str(value),)
    if op == "in":
        return tuple(str(v) for v in value)  # type: ignore[attr-defined]
    return ()


def _describe_test(key: str, test: Comparison) -> str:
    op, value = test.operator
    if isinstance(value, tuple):
        shown = "[" + ", ".join(_scalar(v) for v in value) + "]"
    else:
        shown = _scalar(value)
    return f"{key}: {shown}" if op == "eq" else f"{key}: {{{op}: {shown}}}"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _case_text(case: Case) -> str:
    attrs = "".join(f", {k}={_scalar(v)}" for k, v in sorted(case.attributes.items()))
    matter = f"matter `{case.matter}`, " if case.matter else ""
    return f"{matter}township `{case.township}` on {case.as_of}{attrs}"


def _during(when: str) -> str:
    return "" if when == "at any date" else f" {when}"


def _n_cases(n: int) -> str:
    return "1 case" if n == 1 else f"{n} cases"


def _all_cases(n: int) -> str:
    return "the only case" if n == 1 else f"all {n} cases"


# --------------------------------------------------------------------------- static pass


def static_findings(
    policy: Policy,
    *,
    examples: bool = True,
    locate_warnings: bool = True,
    compiled: CompiledPolicy | None = None,
    warnings: bool = True,
) -> list[Finding]:
    """Every finding that needs no case enumeration (all error kinds among them).

    `examples=False` leaves out intake's self-test of the list (`_intake_examples`): it ranks
    every example against every matter and finds warnings only; the activation gate skips it.
    `locate_warnings=False` points a warning at its item's first line instead of the key's
    (errors always at the key): finding a key composes the file's YAML again.
    `warnings=False` runs only the checks that can report an error (`STATIC_CHECKS`): every
    error, and the warnings those checks happen to find.
    """
    ctx = _Context(policy, locate_warnings=locate_warnings, compiled=compiled)
    found: list[Finding] = []
    for check, codes in STATIC_CHECKS:
        if (examples or check is not _intake_examples) and (warnings or any(severity_of(c) == "error" for c in codes)):
            found += check(ctx)
    if warnings:  # the case chapter's errors already stop loading; its warnings are findings here
        found += [f for f in validate_cases(policy) if f.severity == "warning"]
    return _ordered(found)


def _intake(ctx: _Context) -> Iterable[Finding]:
    """Intake's vocabulary: words that cannot tell matters, townships or values apart."""
    policy = ctx.policy
    by_alias: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for matter in policy.matters.values():
        for i, alias in enumerate(matter.aliases):
            by_alias[alias].append((matter.id, i))
    for alias, owners in by_alias.items():
        for matter_id, i in owners[1:]:
            yield ctx.finding(
                "shared_alias", "matters", matter_id,
                f"alias `{alias}` is also an alias of `{owners[0][0]}`: a text that says only `{alias}` cannot tell them apart",
                "keep the alias on one matter, or make each one longer (货车乱停 / 停车场乱停车)", ("aliases", i),
            )  # fmt: skip
    by_place: dict[str, list[tuple[str, tuple[str | int, ...]]]] = defaultdict(list)
    for org in policy.townships():
        by_place[org.name].append((org.id, ()))
        for i, alias in enumerate(org.aliases):
            by_place[alias].append((org.id, ("aliases", i)))
        for i, place in enumerate(org.places):
            by_place[place.name].append((org.id, ("places", i)))
    for name, holders in by_place.items():
        first = holders[0][0]
        for org_id, path in holders[1:]:
            if org_id != first:
                yield ctx.finding(
                    "shared_place_name", "organizations", org_id,
                    f"place `{name}` also names `{first}`: a ticket that names it is refused as ambiguous",
                    "qualify the name (高家镇清水村) or keep it on one township", path,
                )  # fmt: skip
    for attribute in policy.attributes.values():
        seen: dict[str, Scalar] = {}
        for value, words in cue_table(attribute).items():
            for word in words:
                if word in seen and seen[word] != value:
                    yield ctx.finding(
                        "shared_cue", "attributes", attribute.id,
                        f"cue `{word}` indicates both `{seen[word]}` and `{value}`",
                        "keep the cue on one value", _cue_path(attribute, value),
                    )  # fmt: skip
                seen.setdefault(word, value)


def _intake_examples(ctx: _Context) -> Iterable[Finding]:
    """Examples the matcher recognises as another matter (a self-test of the list at check time).

    # NOTE: warnings only, and it builds intake and ranks every example against the whole
    # list: 4 s of a ×1 gate, 144 s at ×10 (bench/results.md). `tiaokuai check` runs it; the
    # activation gate, which only has to refuse errors, does not.
    """
    policy = ctx.policy
    matcher = intake_for(policy).matcher
    for matter in policy.matters.values():
        for i, example in enumerate(matter.examples):
            ranked = matcher.rank(example)
            if not ranked or ranked[0].id != matter.id:
                other = f"`{ranked[0].id}` {ranked[0].name}" if ranked else "no matter"
                yield ctx.finding(
                    "example_misassigned", "matters", matter.id,
                    f"example `{example}` is recognised as {other}, not as this matter",
                    "add the words that tell them apart to this matter's aliases or examples, "
                    "or move the example to the matter it describes", ("examples", i),
                )  # fmt: skip


def _cue_path(attribute: Attribute, value: Scalar) -> tuple[str | int, ...]:
    if attribute.type is AttributeType.enum:
        index = next((i for i, v in enumerate(attribute.values) if v.id == value), 0)
        return ("values", index, "cues")
    return ("cues",)


def _structural(ctx: _Context) -> Iterable[Finding]:
    policy = ctx.policy
    if len(policy.attributes) + 10 > MAX_FACT_PROPERTIES:
        extra = list(policy.attributes)[MAX_FACT_PROPERTIES - 10]
        yield ctx.finding(
            "structural_limit",
            "attributes",
            extra,
            f"{len(policy.attributes)} attributes: a case fact would exceed the rules engine's {MAX_FACT_PROPERTIES} properties",
            "merge attributes or split the policy",
        )
    compiled = ctx.compiled or build_definitions(policy)
    hints = {
        "siblings": "split the `in` list or the rules across narrower conditions, or spread the matters over more domains",
        "forwards": "merge these rules' shared `in` condition into fewer rules",
        "identical": "these rules test exactly the same conditions: merge them",
        "compound": "split the rule into several rules with fewer `in`/`not_in` conditions",
        "rules": "spread the domain's matters over more domains",
    }
    seen: set[tuple[str, str]] = set()
    for violation in limits.analyse(compiled.shards):
        clauses = list(dict.fromkeys(compiled.clause_of_rule[name] for name in violation.rules))
        first = clauses[0]
        if (violation.limit, first) in seen:
            continue
        seen.add((violation.limit, first))
        section = "rules" if first in policy.rules_by_id else "matters"
        others = f" (also from {', '.join(f'`{c}`' for c in clauses[1:4])}{' and more' if len(clauses) > 4 else ''})" if len(clauses) > 1 else ""
        path: tuple[str, ...] = ()
        if section == "rules":  # point at the widest `in`/`not_in` list, the usual cause
            lists = [(len(v), k) for k, t in policy.rules_by_id[first].tests().items() if isinstance(v := t.operator[1], tuple)]
            path = ("when", max(lists)[1]) if lists else ("when",)
        yield ctx.finding(
            "structural_limit", section, first, violation.describe() + others, hints[violation.limit], path
        )


@dataclass(frozen=True)
class _Ref:
    section: str
    item_id: str | None
    clause: Dated | None  # None: the manifest, in force at every date
    role: str
    ref: str
    path: tuple[str | int, ...]
    matter: str | None = None  # for counter-examples


def _org_refs(policy: Policy) -> Iterable[_Ref]:
    for m in policy.matters.values():
        yield _Ref("matters", m.id, m, "lead", m.lead, ("lead",), m.id)
        for i, s in enumerate(m.supports):
            yield _Ref("matters", m.id, m, "support", s, ("supports", i), m.id)
    for r in policy.rules:
        matter = next(iter(_named(r.tests().get("matter"))), None)
        if r.then.lead:
            yield _Ref("rules", r.id, r, "lead", r.then.lead, ("then", "lead"), matter)
        if r.then.coordinator:
            yield _Ref("rules", r.id, r, "coordinator", r.then.coordinator, ("then", "coordinator"), matter)
        for i, s in enumerate(r.then.supports):
            yield _Ref("rules", r.id, r, "support", s, ("then", "supports", i), matter)
    for d in policy.delegations:
        for i, t in enumerate(d.townships):
            yield _Ref("delegations", d.id, d, "township", t, ("townships", i), d.matters[0])
    manifest = policy.manifest
    yield _Ref("policy", None, None, "dispatch centre", manifest.dispatch.to, ("dispatch", "to"))
    yield _Ref("policy", None, None, "arbiter", manifest.disputes.arbiter, ("disputes", "arbiter"))


def _org_references(ctx: _Context) -> Iterable[Finding]:
    policy = ctx.policy
    # The days on which each body, successors followed, is not in force: once per body,
    # not once per reference (the list names the same few dozen bodies thousands of times).
    absent: dict[str, list[date]] = {}
    for ref in _org_refs(policy):
        if ref.ref.startswith("@") or ref.ref not in policy.organizations:
            continue
        if ref.ref not in absent:
            absent[ref.ref] = [d for d in ctx.days if not policy.resolve_org(ref.ref, d).org.in_force(d)]
        bad = [d for d in absent[ref.ref] if ref.clause is None or ref.clause.in_force(d)]
        if not bad:
            continue
        resolved = policy.resolve_org(ref.ref, bad[0])
        org = resolved.org
        noun = NOUN[ref.section]
        if org.valid_from is not None and bad[0] < org.valid_from:
            message = f"{ref.role} `{ref.ref}` is not in force {ctx.when(bad)}, but this {noun} is"
            hint = f"set `valid_from: {org.valid_from}` on this {noun}, or name the body in force before"
        else:
            via = f" (its successor chain ends at `{org.id}`)" if resolved.via else ""
            message = f"{ref.role} `{ref.ref}` ended on {org.valid_until} with no successor{via}, but this {noun} is still in force"
            hint = f"give `{org.id}` a `successor`, name the body in force now, or set `valid_until: {org.valid_until}` on this {noun}"
        township = ref.ref if ref.role == "township" else ctx.first_township
        example = Case(township=township, matter=ref.matter, as_of=bad[0])
        yield ctx.finding("org_not_in_force", ref.section, ref.item_id, message, hint, ref.path, [example])


def _delegations(ctx: _Context) -> Iterable[Finding]:
    policy = ctx.policy
    for d in policy.delegations:
        for i, township_id in enumerate(d.townships):
            township = policy.organizations.get(township_id)
            if township is None:
                continue
            bad = [
                day
                for day in ctx.days
                if d.in_force(day) and township.in_force(day) and policy.team_for(township_id, day)[0] == "none"
            ]
            if not bad:
                continue
            examples = [Case(township=township_id, matter=m, as_of=bad[0]) for m in d.matters if m in policy.matters]
            yield ctx.finding(
                "delegation_without_team",
                "delegations",
                d.id,
                f"delegates to `{township_id}`, which has no enforcement team, own or via a 1+X hub, {ctx.when(bad)}",
                f"give `{township_id}` an `enforcement_team`, add it to a hub's `serves`, or remove it from `townships`",
                ("townships", i),
                examples,
            )


def _hubs(ctx: _Context) -> Iterable[Finding]:
    policy = ctx.policy
    orgs = policy.organizations
    for hub in orgs.values():
        hub_team = orgs.get(hub.enforcement_team or "")
        if not hub.serves or hub_team is None:
            continue
        for i, served in enumerate(hub.serves):
            township = orgs.get(served)
            own = orgs.get(township.enforcement_team or "") if township else None
            if own is None:
                continue
            both = [
                d for d in ctx.days if hub.in_force(d) and hub_team.in_force(d) and own.in_force(d) and township is not None and township.in_force(d)
            ]
            if both:
                yield ctx.finding(
                    "hub_serves_own_team",
                    "organizations",
                    hub.id,
                    f"serves `{served}`, which has its own enforcement team `{own.id}`{_during(ctx.when(both))}; "
                    "the own team always acts there",
                    f"remove `{served}` from `serves`",
                    ("serves", i),
                )


def _same_body(policy: Policy, a: str, b: str, day: date) -> bool:
    if a == b:
        return True
    if a.startswith("@") or b.startswith("@") or a not in policy.organizations or b not in policy.organizations:
        return False
    return policy.resolve_org(a, day).org.id == policy.resolve_org(b, day).org.id


def _lead_and_support(ctx: _Context) -> Iterable[Finding]:
    policy = ctx.policy
    for m in policy.matters.values():
        for i, s in enumerate(m.supports):
            day = next((d for d in ctx.same_body_days(m.lead, s) if m.in_force(d)), None)
            if day is not None:
                same = "" if s == m.lead else f" (on {day} both are `{policy.resolve_org(s, day).org.id}`)"
                yield ctx.finding(
                    "lead_and_support", "matters", m.id, f"`{s}` is both the lead and a support{same}",
                    f"remove `{s}` from `supports`", ("supports", i),
                )
                break
    for r in policy.rules:
        lead = r.then.lead
        if lead is None:
            continue
        own = [(s, ("then", "supports", i), None) for i, s in enumerate(r.then.supports)]
        inherited = [] if r.then.supports else [
            (s, ("then", "lead"), mid)
            for mid in _named(r.tests().get("matter"))
            if mid in policy.matters
            for s in policy.matters[mid].supports
        ]
        for s, path, via in own + inherited:
            day = next((d for d in ctx.same_body_days(lead, s) if r.in_force(d)), None)
            if day is None:
                continue
            if via is None:
                message, hint = f"`{s}` is both the lead and a support", f"remove `{s}` from `supports`"
            else:
                message = f"leads with `{lead}`, which the supports it inherits from `{via}` also name"
                hint = "give the rule its own `supports`"
            yield ctx.finding("lead_and_support", "rules", r.id, message, hint, path)
            break


def _matter_references(ctx: _Context) -> Iterable[Finding]:
    policy = ctx.policy
    referrers: list[tuple[str, str, Dated, str, tuple[str | int, ...]]] = [
        ("rules", r.id, r, mid, ("when", "matter")) for r in policy.rules for mid in _named(r.tests().get("matter"))
    ]
    referrers += [("delegations", d.id, d, mid, ("matters", i)) for d in policy.delegations for i, mid in enumerate(d.matters)]
    for section, item_id, clause, mid, path in referrers:
        matter = policy.matters.get(mid)
        if matter is None:
            continue
        noun = NOUN[section]
        live = [d for d in ctx.days if clause.in_force(d)]
        before = [d for d in live if matter.valid_from is not None and d < matter.valid_from]
        after = [d for d in live if matter.valid_until is not None and d >= matter.valid_until]
        township = ctx.first_township
        if before:
            yield ctx.finding(
                "gap", section, item_id,
                f"names matter `{mid}`, which is not in force {ctx.when(before)}, but this {noun} is",
                f"set `valid_from: {matter.valid_from}` on this {noun}, or start `{mid}` earlier",
                path, [Case(township=township, matter=mid, as_of=before[0])],
            )
        if after:
            yield ctx.finding(
                "expired_reference", section, item_id,
                f"names matter `{mid}`, which ended on {matter.valid_until}, but this {noun} stays in force",
                f"set `valid_until: {matter.valid_until}` on this {noun}, or remove `{mid}` from it",
                path, [Case(township=township, matter=mid, as_of=after[0])],
            )


def _domain_of(policy: Policy, key: str) -> tuple[list[object], str] | None:
    """Every value a fact `key` can take, and how to say so; None for unknown keys."""
    if key == "matter":
        return list(policy.matters), "the matters of the list"
    if key == "township":
        return [t.id for t in policy.townships()], "the townships"
    if key == "domain":
        return [d.id for d in policy.manifest.domains], "the domains"
    if key == "team":
        return list(TEAM_VALUES), ", ".join(TEAM_VALUES)
    if key == "township_kind":
        return list(TOWNSHIP_KINDS), ", ".join(TOWNSHIP_KINDS)
    if key == "delegated":
        return [True, False], "true, false"
    attr = policy.attributes.get(key)
    if attr is None:
        return None
    if attr.type is AttributeType.township:
        return [t.id for t in policy.townships()], "the townships"
    values = [v for v in space.axis(policy, attr).values if v is not space.ABSENT]
    if attr.type in (AttributeType.int, AttributeType.number):
        lo = "-∞" if attr.minimum is None else _scalar(attr.minimum)
        hi = "∞" if attr.maximum is None else _scalar(attr.maximum)
        return values, f"`{key}` lies between {lo} and {hi}"
    return values, ", ".join(_scalar(v) for v in values)


class _Domains:
    """`_domain_of` for every key a policy's rules test, worked out once per key, with the
    values indexed so an equality test looks up its own values instead of trying every one.

    # NOTE: per rule, trying each of the key's values made the gate grow with matters x
    # rules (×100: 3.4 M predicate calls for `matter` alone).
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._found: dict[str, tuple[list[object], str, dict[object, list[object]]] | None] = {}

    def of(self, key: str) -> tuple[list[object], str, dict[object, list[object]]] | None:
        if key not in self._found:
            domain = _domain_of(self.policy, key)
            if domain is None:
                self._found[key] = None
            else:
                values, allowed = domain
                index: dict[object, list[object]] = {}
                for v in values:  # 1 and True share a bucket: the predicate tells them apart
                    index.setdefault(v, []).append(v)
                self._found[key] = (values, allowed, index)
        return self._found[key]


def _satisfiable(key: str, test: Comparison, values: list[object], index: dict[object, list[object]]) -> bool:
    """Whether some value of the key's domain satisfies `test`."""
    holds = predicate(compile_test(key, test))
    op, operand = test.operator
    if op in ("eq", "in"):  # only a value equal to one of the test's own can satisfy it
        named = operand if isinstance(operand, tuple) else (operand,)
        return any(holds({key: v}) for t in named for v in index.get(t, ()))
    return any(holds({key: v}) for v in values)


def _never_true(policy: Policy, rule: Rule, domains: _Domains | None = None) -> tuple[str, str, tuple[str, ...]] | None:
    """Why a rule can never match, when one condition or a derived fact shows it statically."""
    domains = domains or _Domains(policy)
    tests = rule.tests()
    for key, test in tests.items():
        domain = domains.of(key)
        if domain is None:
            continue
        values, allowed, index = domain
        if not _satisfiable(key, test, values, index):
            return (
                f"never matches: no value of `{key}` satisfies `{_describe_test(key, test)}`",
                f"allowed: {allowed}",
                ("when", key),
            )
    matters = _named(tests.get("matter"))
    delegated = tests.get("delegated")
    if matters and delegated is not None and delegated.operator == ("eq", True):
        covered = {m for d in policy.delegations for m in d.matters}
        if not covered.intersection(matters):
            names = ", ".join(f"`{m}`" for m in matters)
            return (
                f"never matches: it needs `delegated: true` but no delegation covers {names}",
                "add the matter to a delegation's `matters`, or drop the condition",
                ("when", "delegated"),
            )
    domain_test = tests.get("domain")
    if matters and domain_test is not None:
        holds = predicate(compile_test("domain", domain_test))
        if not any(holds({"domain": policy.matters[m].domain}) for m in matters if m in policy.matters):
            return (
                f"never matches: `{_describe_test('domain', domain_test)}` excludes the domain of every matter it names",
                "drop the `domain` condition or name matters of that domain",
                ("when", "domain"),
            )
    return None


def _unsatisfiable(ctx: _Context) -> Iterable[Finding]:
    domains = _Domains(ctx.policy)
    for rule in ctx.policy.rules:
        why = _never_true(ctx.policy, rule, domains)
        if why is not None:
            message, hint, path = why
            yield ctx.finding("unsatisfiable", "rules", rule.id, message, hint, path)


# --------------------------------------------------------------------------- enumeration


@dataclass
class _Tally:
    """What the enumeration saw, clause by clause."""

    fired: Counter[str]
    won: Counter[str]
    applied: set[str]
    in_conflict: set[str]
    beaten: dict[str, Counter[tuple[str, str]]]  # clause → (result, by) → cases
    beaten_examples: dict[str, list[Case]]
    conflicts: dict[tuple[str, str], list[Case]]
    conflict_counts: Counter[tuple[str, str]]
    gaps: dict[str, list[Case]]
    gap_counts: Counter[str]
    gap_reasons: dict[str, Counter[str]]
    matter_cases: Counter[str]
    doubled: dict[tuple[str, str], list[Case]]  # (clause, support ref) → cases where it is also the lead
    doubled_counts: Counter[tuple[str, str]]


def _resolve(policy: Policy, ref: str, case: Case) -> str | None:
    """The body a lead or support reference names for this case, as `engine.lead.decide` resolves it."""
    org_id: str | None
    if ref == TOWNSHIP_REF:
        org_id = case.township
    elif ref == TEAM_REF:
        _, team = policy.team_for(case.township, case.as_of)
        org_id = team.id if team else None
    elif ref.startswith("@"):
        value = case.attributes.get(ref[1:])
        org_id = value if isinstance(value, str) else None
    else:
        org_id = ref
    if org_id is None or org_id not in policy.organizations:
        return None
    return policy.resolve_org(org_id, case.as_of).org.id


def _lead_ref(policy: Policy, clause_id: str) -> str:
    rule = policy.rules_by_id.get(clause_id)
    if rule is not None:
        return rule.then.lead or ""
    matter = policy.matters.get(clause_id)
    return matter.lead if matter else ""


def _rank(policy: Policy, clause_id: str) -> str:
    rule = policy.rules_by_id.get(clause_id)
    if rule is not None:
        return f"priority {rule.priority}, {TIER_EN[rule.kind.value]}"
    return f"priority 0, {TIER_EN['list']}"


def _observe(policy: Policy, case: Case, decision: Decision, tally: _Tally) -> None:
    tally.fired.update(decision.fired)
    matter = policy.matters.get(case.matter or "")
    if matter is not None and matter.in_force(case.as_of):
        tally.matter_cases[matter.id] += 1
    winner = decision.rule.id
    if decision.outcome == "dispatch":
        if matter is not None and matter.in_force(case.as_of):
            tally.gap_counts[matter.id] += 1
            if len(tally.gaps[matter.id]) < MAX_EXAMPLES:
                tally.gaps[matter.id].append(case)
            skipped = [e.rule for e in decision.explanation if e.result == "skipped"]
            reason = ", ".join(sorted({f"`{_lead_ref(policy, c)}`" for c in skipped})) or "-"
            tally.gap_reasons[matter.id][reason] += 1
    else:
        tally.won[winner] += 1
    for e in decision.explanation:
        if e.result == "applied":
            tally.applied.add(e.rule)
        elif e.result == "conflict":
            pair = (winner, e.rule)
            tally.in_conflict.update(pair)
            tally.conflict_counts[pair] += 1
            if len(tally.conflicts[pair]) < MAX_EXAMPLES:
                tally.conflicts[pair].append(case)
        elif e.result in ("lost", "tied", "skipped"):
            tally.beaten[e.rule][(e.result, winner if e.result != "skipped" else "")] += 1
            examples = tally.beaten_examples[e.rule]
            if len(examples) < MAX_EXAMPLES:
                examples.append(case)
    if decision.outcome != "dispatch":
        _observe_supports(policy, case, decision, tally)


def _observe_supports(policy: Policy, case: Case, decision: Decision, tally: _Tally) -> None:
    """Record a winning clause whose own supports resolve to its own lead in this case.

    Only pairs where the policy fixes at least one side count: `lead: "@township"` with
    `supports: [gaojia]` doubles up in gaojia's cases. Amendments add supports to whatever
    wins by design, and decide drops a support equal to the lead, so they are not reported.
    """
    winner = decision.rule.id
    rule = policy.rules_by_id.get(winner)
    if rule is not None:
        refs = rule.then.supports
        lead = rule.then.lead or ""
    elif winner in policy.matters:
        matter = policy.matters[winner]
        # a street office's or a town's own variant of the matter (engine.policy.layers), if any
        variant = matter.variant(policy.organizations[case.township].kind.value)
        refs = variant.supports if variant and variant.supports is not None else matter.supports
        lead = variant.lead if variant and variant.lead else matter.lead
    else:
        return
    for ref in refs:
        if (ref.startswith("@") and lead.startswith("@")) or ref == lead:
            continue  # both case-relative (a data coincidence), or caught statically
        if _resolve(policy, ref, case) == decision.lead.id:
            key = (winner, ref)
            tally.doubled_counts[key] += 1
            if len(tally.doubled[key]) < MAX_EXAMPLES:
                tally.doubled[key].append(case)


def _fire_for(compiled: CompiledPolicy, evaluator: Evaluator) -> tuple[Fire, Callable[[], None]]:
    if evaluator == "python":
        return PythonRules(compiled).fire, lambda: None
    from engine.rules.durable import shared_adapter  # only here: proofs in Python never load the C engine

    adapter = shared_adapter()
    registration = adapter.register(compiled)

    def fire(shard: str, fact: dict[str, Any]) -> list[str]:
        return adapter.fire(registration.names[shard], fact)

    return fire, lambda: adapter.unregister(registration)


def _replay(names: list[str]) -> Fire:
    """A `fire` that answers with rules already fired for this very case."""

    def fire(_shard: str, _fact: dict[str, Any]) -> list[str]:
        return names

    return fire


def prove(
    policy: Policy, evaluator: Evaluator = "python", *, memo: bool = True, cases: Iterable[Case] | None = None
) -> tuple[list[Finding], int]:
    """Decide every enumerated case (or the `cases` given); return the findings and the count.

    Call it only on a policy `static_findings` reports no errors for: the compiled rules
    must be within durable_rules' limits.

    With `memo`, each case still gets its own fact, fired rules and resolved leads, but
    `decide` runs once per distinct (matter, matter in force, fired clauses, resolved lead
    of each fired clause): what decide's outcome, winner, explanation results and lead are
    a function of (engine/lead/decide.py). tests/engine/analysis/test_check.py proves memoised and plain runs
    give the same findings.
    """
    from engine.rules.compile import compile_policy

    compiled = compile_policy(policy)
    fire, done = _fire_for(compiled, evaluator)
    tally = _Tally(
        Counter(), Counter(), set(), set(), defaultdict(Counter), defaultdict(list), defaultdict(list),
        Counter(), defaultdict(list), Counter(), defaultdict(Counter), Counter(), defaultdict(list), Counter(),
    )
    leads = {c: _lead_ref(policy, c) for c in (*policy.matters, *(r.id for r in policy.rules if r.then.lead))}
    decisions: dict[tuple[object, ...], Decision] = {}
    resolved: dict[tuple[str, str, date, object], str | None] = {}

    def lead_of(clause: str, case: Case) -> str | None:
        ref = leads[clause]
        # what a reference resolves to depends on the date, and on the township or attribute it reads
        key = (ref, case.township if ref in (TOWNSHIP_REF, TEAM_REF) else "", case.as_of, case.attributes.get(ref[1:]) if ref.startswith("@") else None)
        if key not in resolved:
            resolved[key] = _resolve(policy, ref, case)
        return resolved[key]

    count = 0
    try:
        for case in space.cases(policy) if cases is None else cases:
            count += 1
            if not memo:
                _observe(policy, case, decide(case, compiled, fire), tally)
                continue
            matter = policy.matters[case.matter or ""]
            names = fire(compiled.shard_of_matter[matter.id], build_fact(policy, case))
            fired = sorted({compiled.clause_of_rule[n] for n in names})
            key = (
                matter.id,
                matter.in_force(case.as_of),
                tuple(fired),
                tuple(lead_of(c, case) for c in fired if c in leads),
            )
            decision = decisions.get(key)
            if decision is None:
                decision = decisions[key] = decide(case, compiled, _replay(names))
            _observe(policy, case, decision, tally)
    finally:
        done()
    return _ordered(_conclude(_Context(policy), tally, count)), count


def _conclude(ctx: _Context, tally: _Tally, count: int) -> Iterable[Finding]:
    policy = ctx.policy
    yield from _conflict_findings(ctx, tally)
    for mid, n in tally.gap_counts.items():
        matter = policy.matters[mid]
        cases = tally.gaps[mid]
        reasons = tally.gap_reasons[mid]
        reason, _ = reasons.most_common(1)[0]
        why = f"the lead {reason} cannot be resolved" if reason != "-" else "no clause applies"
        yield ctx.finding(
            "gap", "matters", mid,
            f"no lead in {n} of {_n_cases(tally.matter_cases[mid])}: {why} (e.g. {_case_text(cases[0])}); "
            f"they go to the dispatch centre",
            "give those townships an enforcement team, own or via a 1+X hub, or add a rule that names a lead for them"
            if TEAM_REF in reason else "name a lead that every case can resolve",
            ("lead",) if matter.lead.startswith("@") else (),
            cases,
        )
    yield from _dead_clauses(ctx, tally, count)
    static_pairs = {(f.id, f.code) for f in _lead_and_support(ctx)}
    for (clause, ref), n in tally.doubled_counts.items():
        if (clause, "lead_and_support") in static_pairs:
            continue
        section = "rules" if clause in policy.rules_by_id else "matters"
        path: tuple[str, ...] = ("then", "supports") if section == "rules" else ("supports",)
        cases = tally.doubled[(clause, ref)]
        yield ctx.finding(
            "lead_and_support", section, clause,
            f"support `{ref}` is the lead itself in {_n_cases(n)} (e.g. {_case_text(cases[0])})",
            f"narrow the conditions or remove `{ref}` from `supports`",
            path, cases,
        )


def _conflict_findings(ctx: _Context, tally: _Tally) -> Iterable[Finding]:
    policy = ctx.policy
    arbiter = policy.manifest.disputes.arbiter
    for (winner, rival), n in tally.conflict_counts.items():
        cases = tally.conflicts[(winner, rival)]
        section = "rules" if rival in policy.rules_by_id else "matters"
        path: tuple[str, ...] = ("then", "lead") if section == "rules" else ("lead",)
        yield ctx.finding(
            "conflict", section, rival,
            f"ties with `{winner}` ({_rank(policy, rival)}) but names lead `{_lead_ref(policy, rival)}` where "
            f"`{winner}` names `{_lead_ref(policy, winner)}`, in {_n_cases(n)} (e.g. {_case_text(cases[0])})",
            f"give one of them a higher `priority` or narrow its `when`; until then `{arbiter}` arbitrates "
            f"and `{winner}`, listed first, keeps handling",
            path, cases,
        )


def _dead_clauses(ctx: _Context, tally: _Tally, count: int) -> Iterable[Finding]:
    policy = ctx.policy
    static_unsat = {f.id for f in _unsatisfiable(ctx)}
    for rule in policy.rules:
        fired = tally.fired[rule.id]
        if not fired:
            if rule.id in static_unsat:
                yield next(f for f in _unsatisfiable(ctx) if f.id == rule.id)
                continue
            when = ", ".join(_describe_test(k, t) for k, t in rule.tests().items())
            yield ctx.finding(
                "unsatisfiable", "rules", rule.id,
                f"never matches: `{when}` holds in none of the {_n_cases(count)} of the declared space",
                "check that the conditions on matter, domain, delegated, team and township can hold together",
                ("when",),
            )
            continue
        if rule.kind is RuleKind.amendment:
            if rule.id not in tally.applied:
                yield ctx.finding(
                    "shadowed", "rules", rule.id,
                    f"never applies: {_all_cases(fired)} it matches are dispatched, so there is no lead to amend",
                    "narrow it to matters a clause assigns, or delete it",
                    ("when",), tally.beaten_examples.get(rule.id, []),
                )
            continue
        if tally.won[rule.id] or rule.id in tally.in_conflict:
            continue
        yield _shadowed(ctx, rule.id, "rules", fired, tally)
    for matter in policy.matters.values():
        fired = tally.fired[matter.id]
        if fired and not tally.won[matter.id] and matter.id not in tally.in_conflict and not tally.gap_counts[matter.id]:
            yield _shadowed(ctx, matter.id, "matters", fired, tally)


def _shadowed(ctx: _Context, clause: str, section: str, fired: int, tally: _Tally) -> Finding:
    policy = ctx.policy
    (result, by), _ = tally.beaten[clause].most_common(1)[0]
    examples = tally.beaten_examples.get(clause, [])
    if result == "skipped":
        reason = f"its lead `{_lead_ref(policy, clause)}` cannot be resolved there"
        hint = "name a lead every case can resolve, or give those townships an enforcement team"
    elif result == "tied":
        reason = f"`{by}` ties with it, names the same lead and is listed first"
        hint = f"merge it into `{by}` or delete it"
    else:
        winners = [w for (r, w), _ in tally.beaten[clause].most_common() if r == "lost"][:3]
        names = " or ".join(f"`{w}` ({_rank(policy, w)})" for w in winners)
        reason = f"{names} {'outrank' if len(winners) > 1 else 'outranks'} it"
        hint = f"raise its `priority` above `{by}`'s, narrow `{by}`, or delete it"
    if section == "matters":
        message = f"the list lead `{_lead_ref(policy, clause)}` never applies: in {_all_cases(fired)} of this matter, {reason}"
        hint = f"make the list name the lead that applies, or narrow `{by}`" if result == "lost" else hint
        return ctx.finding("shadowed", section, clause, message, hint, ("lead",), examples)
    return ctx.finding("shadowed", section, clause, f"never wins: in {_all_cases(fired)} it matches, {reason}", hint, ("priority",), examples)


# --------------------------------------------------------------------------- entry points


# The static checks in the order they run, each with every code it can report (a test holds
# each to its codes). The activation gate runs only those that can report an error: the
# warning-only ones were half of its time at ×100 (bench/results.md, load).
STATIC_CHECKS: tuple[tuple[Callable[[_Context], Iterable[Finding]], frozenset[str]], ...] = (
    (_structural, frozenset({"structural_limit"})),
    (_org_references, frozenset({"org_not_in_force"})),
    (_delegations, frozenset({"delegation_without_team"})),
    (_hubs, frozenset({"hub_serves_own_team"})),
    (_lead_and_support, frozenset({"lead_and_support"})),
    (_matter_references, frozenset({"gap", "expired_reference"})),
    (_unsatisfiable, frozenset({"unsatisfiable"})),
    (_intake, frozenset({"shared_alias", "shared_place_name", "shared_cue"})),
    (_intake_examples, frozenset({"example_misassigned"})),
)


def _ordered(findings: Iterable[Finding]) -> list[Finding]:
    unique: dict[tuple[str, str | None, str], Finding] = {}
    for f in findings:
        unique.setdefault((f.code, f.id, f.message), f)
    return sorted(unique.values(), key=lambda f: (f.file or "", f.line or 0, f.id or "", f.code))


def gate(policy: Policy, compiled: CompiledPolicy | None = None, *, warnings: bool = True) -> list[Finding]:
    """The activation check: raise PolicyError when the fast checks find an error.

    Returns the warnings; `warnings=False` (activation, which has no use for them) runs only
    the checks that can find an error, so it returns at most their warnings. `compiled`: the policy's ruleset definitions (`build_definitions`),
    when the caller is about to register them: their structural limits are checked on them
    instead of on a second build. `engine.runtime.activate` calls it for every policy it is about
    to serve (start-up, `Runtime.from_files`, `Runtime.swap`), so a hot reload gets the same
    refusal; the full enumeration (`prove`) stays with `tiaokuai check` and CI.

    # NOTE: linear in the policy. Warnings point at their item's first line, not the key's
    # (a ×100 policy has ~25,000 `shared_alias` warnings, and locating each key composed its
    # file again: 2.4 of its 3.9 s under cProfile); `tiaokuai check` still points at the key. Collection is
    # paused as while loading (engine.policy.collector): ×100 took 1.0 s with it, 2.3 s without.
    """
    with collector_paused():  # intake's self-test finds warnings only: left to `check`
        findings = static_findings(policy, examples=False, locate_warnings=False, compiled=compiled, warnings=warnings)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        raise PolicyError(errors)
    return findings


def check_policy(policy: Policy, *, full: bool = True, evaluator: Evaluator = "python") -> Report:
    """Run the static checks and, with `full`, decide every case of the space."""
    started = time.perf_counter()
    findings = static_findings(policy)
    timings = [("static", time.perf_counter() - started)]
    cases = 0
    proved = False
    if full and not any(f.severity == "error" for f in findings):
        t0 = time.perf_counter()
        more, cases = prove(policy, evaluator)
        timings.append(("enumerate", time.perf_counter() - t0))
        findings = _ordered([*findings, *more])
        proved = True
    return Report(tuple(findings), policy, cases, time.perf_counter() - started, proved, tuple(timings))


def check_dir(path: Path | str, *, full: bool = True, evaluator: Evaluator = "python") -> Report:
    """Load and check a policy directory; load errors come back as findings, never raised."""
    return _check(lambda: load_policy(path), full, evaluator)


def check_files(files: dict[str, str], *, full: bool = True, evaluator: Evaluator = "python") -> Report:
    """Load and check a policy given as {relative path: text} (a stored version, a git revision)."""
    return _check(lambda: policy_from_files(files), full, evaluator)


def _check(load: Callable[[], Policy], full: bool, evaluator: Evaluator) -> Report:
    started = time.perf_counter()
    try:
        policy = load()
    except PolicyError as exc:
        return Report(tuple(replace(f, severity="error") for f in exc.findings), None, seconds=time.perf_counter() - started)
    loaded = time.perf_counter() - started
    report = check_policy(policy, full=full, evaluator=evaluator)
    return replace(report, seconds=report.seconds + loaded, timings=(("load", loaded), *report.timings))


def example_decider(policy: Policy) -> Callable[[Case], Decision]:
    """Decides counter-example cases (for `--explain`) as `prove` did: compiled once, Python
    evaluator. Raises CompileError when the policy cannot be compiled (a structural limit)."""
    from engine.rules.compile import compile_policy

    compiled = compile_policy(policy)
    fire = PythonRules(compiled).fire
    return lambda case: decide(case, compiled, fire)
