"""tiaokuai engine: load → validate → compile → decide. No HTTP, no global clock.

The flow: `load_policy` reads policy/ (engine.load, engine.validate), `compile_policy`
turns it into durable_rules rulesets (engine.compile), `Runtime` registers them through
the one adapter (engine.durable) and `decide` applies precedence (engine.decide).
"""

from engine.compile import CompiledPolicy, compile_policy
from engine.decide import decide
from engine.decision import Case, Decision
from engine.errors import CaseError, CompileError, EngineFailure, Finding, PolicyError, TiaokuaiError
from engine.load import load_policy, policy_from_files
from engine.policy import Policy
from engine.runtime import Runtime

__all__ = [
    "Case",
    "CaseError",
    "CompileError",
    "CompiledPolicy",
    "Decision",
    "EngineFailure",
    "Finding",
    "Policy",
    "PolicyError",
    "Runtime",
    "TiaokuaiError",
    "compile_policy",
    "decide",
    "load_policy",
    "policy_from_files",
]

ENGINE_VERSION = "0.1.0"
