"""The active policy of a running process: load, activate, decide, reload.

One `Runtime` per process holds the durable_rules adapter and the active compiled policy.
Activation is all-or-nothing: a policy that fails to load, validate, check (the fast checks
of `engine.analysis.check.gate`), compile or register raises and the previous one keeps serving.

Each active policy has its own decision cache (engine.lead.cache): a case seen before under the
same policy digest is answered without durable_rules; every other case is evaluated by it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from engine.admission.review import CRITERIA_SHARD, Proposal, Review, compile_criteria, review
from engine.analysis.check import gate
from engine.errors import CaseError, EngineFailure, ErrorCode, TiaokuaiError
from engine.intake import Intake, intake_for
from engine.lead.cache import DEFAULT_CACHE_SIZE, DecisionCache, cache_key
from engine.lead.decide import decide
from engine.lead.decision import Case, Decision
from engine.log.store import DecisionLog
from engine.policy.index import Policy
from engine.policy.load import load_policy, policy_from_files
from engine.policy.model import Scalar
from engine.rules.compile import CompiledPolicy, build_definitions
from engine.rules.durable import DurableRules, Registration, shared_adapter


@dataclass(frozen=True)
class Active:
    compiled: CompiledPolicy
    registration: Registration
    loaded_at: datetime
    source: str
    criteria: Registration | None = None  # grid admission criteria: a ruleset of their own
    cache: DecisionCache = field(default_factory=DecisionCache, compare=False)
    intake: Intake | None = field(default=None, compare=False)  # built with the policy (engine.intake)

    @property
    def policy(self) -> Policy:
        return self.compiled.policy


@dataclass(frozen=True)
class LeadRequest:
    """A lead request as the engine reads it: ids (`matter`, `township`), words (`text`,
    `place`), or both; explicit ids and attributes win over what intake infers."""

    as_of: date
    matter: str | None = None
    township: str | None = None
    text: str | None = None
    place: str | None = None
    attributes: Mapping[str, Scalar] = field(default_factory=dict)
    reference: str | None = None

    @property
    def in_words(self) -> bool:
        return self.text is not None or self.place is not None


@dataclass(frozen=True)
class Answer:
    """A lead decision and, for a request in words, the `intake` block that says how it was read."""

    decision: Decision
    intake: Mapping[str, object] | None = None

    def to_dict(self, decision_id: str) -> dict[str, Any]:
        """The answer body as sent and logged (engine.replay renders it the same way)."""
        body: dict[str, Any] = {"decision_id": decision_id, **self.decision.to_dict()}
        if self.intake is not None:
            body["intake"] = dict(self.intake)
        return body


class Runtime:
    """Serves decisions from the active policy; swaps policies atomically."""

    def __init__(self, active: Active, adapter: DurableRules, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._adapter = adapter
        self._swap = threading.Lock()
        self._retired: Registration | None = None
        self._retired_criteria: Registration | None = None
        self.reload_lock = threading.Lock()  # one reload at a time (engine.reload)
        self.cache_size = cache_size
        self._active = dataclasses.replace(active, cache=DecisionCache(cache_size))

    @classmethod
    def from_dir(cls, path: Path | str, cache_size: int = DEFAULT_CACHE_SIZE) -> Runtime:
        adapter = shared_adapter()
        return cls(activate(load_policy(path), adapter, str(path)), adapter, cache_size)

    @classmethod
    def from_files(cls, files: dict[str, str], source: str = "<files>", cache_size: int = DEFAULT_CACHE_SIZE) -> Runtime:
        adapter = shared_adapter()
        return cls(activate(policy_from_files(files), adapter, source), adapter, cache_size)

    @property
    def active(self) -> Active:
        return self._active

    @property
    def policy(self) -> Policy:
        return self._active.policy

    def decide(self, case: Case) -> Decision:
        """Decide `case` under the active policy (from its cache when the same case was seen)."""
        active = self._active  # one read: a concurrent swap cannot split a decision
        key = cache_key(case)
        cached = active.cache.get(key)
        if cached is not None:
            return cached.with_reference(case.reference)
        try:
            decision = self._evaluate(active, case)
        except EngineFailure:
            if self._active is active:
                raise
            # NOTE: this decision read a policy that was replaced twice while it ran, so
            # its rulesets are gone; the answer comes from the policy now active.
            active = self._active
            decision = self._evaluate(active, case)
        active.cache.put(key, decision)
        return decision

    @property
    def intake(self) -> Intake:
        """The active policy's intake (matcher, places, cues)."""
        active = self._active
        return active.intake if active.intake is not None else intake_for(active.policy)

    def answer(self, request: LeadRequest) -> Answer:
        """Decide a lead request. Ids alone go straight to `decide` (no intake cost); a request
        in words is read by intake first, and the answer carries how."""
        if not request.in_words:
            if request.township is None:
                raise CaseError(
                    ErrorCode.MISSING_FIELD,
                    "no township: give `township` (an id), `place` (a name or address), or `text` that names it",
                    "township",
                    "GET /v1/organizations?kind=township lists them; villages and aliases are accepted in `place`",
                )
            case = Case(
                township=request.township, as_of=request.as_of, matter=request.matter,
                attributes=dict(request.attributes), reference=request.reference,
            )
            return Answer(self.decide(case))
        read = self.intake.interpret(
            text=request.text,
            place=request.place,
            matter=request.matter,
            township=request.township,
            attributes=request.attributes,
            on=request.as_of,
        )
        case = Case(
            township=read.township, as_of=request.as_of, matter=read.matter,
            attributes=dict(read.attributes), reference=request.reference,
        )
        return Answer(self.decide(case), read.block)

    def decide_uncached(self, case: Case) -> Decision:
        """Decide `case` with durable_rules, bypassing the cache (benchmarks, differential tests)."""
        return self._evaluate(self._active, case)

    def _evaluate(self, active: Active, case: Case) -> Decision:
        return decide(case, active.compiled, active.registration.fire)

    def review(self, proposal: Proposal) -> Review:
        """Review a grid task proposal against the active policy's admission criteria."""
        active = self._active
        criteria = active.criteria

        def fire(fact: dict[str, Any]) -> list[str]:
            return [] if criteria is None else self._adapter.fire(criteria.names[CRITERIA_SHARD], fact)

        return review(proposal, active.policy, fire)

    def swap(self, policy: Policy, source: str) -> Active:
        """Activate `policy`. The replaced version stays registered until the next swap.

        # NOTE: a decision that read the old `Active` just before the swap may still be
        # firing its rulesets; dropping them one swap later lets it finish.
        """
        with self._swap:
            new = dataclasses.replace(activate(policy, self._adapter, source), cache=DecisionCache(self.cache_size))
            old, self._active = self._active, new
            if self._retired is not None:
                self._adapter.unregister(self._retired)
            self._retired = old.registration
            if self._retired_criteria is not None:
                self._adapter.unregister(self._retired_criteria)
            self._retired_criteria = old.criteria
        return new


