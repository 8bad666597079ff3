"""tiaokuai engine: load → validate → compile → decide. No HTTP, no global clock.

The flow: `load_policy` reads policy/ (engine.policy), `compile_policy` turns it into
durable_rules rulesets (engine.rules), `Runtime` registers them through the one adapter
(engine.rules.durable) and `decide` applies precedence (engine.lead). Grid admission is
engine.admission, whole-policy analysis engine.analysis, the decision log engine.log, the
list as a spreadsheet engine.listing. This module and each subpackage's `__init__` are the
facades api/ imports; nothing outside the engine reaches into a submodule.
"""

from engine.errors import (
    ActorNotAllowed,
    ActorNotOnCase,
    AnalysisFailed,
    CaseError,
    CaseEventError,
    CaseExists,
    CaseNotFound,
    CheckpointError,
    CompileError,
    ConfirmationRequired,
    DeadlinePassed,
    DisputeState,
    EngineFailure,
    ErrorCode,
    EventInvalid,
    ExtensionRefused,
    Finding,
    ListsSheetError,
    LogError,
    NoLifecycle,
    PolicyError,
    ProposalError,
    RecordNotFound,
    ReplayError,
    RowError,
    SheetError,
    TiaokuaiError,
    TransitionNotAllowed,
    UnknownJurisdiction,
)
from engine.impact import Analysis, impact_in_child
from engine.jurisdictions import Jurisdictions, county_dirs
from engine.lead import Case, Decision, decide
from engine.policy import Policy, load_policy, policy_from_files
from engine.reload import ReloadResult, reload_policy
from engine.replay import Replayer, json_bytes, response_bytes
from engine.rules import CompiledPolicy, compile_policy
from engine.runtime import Answer, LeadRequest, Resumed, Runtime, resume
from engine.version import ENGINE_VERSION

__all__ = [
    "ActorNotAllowed",
    "ActorNotOnCase",
    "CaseEventError",
    "CaseExists",
    "CaseNotFound",
    "DeadlinePassed",
    "DisputeState",
    "EventInvalid",
    "ExtensionRefused",
    "NoLifecycle",
    "TransitionNotAllowed",
    "ENGINE_VERSION",
    "Answer",
    "Analysis",
    "impact_in_child",
    "AnalysisFailed",
    "CheckpointError",
    "ConfirmationRequired",
    "Resumed",
    "resume",
    "Case",
    "CaseError",
    "CompileError",
    "CompiledPolicy",
    "Decision",
    "EngineFailure",
    "ErrorCode",
    "Finding",
    "LeadRequest",
    "Jurisdictions",
    "ListsSheetError",
    "LogError",
    "Policy",
    "PolicyError",
    "ProposalError",
    "RecordNotFound",
    "ReloadResult",
    "ReplayError",
    "Replayer",
    "RowError",
    "Runtime",
    "SheetError",
    "TiaokuaiError",
    "UnknownJurisdiction",
    "compile_policy",
    "county_dirs",
    "decide",
    "json_bytes",
    "load_policy",
    "policy_from_files",
    "reload_policy",
    "response_bytes",
]
