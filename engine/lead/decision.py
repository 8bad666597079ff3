"""The case that comes in and the decision that goes out: frozen values, no behaviour.

`Decision.to_dict()` is the canonical serialisation: the API response body (plus the
decision id), the decision log and replay all use it, so a replay can be compared
byte for byte.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal

import orjson

from engine.policy.index import Change
from engine.policy.model import Basis, Organization, Scalar

DecisionOutcome = Literal["assigned", "dispatch", "conflict"]
Result = Literal["won", "lost", "tied", "conflict", "applied", "skipped", "dispatch", "note"]


@dataclass(frozen=True)
class Case:
    """A case to decide. `as_of` is required: the engine reads no clock."""

    township: str
    as_of: date
    matter: str | None = None
    attributes: Mapping[str, Scalar] = field(default_factory=dict)
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The case as JSON for reports (check --json, diff): matter, township, attributes, date."""
        return {
            "matter": self.matter,
            "township": self.township,
            "attributes": dict(self.attributes),
            "as_of": self.as_of.isoformat(),
        }


@dataclass(frozen=True)
class OrgRef:
    id: str
    name: str
    name_en: str | None = None
    kind: str | None = None
    succeeded: tuple[str, ...] = ()  # ids of bodies this one took over from, for this date

    @staticmethod
    def of(org: Organization, succeeded: tuple[Organization, ...] = ()) -> OrgRef:
        return OrgRef(org.id, org.name, org.name_en, org.kind.value, tuple(o.id for o in succeeded))

    def to_dict(self) -> dict[str, Any]:
        out = dict(self._wire)
        if self.succeeded:
            out["succeeded"] = list(self.succeeded)
        return out

    @cached_property
    def _wire(self) -> dict[str, Any]:
        # Built once per (memoised) OrgRef: serialising is on every decision's path.
        out: dict[str, Any] = {"id": self.id, "name": self.name}
        if self.name_en:
            out["name_en"] = self.name_en
        if self.kind:
            out["kind"] = self.kind
        return out


@dataclass(frozen=True)
class RuleRef:
    id: str
    title: str
    kind: str
    basis: tuple[Basis, ...]
    layers: tuple[Change, ...] = ()  # a layered policy's clause: the layer that defined it, then overrides

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "basis": [dict(b) for b in self._basis],
        }
        if self.layers:
            out["layers"] = [c.to_dict() for c in self.layers]
        return out

    @cached_property
    def _basis(self) -> tuple[dict[str, Any], ...]:
        return tuple(b.model_dump(exclude_none=True) for b in self.basis)


@dataclass(frozen=True)
class Explanation:
    rule: str
    result: Result
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "result": self.result, "reason": self.reason}


@dataclass(frozen=True)
class Decision:
    """Who leads a case, and why. Carries every reason; never mutated after `decide`."""

    outcome: DecisionOutcome
    lead: OrgRef
    supports: tuple[OrgRef, ...]
    township: OrgRef
    township_duties: tuple[str, ...]
    time_limits: Mapping[str, str]
    rule: RuleRef
    explanation: tuple[Explanation, ...]
    policy: Mapping[str, str]
    as_of: date
    matter: Mapping[str, str] | None = None
    coordinator: OrgRef | None = None
    candidates: tuple[OrgRef, ...] = ()
    arbiter: OrgRef | None = None
    notes: tuple[str, ...] = ()
    fired: tuple[str, ...] = ()
    reference: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "lead": self.lead.to_dict(),
            "supports": [s.to_dict() for s in self.supports],
            "township": {**self.township.to_dict(), "duties": list(self.township_duties)},
            "matter": dict(self.matter) if self.matter else None,
            "time_limits": dict(self.time_limits),
            "rule": self.rule.to_dict(),
            "explanation": [e.to_dict() for e in self.explanation],
            "coordinator": self.coordinator.to_dict() if self.coordinator else None,
            "candidates": [c.to_dict() for c in self.candidates],
            "arbiter": self.arbiter.to_dict() if self.arbiter else None,
            "notes": list(self.notes),
            "fired": list(self.fired),
            "policy": dict(self.policy),
            "as_of": self.as_of.isoformat(),
            "reference": self.reference,
        }
        return out

    def with_reference(self, reference: str | None) -> Decision:
        """The same decision for another caller's reference (its rendering carried over)."""
        if reference == self.reference:
            return self
        other = dataclasses.replace(self, reference=reference)
        if "wire" in self.__dict__:
            other.__dict__["wire"] = self.__dict__["wire"]
        return other

    @cached_property
    def wire(self) -> bytes:
        """`to_dict()` as JSON without its opening brace and without the reference's value:
        everything of the answer that depends on the decision alone, ending `"reference":`.
        Rendered once per decision (engine.replay.response_bytes adds id and reference)."""
        rendered = orjson.dumps({**self.to_dict(), "reference": None})
        tail = b'"reference":null}'
        if not rendered.endswith(tail):  # to_dict() must keep `reference` last
            raise ValueError("Decision.to_dict() must end with `reference`")
        return rendered[1 : -len(b"null}")]
