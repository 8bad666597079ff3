"""Rules: the policy compiled to durable_rules rulesets, the one adapter that runs them, and
its structural limits; `evaluate` runs the same definitions in Python for proofs.
"""

from engine.rules.compile import CompiledPolicy, compile_policy
from engine.rules.durable import DurableRules, Registration, shared_adapter

__all__ = ["compile_policy", "CompiledPolicy", "DurableRules", "Registration", "shared_adapter"]
