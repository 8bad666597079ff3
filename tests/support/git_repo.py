"""A scratch git repository holding a committed copy of a policy, as an author's checkout does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def committed_policy(root: Path, policy: Path, jurisdictions: Path | None = None) -> Path:
    """`root` as a git work tree with `policy` copied to root/policy (and `jurisdictions`, the
    template and county layers, to root/jurisdictions) and committed; returns root."""
    shutil.copytree(policy, root / "policy")
    if jurisdictions is not None:
        shutil.copytree(jurisdictions, root / "jurisdictions")
    git = ["git", "-C", str(root), "-c", "user.name=author", "-c", "user.email=author@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "policy", *(["jurisdictions"] if jurisdictions is not None else [])], check=True)
    subprocess.run([*git, "commit", "-qm", "policy"], check=True)
    return root
