"""Who leads a case: the case and decision values, the fact durable_rules sees, precedence,
and the decision cache.
"""

from engine.lead.decide import TIER_ZH, decide
from engine.lead.decision import Case, Decision

__all__ = ["Case", "decide", "Decision", "TIER_ZH"]
