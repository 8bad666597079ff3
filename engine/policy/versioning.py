"""The policy's version against its content: an edit that keeps the version is flagged.

The version string is what auditors, logs and `/diff` show; the digest is what the files
are. Two different digests under one version (four "2026.11.2"s offered by `/diff`) make
decisions hard to tell apart, so `check`, reload and import warn when the content changed
and the version did not.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from engine.errors import Finding, PolicyError
from engine.policy.index import Policy
from engine.policy.load import digest_files
from engine.policy.locate import Locator
from engine.policy.sources import policy_files_at

_MANIFEST = re.compile(r"(?m)^policy:")


def next_version(version: str) -> str:
    """`2026.11.2` → `2026.11.3`; a version without a trailing number gets `.1`."""
    match = re.search(r"(\d+)(\D*)$", version)
    if match is None:
        return f"{version}.1"
    return f"{version[: match.start(1)]}{int(match.group(1)) + 1}{match.group(2)}"


def unchanged_version(before_version: str, before_digest: str, after: Policy, since: str) -> Finding | None:
    """A warning when `after` differs from the policy it replaces but carries its version."""
    if after.digest == before_digest or after.manifest.version != before_version:
        return None
    manifest = next((name for name, text in after.files.items() if _MANIFEST.search(text)), None)
    line = Locator(after.files).line(manifest, "policy", None, ("version",)) if manifest else None
    return Finding(
        "version_unchanged",
        f"the policy's content changed since {since} (digest {before_digest[:12]} → {after.digest[:12]}) "
        f"but its version is still `{after.manifest.version}`",
        manifest,
        line,
        after.manifest.id,
        severity="warning",
        hint=f"raise `version` in {manifest or 'policy.yaml'}, e.g. to `{next_version(after.manifest.version)}`",
    )


def version_of(files: dict[str, str]) -> str | None:
    """The `policy.version` written in a policy's files (None when it cannot be read)."""
    for text in files.values():
        if _MANIFEST.search(text):
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                return None
            section = data.get("policy") if isinstance(data, dict) else None
            version = section.get("version") if isinstance(section, dict) else None
            return str(version) if version is not None else None
    return None


def unchanged_since(before: dict[str, str], after: Policy, since: str) -> Finding | None:
    """`unchanged_version` against another copy of the policy's files (e.g. git HEAD)."""
    version = version_of(before)
    return None if version is None else unchanged_version(version, digest_files(before), after, since)


def committed_files(policy_dir: Path) -> dict[str, str] | None:
    """The policy directory's files as committed at git HEAD; None outside a git work tree
    or when the directory is not committed."""
    try:
        top = subprocess.run(
            ["git", "-C", str(policy_dir), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if top.returncode != 0:
        return None
    root = Path(top.stdout.strip())
    try:
        rel = policy_dir.resolve().relative_to(root.resolve()).as_posix()
        return policy_files_at("HEAD", rel, root)
    except (ValueError, PolicyError):
        return None


def unchanged_since_commit(policy: Policy, policy_dir: Path) -> Finding | None:
    """The `version_unchanged` warning for a working copy that differs from git HEAD."""
    committed = committed_files(policy_dir)
    return unchanged_since(committed, policy, "the last commit (git HEAD)") if committed is not None else None
