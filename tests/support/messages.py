"""The test-helper rule for admission messages: no placeholder is left to chance.

`engine.admission.review.render` prints "—" for a name it cannot fill, which is right for a
fact that does not apply to a proposal (`duration_days` without an end date) and wrong for
anything else: a display name the engine forgot, or renamed, would reach officials as "—".
`assert_fully_rendered` fails the test instead, for every criterion of the policy, fired or not.
"""

from __future__ import annotations

import string

from engine.admission.review import Proposal, derive
from engine.policy.grid import FACTS, MESSAGE_NAMES, grid_of
from engine.policy.index import Policy


def placeholders(template: str) -> set[str]:
    """The `{name}` fields a message template uses."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def assert_fully_rendered(policy: Policy, proposal: Proposal) -> None:
    """Every placeholder of every criterion message is filled from what `derive` provides for
    this proposal, except facts that do not apply to it; every declared message name is provided."""
    grid = grid_of(policy)
    assert grid is not None, f"policy `{policy.id}` has no grid admission chapter"
    derived = derive(policy, grid, proposal)
    names = set(derived.context)
    missing_names = sorted(set(MESSAGE_NAMES) - names)
    assert not missing_names, f"derive() does not provide the declared message names {missing_names}"
    assert set(derived.facts) <= names, f"facts missing from the message context: {sorted(set(derived.facts) - names)}"
    for criterion in grid.criteria:
        unknown = sorted(n for n in placeholders(criterion.message) if n not in names and n not in FACTS)
        assert not unknown, f"{criterion.id}: message placeholders {unknown} would render as —"
