"""A synthetic policy ×N: the seed policy with every matter and rule cloned N-1 times.

Clones keep the seed's structure (domains, conditions, leads) so they exercise the same
engine paths at N times the size; ids get a `-xK` suffix and names a `(副本K)` marker.
Used by benchmarks and by the checker's scaling note.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.policy.load import read_policy_dir


def _clone_matter(item: dict[str, Any], k: int) -> dict[str, Any]:
    out = dict(item)
    out["id"] = f"{item['id']}-x{k}"
    out["name"] = f"{item['name']}(副本{k})"
    return out


def _clone_rule(item: dict[str, Any], k: int, matter_ids: set[str]) -> dict[str, Any]:
    out = dict(item)
    out["id"] = f"{item['id']}-x{k}"
    when = dict(item["when"])
    matter = when.get("matter")
    if isinstance(matter, str) and matter in matter_ids:
        when["matter"] = f"{matter}-x{k}"
    elif isinstance(matter, list):
        when["matter"] = [f"{m}-x{k}" if m in matter_ids else m for m in matter]
    elif matter is None:
        return {}  # matter-independent rules apply to clones already; cloning would only duplicate them
    out["when"] = when
    return out


def synthetic_files(seed: Path, scale: int) -> dict[str, str]:
    """The seed policy's files plus `scale - 1` clones of its matters, rules and delegations."""
    files = read_policy_dir(seed)
    if scale <= 1:
        return files
    matter_ids = {m["id"] for text in files.values() for m in (yaml.safe_load(text) or {}).get("matters", [])}
    out = dict(files)
    for name, text in files.items():
        data = yaml.safe_load(text) or {}
        clone: dict[str, list[dict[str, Any]]] = {}
        for k in range(1, scale):
            for m in data.get("matters", []):
                clone.setdefault("matters", []).append(_clone_matter(m, k))
            for r in data.get("rules", []):
                rule = _clone_rule(r, k, matter_ids)
                if rule:
                    clone.setdefault("rules", []).append(rule)
            for d in data.get("delegations", []):
                clone.setdefault("delegations", []).append(
                    {**d, "id": f"{d['id']}-x{k}", "matters": [f"{m}-x{k}" for m in d["matters"]]}
                )
        if clone:
            out[f"synthetic/{name}"] = yaml.safe_dump(clone, allow_unicode=True, sort_keys=False)
    return out
