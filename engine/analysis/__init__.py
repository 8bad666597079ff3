"""Analysis of whole policies: the case space, static checks and proofs (`check`), and the
impact of a change (`diff`), and of a template change on every county (`template_impact`).
"""

from engine.analysis.check import Report, check_dir, check_files, check_policy, example_decider, gate
from engine.analysis.diff import Decide, Impact, impact, render_table
from engine.analysis.findings import FindingSeverity
from engine.analysis.space import relevant_attributes
from engine.analysis.template_impact import CountyImpact, template_impact

__all__ = ["Decide", "check_dir", "check_files", "check_policy", "CountyImpact", "example_decider", "gate", "Impact", "impact", "render_table", "Report", "FindingSeverity", "relevant_attributes", "template_impact"]
