"""Analysis of whole policies: the case space, static checks and proofs (`check`), and the
impact of a change (`diff`).
"""

from engine.analysis.check import Report, check_dir, check_files, check_policy, example_decider, gate
from engine.analysis.diff import Impact, impact, render_table
from engine.analysis.findings import FindingSeverity

__all__ = ["check_dir", "check_files", "check_policy", "example_decider", "gate", "Impact", "impact", "render_table", "Report", "FindingSeverity"]
