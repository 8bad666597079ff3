"""The policy as authored and loaded: models, loading, cross-reference checks, the index.

Flow: `load_policy` (load) reads the YAML files, `validate` cross-checks them, `Policy` (index)
holds the result with where each item was written (locate); `layers` resolves a county list
that extends a template; `sources` reads a directory at a git revision.
"""

from engine.policy.grid import FACTS, GridPolicy, grid_of
from engine.policy.index import Change, Layer, Location, Policy
from engine.policy.layers import source_path
from engine.policy.load import digest_files, load_policy, policy_from_files, read_layer_dir, read_policy_dir
from engine.policy.model import (
    Attribute,
    AttributeType,
    Basis,
    Comparison,
    Delegation,
    GridCriterion,
    Matter,
    PolicyFile,
    Provenance,
    Responsibility,
    Rule,
    RuleKind,
)
from engine.policy.sources import layer_files_at, parse_source, policy_files_at
from engine.policy.validate import closest, suggest, suggest_named
from engine.policy.versioning import unchanged_since_commit, unchanged_version

__all__ = ["Attribute", "AttributeType", "Basis", "Change", "Comparison", "Delegation", "digest_files", "FACTS", "grid_of", "GridCriterion", "GridPolicy", "Layer", "layer_files_at", "load_policy", "Location", "Matter", "parse_source", "Policy", "policy_files_at", "policy_from_files", "PolicyFile", "Provenance", "read_layer_dir", "read_policy_dir", "Responsibility", "source_path", "Rule", "RuleKind", "suggest", "closest", "suggest_named", "unchanged_since_commit", "unchanged_version"]
