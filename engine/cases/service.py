"""Cases end to end: open from a decision, act, decide again on a return, rule on a dispute.

The routes and the CLI call this; it calls the rules (through the `decide` it is given),
the decision log (re-decisions are logged like any decision) and the case store. Every
command is judged by `engine.cases.machine` inside the store's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import yaml

from engine.cases.chapter import CaseChapter, chapter_of
from engine.cases.clock import china_time
from engine.cases.machine import (
    RETURN,
    RULING,
    CaseState,
    Command,
    Event,
    fold,
    opening,
    plan,
)
from engine.cases.store import Appended, CaseStore
from engine.errors import CaseError, ErrorCode, EventInvalid, RecordNotFound
from engine.lead.decision import Case
from engine.log.store import DecisionLog
from engine.policy.index import Policy
from engine.policy.validate import suggest

LEAD_REQUEST_KEYS = ("matter", "township", "attributes", "as_of", "reference")


@dataclass(frozen=True)
class Ruling:
    """The arbiter's ruling: who leads cases like this one, and on what basis."""

    actor: str
    lead: str
    at: datetime
    basis: Mapping[str, str]  # document (the meeting minute), article?, issuer?
    reason: str | None = None
    supports: tuple[str, ...] | None = None
    operator: str | None = None


@dataclass(frozen=True)
class Corrections:
    """What a returning department says the case really is."""

    attributes: Mapping[str, Any] = field(default_factory=dict)
    township: str | None = None
    matter: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        if self.township:
            out["township"] = self.township
        if self.matter:
            out["matter"] = self.matter
        return out


class CaseService:
    def __init__(
        self,
        store: CaseStore,
        decision_log: DecisionLog,
        policy: Callable[[], Policy],
        decide_logged: Callable[[Case, Mapping[str, Any]], dict[str, Any]],
    ) -> None:
        """`policy` gives the active policy; `decide_logged(case, request)` decides a lead
        request and logs it as a `lead` record, returning the logged answer body (the api
        wires the runtime and the decision log in, as for POST /v1/cases/lead)."""
        self.store = store
        self.log = decision_log
        self._policy = policy
        self._decide_logged = decide_logged
        self._stored: set[str] = set()

    # --- helpers ------------------------------------------------------------------

    def chapter(self) -> tuple[Policy, CaseChapter]:
        policy = self._policy()
        return policy, chapter_of(policy)

    def _ensure_stored(self, policy: Policy) -> None:
        if policy.digest not in self._stored:
            self.log.store_policy(policy)
            self._stored.add(policy.digest)

    def _project(self, chapter: CaseChapter) -> Callable[[str, Sequence[Event]], CaseState]:
        return lambda case_id, events: fold(case_id, events, chapter)

    # --- commands -----------------------------------------------------------------

    def open(
        self,
        *,
        actor: str | None,
        at: datetime,
        decision_id: str | None = None,
        request: Mapping[str, Any] | None = None,
        case: Case | None = None,
        reason: str | None = None,
        operator: str | None = None,
        idempotency_key: str | None = None,
    ) -> Appended:
        """Open a case from a logged decision (`decision_id`) or decide `case` and open it."""
        policy, chapter = self.chapter()
        self._ensure_stored(policy)
        if decision_id is not None:
            try:
                record = self.log.get(decision_id)
            except RecordNotFound:
                raise CaseError(ErrorCode.UNKNOWN_DECISION, f"no decision `{decision_id}` in the decision log", "decision_id") from None
            if record.kind != "lead":
                raise CaseError(ErrorCode.NOT_A_LEAD_DECISION, f"`{decision_id}` is a `{record.kind}` record, not a lead decision", "decision_id")
            decision = record.response_json()
            lead_request = record.request_json()
        elif case is not None and request is not None:
            decision = self._decide_logged(case, request)
            lead_request = dict(request)
        else:
            raise CaseError(ErrorCode.MISSING_FIELD, "give `decision_id` or `case`", "decision_id")
        if not isinstance(decision, Mapping) or not isinstance(lead_request, Mapping):
            raise CaseError(ErrorCode.UNKNOWN_DECISION, f"decision `{decision_id}` cannot be read back", "decision_id")
        lead_request = {k: lead_request[k] for k in LEAD_REQUEST_KEYS if k in lead_request}
        township = decision.get("township", {}).get("id")
        command = Command("open", actor or str(township), china_time(at), reason, operator=operator)

        def build(_existing: Sequence[Event] | None) -> Sequence[Event]:  # a new case: nothing stored yet
            return opening("", decision, lead_request, command, chapter)

        return self.store.append(None, build, self._project(chapter), policy.digest, idempotency_key, decision.get("decision_id"))

    def act(self, case_id: str, command: Command, corrections: Corrections | None = None, idempotency_key: str | None = None) -> Appended:
        """Store an event (sign, return, reassign, report_in, extend, handle, close, reopen …)."""
        policy, chapter = self.chapter()
        self._ensure_stored(policy)
        if command.kind == RULING:
            raise EventInvalid("rulings go to POST /v1/cases/{id}/ruling", field="kind")
        if command.kind == RETURN:
            command = self._with_redecision(case_id, command, corrections or Corrections(), policy, chapter)

        def build(existing: Sequence[Event] | None) -> Sequence[Event]:
            assert existing is not None
            return plan(fold(case_id, existing, chapter), command, chapter)

        return self.store.append(case_id, build, self._project(chapter), policy.digest, idempotency_key)

    def _with_redecision(self, case_id: str, command: Command, corrections: Corrections, policy: Policy, chapter: CaseChapter) -> Command:
        state = self.state(case_id, chapter)
        # judge first (state, actor, reason) so a refused return decides nothing
        probe = replace(command, data={**command.data, "redecision": {"outcome": "probe"}})
        plan(state, probe, chapter)
        request = dict(state.request)
        attributes = dict(request.get("attributes") or {})
        attributes.update(corrections.attributes)
        request.update(
            {
                "attributes": attributes,
                "township": corrections.township or request.get("township") or state.township,
                "as_of": china_time(command.at).date().isoformat(),
                "reference": case_id,
            }
        )
        if corrections.matter:
            request["matter"] = corrections.matter
        if state.matter and "matter" not in request:
            request["matter"] = state.matter
        case = Case(
            township=str(request["township"]),
            matter=request.get("matter"),
            attributes=attributes,
            as_of=date.fromisoformat(str(request["as_of"])),
            reference=case_id,
        )
        redecision = self._decide_logged(case, request)
        return replace(command, data={**command.data, "redecision": redecision, "request": request, "corrections": corrections.to_dict()})

    def rule(self, case_id: str, ruling: Ruling, idempotency_key: str | None = None) -> tuple[Appended, dict[str, Any]]:
        """Record the arbiter's ruling; return it with the proposed rule (YAML) for the list."""
        policy, chapter = self.chapter()
        self._ensure_stored(policy)
        if ruling.lead not in policy.organizations:
            raise CaseError(ErrorCode.UNKNOWN_ORGANIZATION, f"unknown organization `{ruling.lead}`", "lead", suggest(ruling.lead, policy.organizations))
        state = self.state(case_id, chapter)
        proposal = proposed_rule(state, ruling, policy)
        supports = list(ruling.supports) if ruling.supports is not None else [s for s in state.supports if s != ruling.lead]
        command = Command(
            RULING,
            ruling.actor,
            china_time(ruling.at),
            ruling.reason,
            operator=ruling.operator,
            data={"lead": ruling.lead, "supports": supports, "basis": dict(ruling.basis), "proposed_rule_id": proposal["id"],
                  "proposed_rule": proposal["yaml"]},
        )

        def build(existing: Sequence[Event] | None) -> Sequence[Event]:
            assert existing is not None
            return plan(fold(case_id, existing, chapter), command, chapter)

        return self.store.append(case_id, build, self._project(chapter), policy.digest, idempotency_key), proposal

    # --- reading ------------------------------------------------------------------

    def state(self, case_id: str, chapter: CaseChapter | None = None) -> CaseState:
        if chapter is None:
            chapter = self.chapter()[1]
        events = [s.event for s in self.store.events(case_id)]
        return fold(case_id, events, chapter)