def activate(policy: Policy, adapter: DurableRules, source: str) -> Active:
    """Check, compile and register `policy`; raise PolicyError (nothing registered) on errors."""
    compiled = build_definitions(policy)
    # engine.analysis.check's fast checks: every error kind (the structural limits of these very
    # definitions among them), no enumeration; the warning-only checks are left to `tiaokuai check`
    gate(policy, compiled, warnings=False)
    registration = adapter.register(compiled)
    criteria = None
    compiled_criteria = compile_criteria(policy)
    if compiled_criteria is not None:
        try:
            criteria = adapter.register(compiled_criteria)
        except Exception:
            adapter.unregister(registration)  # all or nothing: the previous policy keeps serving
            raise
    return Active(compiled, registration, datetime.now(UTC), source, criteria, intake=intake_for(policy))


@dataclass(frozen=True)
class Resumed:
    """What a starting worker serves, and whether the policy directory holds something else."""

    runtime: Runtime
    first_start: bool
    disk_digest: str | None  # the directory's digest when it differs from the active policy


def resume(log: DecisionLog, policy_dir: Path, cache_size: int = DEFAULT_CACHE_SIZE) -> Resumed:
    """The runtime a (re)starting worker serves: the last activated policy version, read
    from the decision log by digest. Only when none was ever activated is the policy
    directory loaded (and gated) and recorded as the first activation.

    # NOTE: a restarted worker must not pick up an unreviewed or rejected edit on disk;
    # only a gated reload (engine.reload) changes the active policy.
    """
    from engine.policy.layers import manifest_of
    from engine.policy.load import digest_files, read_layer_dir, read_policy_dir

    try:  # the jurisdiction this directory holds: each resumes its own last activation
        policy_id = (manifest_of(read_layer_dir(policy_dir)) or {}).get("id")
    except (OSError, TiaokuaiError):
        policy_id = None
    digest = log.active_digest(policy_id if isinstance(policy_id, str) else None)
    if digest is None:
        runtime = Runtime.from_dir(policy_dir, cache_size)
        log.activate(runtime.policy, str(policy_dir))
        return Resumed(runtime, True, None)
    runtime = Runtime.from_files(log.policy_files(digest), f"activated version {digest[:12]} (decision log)", cache_size)
    try:
        on_disk: str | None = digest_files(read_policy_dir(policy_dir))
    except (OSError, TiaokuaiError):
        on_disk = None
    return Resumed(runtime, False, on_disk if on_disk != digest else None)
