"""A loaded, validated policy: the indexed sections plus where each item was written.

Date-dependent lookups (which body is in force, who succeeded it, which township team
serves a township, which delegations apply) live here so that decide, check and diff
answer them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from engine.policy.model import (
    Attribute,
    Basis,
    Calendar,
    Delegation,
    Lifecycle,
    Manifest,
    Matter,
    Organization,
    Recall,
    Rule,
)


@dataclass(frozen=True)
class Location:
    """Where an item was written: a path relative to the policy directory, 1-based line."""

    file: str
    line: int | None = None


@dataclass(frozen=True)
class Resolved:
    """An organization reference resolved for one date, with the successor chain followed."""

    org: Organization
    via: tuple[Organization, ...] = ()  # bodies that ended and were succeeded, oldest first


@dataclass(frozen=True)
class Layer:
    """One layer of a resolved policy: the province template, a city notice, the county list.

    `prefix` is where its files sit in `Policy.files`: "" for the policy's own layer,
    "@<id>/" for a layer it extends.
    """

    id: str
    title: str
    jurisdiction: str
    version: str
    digest: str
    template: bool = False
    prefix: str = ""


@dataclass(frozen=True)
class Change:
    """What a layer did to a clause it inherited: an override (`fields`) or a removal."""

    layer: str
    action: str  # "defined" | "override" | "remove"
    location: Location
    fields: tuple[str, ...] = ()
    basis: tuple[Basis, ...] = ()
    township_kind: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"layer": self.layer, "action": self.action}
        if self.fields:
            out["fields"] = list(self.fields)
        if self.township_kind:
            out["township_kind"] = self.township_kind
        return out


@dataclass(frozen=True)
class Policy:
    """The whole policy. Built only by `engine.policy.load`, which validates it first."""

    manifest: Manifest
    organizations: Mapping[str, Organization]
    attributes: Mapping[str, Attribute]
    matters: Mapping[str, Matter]
    rules: tuple[Rule, ...]
    delegations: tuple[Delegation, ...]
    locations: Mapping[tuple[str, str], Location]
    digest: str
    files: Mapping[str, str] = field(repr=False)
    extensions: Mapping[str, object] = field(default_factory=dict, repr=False)
    lifecycle: Lifecycle | None = None  # the case lifecycle (policy/lifecycle.yaml)
    lifecycle_file: str | None = None
    calendar: Calendar | None = None  # the official calendar of holidays and swapped working days
    calendar_file: str | None = None
    recalls: tuple[Recall, ...] = ()
    # Layering (engine.policy.layers): the chain from the outermost template to this policy's own
    # layer; empty for a policy that extends nothing. `history` holds, per clause, the
    # layer that defined it and every later override; `removed` the clauses left out.
    layers: tuple[Layer, ...] = ()
    history: Mapping[tuple[str, str], tuple[Change, ...]] = field(default_factory=dict, repr=False)
    removed: Mapping[tuple[str, str], Change] = field(default_factory=dict, repr=False)

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def layered(self) -> bool:
        """True when this policy extends another layer."""
        return len(self.layers) > 1

    def layer_chain(self) -> tuple[str, ...]:
        """Layer ids from the outermost template to this policy (just its id when unlayered)."""
        return tuple(layer.id for layer in self.layers) or (self.id,)

    def clause_layers(self, section: str, item_id: str, township_kind: str | None = None) -> tuple[Change, ...]:
        """The layers that shaped a clause: where it was defined, then each override that
        applies (overrides for another township kind are left out)."""
        return tuple(
            c
            for c in self.history.get((section, item_id), ())
            if c.township_kind is None or c.township_kind == township_kind
        )

    def where(self, section: str, item_id: str) -> Location:
        return self.locations.get((section, item_id), Location("<policy>"))

    def rule(self, rule_id: str) -> Rule:
        return self.rules_by_id[rule_id]

    @cached_property
    def rules_by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}

    def townships(self) -> list[Organization]:
        return [o for o in self.organizations.values() if o.is_township]

    @cached_property
    def township_ids(self) -> frozenset[str]:
        """Ids of every township and street (checked on each case with a township attribute)."""
        return frozenset(o.id for o in self.townships())

    def resolve_org(self, org_id: str, on: date) -> Resolved:
        """Follow successors (机构改革) until a body in force on `on` is found.

        A body not yet in force, or one that ended without a successor, is returned as is:
        the checker reports such references, the decision still names the body written.
        """
        org = self.organizations[org_id]
        via: list[Organization] = []
        while (
            org.valid_until is not None
            and on >= org.valid_until
            and org.successor is not None
            and org.successor in self.organizations
            and len(via) < 16
        ):
            via.append(org)
            org = self.organizations[org.successor]
        return Resolved(org, tuple(via))

    @cached_property
    def _hubs_serving(self) -> dict[str, tuple[Organization, ...]]:
        # Indexes for the per-decision lookups below: without them each decision scans
        # every organization and delegation (O(policy) per case at ×10 sizes).
        hubs: dict[str, list[Organization]] = {}
        for org in self.organizations.values():
            for served in org.serves:
                hubs.setdefault(served, []).append(org)
        return {k: tuple(v) for k, v in hubs.items()}

    @cached_property
    def _delegations_by_case(self) -> dict[tuple[str, str], tuple[Delegation, ...]]:
        index: dict[tuple[str, str], list[Delegation]] = {}
        for d in self.delegations:
            for township_id in d.townships:
                for matter_id in d.matters:
                    found = index.setdefault((township_id, matter_id), [])
                    if d not in found:
                        found.append(d)
        return {k: tuple(v) for k, v in index.items()}

    def hub_of(self, township_id: str, on: date) -> Organization | None:
        """The 1+X hub whose team serves this township on that date, if any."""
        for org in self._hubs_serving.get(township_id, ()):
            if org.in_force(on) and org.enforcement_team:
                return org
        return None

    def team_for(self, township_id: str, on: date) -> tuple[str, Organization | None]:
        """Which comprehensive enforcement team acts in a township: ("own"|"hub"|"none", team)."""
        township = self.organizations[township_id]
        if township.enforcement_team and township.enforcement_team in self.organizations:
            team = self.organizations[township.enforcement_team]
            if team.in_force(on):
                return "own", team
        hub = self.hub_of(township_id, on)
        if hub is not None and hub.enforcement_team is not None and hub.enforcement_team in self.organizations:
            team = self.organizations[hub.enforcement_team]
            if team.in_force(on):
                return "hub", team
        return "none", None

    def delegations_for(self, township_id: str, matter_id: str, on: date) -> list[Delegation]:
        """Delegations (赋权) in force on that date covering the township and the matter."""
        return [d for d in self._delegations_by_case.get((township_id, matter_id), ()) if d.in_force(on)]

    def delegations_ended(self, township_id: str, matter_id: str, on: date) -> list[Delegation]:
        """Delegations that covered the township and matter but were taken back (收回) by then."""
        return [
            d
            for d in self._delegations_by_case.get((township_id, matter_id), ())
            if d.valid_until is not None and on >= d.valid_until
        ]

    def counts(self) -> dict[str, int]:
        return {
            "organizations": len(self.organizations),
            "townships": len(self.townships()),
            "attributes": len(self.attributes),
            "matters": len(self.matters),
            "rules": len(self.rules),
            "delegations": len(self.delegations),
            "recalls": len(self.recalls),
            "domains": len(self.manifest.domains),
        }
