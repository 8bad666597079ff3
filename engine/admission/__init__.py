"""Grid task admission review (事务进网格准入审查): a proposal in, a frozen `Review` out.
"""

from engine.admission.review import BasisRef, Proposal, Review, review

__all__ = ["BasisRef", "Proposal", "Review", "review"]
