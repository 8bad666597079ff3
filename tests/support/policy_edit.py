"""Edit one clause of a policy the way an author would, for tests that need a changed policy.

Edits go through the YAML of the file that holds the item (found by id), so they do not
depend on how the file is laid out.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from engine.policy.index import Policy
from engine.policy.load import load_policy, policy_from_files


def _edit_text(text: str, section: str, item_id: str, changes: dict[str, Any]) -> str:
    data = yaml.safe_load(text)
    item = next(i for i in data[section] if i.get("id") == item_id)
    item.update(changes)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def edit_policy(policy: Policy, section: str, item_id: str, **changes: Any) -> Policy:
    """A copy of `policy` (in memory) with one item's fields changed."""
    files = dict(policy.files)
    name = policy.where(section, item_id).file
    files[name] = _edit_text(files[name], section, item_id, changes)
    return policy_from_files(files)


def copy_with_edit(source: Path, target: Path, section: str, item_id: str, **changes: Any) -> Path:
    """A copy of the policy directory `source` at `target` with one item's fields changed."""
    shutil.copytree(source, target)
    name = load_policy(target).where(section, item_id).file
    path = target / name
    path.write_text(_edit_text(path.read_text(encoding="utf-8"), section, item_id, changes), encoding="utf-8")
    return target
