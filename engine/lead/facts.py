"""Turn a case into the fact durable_rules sees, checking it against the policy's vocabulary.

An unknown matter, township, attribute or value is a `CaseError` naming the field, never a
silent non-match. Only JSON scalars of the declared type reach durable_rules (it coerces
silently: `"true" == true` matches there).
"""

from __future__ import annotations

import math
from typing import Any

from engine.errors import CaseError, ErrorCode
from engine.lead.decision import Case
from engine.policy.index import Policy
from engine.policy.model import Attribute, AttributeType, Scalar
from engine.policy.validate import suggest
from engine.rules.compile import date_number


def _township_hint(policy: Policy, value: str) -> str | None:
    for org in policy.townships():
        if value in (org.name, org.short_name, org.name_en):
            return f"use the id `{org.id}` for {org.name}"
    return suggest(value, [t.id for t in policy.townships()])


def _matter_hint(policy: Policy, value: str) -> str | None:
    for matter in policy.matters.values():
        if value == matter.name or value in matter.aliases:
            return f"use the id `{matter.id}` for {matter.name}"
    return suggest(value, policy.matters) or "search the list with GET /v1/matters?q="


def check_value(policy: Policy, attr: Attribute, value: Scalar) -> Scalar:
    """Check one attribute value against its declaration; return it unchanged."""
    field = f"attributes.{attr.id}"
    kind = attr.type
    if kind is AttributeType.bool:
        if not isinstance(value, bool):
            raise CaseError(ErrorCode.WRONG_TYPE, f"`{attr.id}` must be true or false", field)
        return value
    if kind in (AttributeType.int, AttributeType.number):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CaseError(ErrorCode.WRONG_TYPE, f"`{attr.id}` must be a number", field)
        if kind is AttributeType.int and isinstance(value, float) and not value.is_integer():
            raise CaseError(ErrorCode.WRONG_TYPE, f"`{attr.id}` must be a whole number", field)
        if isinstance(value, float) and not math.isfinite(value):
            raise CaseError(ErrorCode.WRONG_TYPE, f"`{attr.id}` must be a finite number", field)
        if (attr.minimum is not None and value < attr.minimum) or (
            attr.maximum is not None and value > attr.maximum
        ):
            raise CaseError(
                ErrorCode.VALUE_OUT_OF_RANGE,
                f"`{attr.id}` must lie between {attr.minimum} and {attr.maximum}",
                field,
            )
        return value
    if not isinstance(value, str):
        raise CaseError(ErrorCode.WRONG_TYPE, f"`{attr.id}` must be a string id", field)
    if kind is AttributeType.township:
        if value not in policy.township_ids:
            raise CaseError(
                ErrorCode.VALUE_NOT_ALLOWED, f"`{value}` is not a township", field, _township_hint(policy, value)
            )
        return value
    allowed = [v.id for v in attr.values]
    if value not in allowed:
        raise CaseError(
            ErrorCode.VALUE_NOT_ALLOWED,
            f"`{value}` is not an allowed value of `{attr.id}`",
            field,
            suggest(value, allowed) or f"allowed: {', '.join(allowed)}",
            {"allowed": allowed},
        )
    return value


def check_case(policy: Policy, case: Case, known_good: set[tuple[str, type, object]] | None = None) -> None:
    """Raise CaseError for anything in the case the policy does not know.

    `known_good` (optional, owned by the caller) remembers attribute values that passed,
    so a value seen before is not checked again; values that fail are never added.
    """
    township = policy.organizations.get(case.township)
    if township is None or not township.is_township:
        raise CaseError(
            ErrorCode.UNKNOWN_TOWNSHIP,
            f"unknown township `{case.township}`",
            "township",
            _township_hint(policy, case.township) or "list them with GET /v1/organizations?kind=township",
        )
    if case.matter is not None and case.matter not in policy.matters:
        raise CaseError(ErrorCode.UNKNOWN_MATTER, f"unknown matter `{case.matter}`", "matter", _matter_hint(policy, case.matter))
    for key, value in case.attributes.items():
        if known_good is not None and (key, type(value), value) in known_good:
            continue
        attr = policy.attributes.get(key)
        if attr is None:
            raise CaseError(
                ErrorCode.UNKNOWN_ATTRIBUTE,
                f"unknown attribute `{key}`",
                f"attributes.{key}",
                suggest(key, policy.attributes) or f"known: {', '.join(sorted(policy.attributes))}",
            )
        check_value(policy, attr, value)
        if known_good is not None and len(known_good) < 65536:
            known_good.add((key, type(value), value))


def build_fact(policy: Policy, case: Case) -> dict[str, Any]:
    """The fact for a checked case: its attributes (with defaults) plus derived facts."""
    township = policy.organizations[case.township]
    fact: dict[str, Any] = {
        a.id: a.default for a in policy.attributes.values() if a.default is not None
    }
    fact.update(case.attributes)
    team, _ = policy.team_for(township.id, case.as_of)
    fact.update(
        township=township.id,
        township_kind=township.kind.value,
        team=team,
        as_of=date_number(case.as_of),
    )
    if case.matter is not None:
        matter = policy.matters[case.matter]
        fact["matter"] = matter.id
        fact["domain"] = matter.domain
        fact["delegated"] = bool(policy.delegations_for(township.id, matter.id, case.as_of))
    return fact
