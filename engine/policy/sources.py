"""Read a policy directory as it was at a git revision (for `tiaokuai diff --base git:REV`).

`policy_files_at(rev, path, repo)` returns {path relative to the policy dir: text} exactly
as `engine.policy.load.read_policy_dir` does for a directory on disk (with the layers it
extends, read from sibling directories at the same revision), or raises PolicyError.
"""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

from engine.errors import Finding, PolicyError
from engine.policy.layers import LAYER_MARK, MAX_DEPTH, manifest_of
from engine.policy.load import SKIP_DIRS


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PolicyError([Finding("no_policy", f"cannot run git: {exc}")]) from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise PolicyError([Finding("no_policy", f"git {' '.join(args[:2])}: {message[-1] if message else 'failed'}")])
    return done.stdout.decode("utf-8", errors="strict")


def policy_files_at(rev: str, path: str = "policy", repo: Path | None = None) -> dict[str, str]:
    """The policy's YAML files under `path` (relative to the repository root) at `rev`, and
    under `@<id>/` those of each layer it extends (engine.policy.layers)."""
    files = layer_files_at(rev, path, repo)
    chain = [str((manifest_of(files) or {}).get("id", path))]
    base = (manifest_of(files) or {}).get("extends")
    parent = PurePosixPath(path.strip("/") or ".").parent
    while isinstance(base, str) and base not in chain and len(chain) <= MAX_DEPTH:
        layer = layer_files_at(rev, str(parent / base), repo)
        files.update({f"{LAYER_MARK}{base}/{name}": text for name, text in layer.items()})
        chain.append(base)
        base = (manifest_of(layer) or {}).get("extends")
    return files


def layer_files_at(rev: str, path: str = "policy", repo: Path | None = None) -> dict[str, str]:
    """One directory's YAML files under `path` at `rev`."""
    repo = repo or Path.cwd()
    top = Path(_git(repo, "rev-parse", "--show-toplevel").strip())
    root = PurePosixPath(path.strip("/") or ".")
    listing = _git(top, "ls-tree", "-r", "-z", "--name-only", rev, "--", str(root))
    files: dict[str, str] = {}
    for name in filter(None, listing.split("\0")):
        rel = PurePosixPath(name).relative_to(root)
        if rel.suffix not in (".yaml", ".yml") or SKIP_DIRS.intersection(rel.parts[:-1]):
            continue
        try:
            files[rel.as_posix()] = _git(top, "show", f"{rev}:{name}")
        except UnicodeDecodeError:
            raise PolicyError([Finding("encoding", "file is not valid UTF-8", rel.as_posix())]) from None
    if not files:
        raise PolicyError([Finding("no_policy", f"no YAML files under `{root}` at git revision `{rev}`")])
    return files


def parse_source(spec: str) -> tuple[str, str] | None:
    """`git:REV` or `git:REV:PATH` → (rev, path); anything else → None (a directory)."""
    if not spec.startswith("git:"):
        return None
    rev, _, path = spec[4:].partition(":")
    return rev or "HEAD", path or "policy"
