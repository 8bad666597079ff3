"""The catalogue of what `tiaokuai check` reports: one stable code per kind of finding.

FindingSeverity decides what the service does with a policy: an `error` is never activated (the
fast checks in `engine.analysis.check.gate` find every error kind without enumerating cases); a
`warning` is a policy the engine can still run with defined semantics (a conflict goes to
the arbiter, a gap to the dispatch centre) but an author should fix. `tiaokuai check`
exits 1 on either, unless told `--fail-on error`.

Findings from loading (schema, YAML syntax, duplicate ids, unknown references, attributes
or values in conditions) keep the codes `engine.policy.load` and `engine.policy.validate` give them and
are all errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FindingSeverity = Literal["error", "warning"]


@dataclass(frozen=True)
class Kind:
    code: str
    severity: FindingSeverity
    proved_by: Literal["static", "enumeration", "both"]
    summary: str


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind("conflict", "warning", "enumeration", "two clauses of equal rank name different leads for the same case"),
        Kind("gap", "warning", "both", "a matter in force has no lead for some case, or a clause names it before it takes effect"),
        Kind("shadowed", "warning", "enumeration", "a clause matches cases but never decides one: a higher-ranked clause always wins"),
        Kind("unsatisfiable", "warning", "both", "a rule's conditions never hold together in any case of the declared space"),
        Kind("lead_and_support", "warning", "both", "the same body is named as lead and as support of one decision"),
        Kind("org_not_in_force", "error", "static", "a clause names a body that is not in force on a date the clause is"),
        Kind("delegation_without_team", "error", "static", "a delegation (赋权) reaches a township with no enforcement team, own or 1+X"),
        Kind("hub_serves_own_team", "warning", "static", "a 1+X hub serves a township whose own enforcement team always acts instead"),
        Kind("expired_reference", "warning", "static", "a clause still names a matter after the matter has ended"),
        Kind("structural_limit", "error", "static", "the compiled rules would cross a durable_rules structural limit (hang or crash)"),
        Kind("unreachable_state", "warning", "static", "no event leads from the lifecycle's initial state to this state"),
        Kind("no_way_out", "warning", "static", "a case in this lifecycle state can never reach a final state"),
        Kind("limit_never_started", "warning", "static", "a time limit a clause names that no lifecycle clock runs, or a clock that runs only in unreachable states"),
        Kind("calendar_gap", "warning", "static", "a year missing from the calendar, or a swapped working day on a weekday"),
        Kind("shared_alias", "warning", "static", "one alias on several matters: a text that says only the alias cannot tell them apart"),
        Kind("shared_place_name", "warning", "static", "one place name on several townships: a ticket that names it is refused as ambiguous"),
        Kind("shared_cue", "warning", "static", "one cue on several values of the same attribute"),
        Kind("example_misassigned", "warning", "static", "a matter's own example that intake recognises as another matter"),
    )
}


def severity_of(code: str) -> FindingSeverity:
    """The severity of a catalogued code; load and validation codes are errors."""
    kind = KINDS.get(code)
    return kind.severity if kind else "error"