def proposed_rule(state: CaseState, ruling: Ruling, policy: Policy) -> dict[str, Any]:
    """The rule that would settle the same dispute by the list next time, as YAML."""
    request = state.request
    matter_id = request.get("matter") or state.matter
    matter = policy.matters.get(str(matter_id)) if matter_id else None
    attributes = request.get("attributes") or {}
    when: dict[str, Any] = {"matter": matter_id} if matter_id else {}
    when |= {key: value for key, value in sorted(attributes.items()) if key in policy.attributes}
    if not when:
        when["township"] = state.township
    winner = policy.rules_by_id.get(str(state.decision.get("rule", {}).get("id")))
    # above the clause that decided the disputed case; a list default loses to any rule anyway
    priority = winner.priority + 1 if winner is not None else 0
    lead_name = policy.organizations[ruling.lead].name
    rule_id = f"BB-{matter_id or 'CASE'}-{state.case_id[-6:]}"
    supports = list(ruling.supports) if ruling.supports is not None else [s for s in state.supports if s != ruling.lead and s != state.township]
    supports = [s for s in supports if s in policy.organizations and s != ruling.lead]
    basis = {k: v for k, v in ruling.basis.items() if v}
    basis.setdefault("issuer", policy.organizations[policy.manifest.disputes.arbiter].name)
    rule: dict[str, Any] = {
        "id": rule_id,
        "title": f"编办裁定: {matter.name if matter else '案件'}由{lead_name}牵头",
        "kind": "integrated",
        "priority": priority,
        "when": when,
        "then": {"lead": ruling.lead, **({"supports": supports} if supports else {})},
        "basis": [basis],
        "valid_from": china_time(ruling.at).date().isoformat(),
        "provenance": "sourced",
        "source": f"案件 {state.case_id} 的编办裁定",
    }
    if ruling.reason:
        rule["description"] = ruling.reason
    header = (
        f"# 编办裁定生成的规则草案: 案件 {state.case_id}, {china_time(ruling.at).date().isoformat()}。\n"
        f"# 审阅后放入 policy/rules/, 用 `tiaokuai check` 和 `tiaokuai diff` 查看影响。\n"
    )
    text = header + yaml.safe_dump({"rules": [rule]}, allow_unicode=True, sort_keys=False, width=120)
    return {"id": rule_id, "file": f"rules/ruling-{rule_id}.yaml", "yaml": text, "rule": rule}
