"""Many jurisdictions in one process: one `Runtime` per county, one durable_rules Host.

Contract:
- `Jurisdictions.load(default_dir, root)` serves the policy in `default_dir` (the default
  jurisdiction: requests that name none go there) and every directory under `root` that
  holds a `policy.yaml` and is not a `template: true` layer. Each is loaded, checked and
  compiled on its own; ids (the policies' `id`) must be unique.
- `get(id)` returns that jurisdiction's runtime (None: the default one); an unknown id is
  `UnknownJurisdiction`, which lists the served ones.
- Each jurisdiction keeps its own active policy, version, digest, decision cache and
  reload lock; reloading one never touches another (`engine.reload.reload_policy` with
  `source(id)`). Its decisions go to its own hash chain of the one decision log
  (chained by policy id, engine.store).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import Finding, PolicyError, UnknownJurisdiction
from engine.policy.layers import MANIFEST_FILE, manifest_of
from engine.policy.load import read_layer_dir
from engine.policy.validate import suggest
from engine.runtime import Runtime


def county_dirs(root: Path) -> list[Path]:
    """Directories under `root` holding a served policy (templates are only extended)."""
    found = []
    for directory in sorted(p for p in root.iterdir() if (p / MANIFEST_FILE).is_file()):
        manifest = manifest_of(read_layer_dir(directory)) or {}
        if not manifest.get("template"):
            found.append(directory)
    return found


@dataclass
class Jurisdictions:
    """The jurisdictions one process serves, the default one first."""

    runtimes: dict[str, Runtime]
    sources: dict[str, Path]
    default: str

    @classmethod
    def single(cls, runtime: Runtime, source: Path | str) -> Jurisdictions:
        return cls({runtime.policy.id: runtime}, {runtime.policy.id: Path(source)}, runtime.policy.id)

    @classmethod
    def load(
        cls, default_dir: Path, root: Path | None = None, cache_size: int | None = None, loader: Callable[[Path], Runtime] | None = None
    ) -> Jurisdictions:
        """Load the default policy and every county under `root`; PolicyError names the one that
        failed. `loader` makes each directory's runtime (default: load it from disk; the server
        resumes each jurisdiction's last activated version instead, engine.runtime.resume)."""
        kwargs: dict[str, Any] = {} if cache_size is None else {"cache_size": cache_size}
        load = loader or (lambda directory: Runtime.from_dir(directory, **kwargs))
        default = load(default_dir)
        served = cls.single(default, default_dir)
        for directory in county_dirs(root) if root is not None else []:
            if directory.resolve() == default_dir.resolve():
                continue
            try:
                runtime = load(directory)
            except PolicyError as exc:
                raise PolicyError([_in(directory, f) for f in exc.findings]) from exc
            served.add(runtime, directory)
        return served

    def add(self, runtime: Runtime, source: Path) -> None:
        jid = runtime.policy.id
        if jid in self.runtimes:
            raise PolicyError([Finding("duplicate_jurisdiction", f"jurisdiction `{jid}` is served twice", f"{source}/{MANIFEST_FILE}",
                                       hint=f"first from {self.sources[jid]}")])
        self.runtimes[jid] = runtime
        self.sources[jid] = source

    def get(self, jurisdiction: str | None = None) -> Runtime:
        if jurisdiction is None:
            return self.runtimes[self.default]
        runtime = self.runtimes.get(jurisdiction)
        if runtime is None:
            known = list(self.runtimes)
            near = suggest(jurisdiction, known)
            served = "served: " + ", ".join(known)
            raise UnknownJurisdiction(jurisdiction, known, f"{near}; {served}" if near else served)
        return runtime

    def source(self, jurisdiction: str | None = None) -> Path:
        return self.sources[self.get(jurisdiction).policy.id]

    def __iter__(self) -> Iterator[Runtime]:
        return iter(self.runtimes.values())

    def __len__(self) -> int:
        return len(self.runtimes)

    def describe(self, jurisdiction: str) -> dict[str, Any]:
        """What `GET /v1/jurisdictions` says of one: id, name, layer chain, version, digest."""
        runtime = self.get(jurisdiction)
        active = runtime.active
        policy = active.policy
        return {
            "id": policy.id,
            "name": policy.manifest.jurisdiction,
            "title": policy.manifest.title,
            "default": policy.id == self.default,
            "layers": [
                {"id": layer.id, "title": layer.title, "version": layer.version, "digest": layer.digest}
                for layer in policy.layers
            ]
            or [{"id": policy.id, "title": policy.manifest.title, "version": policy.version, "digest": policy.digest}],
            "version": policy.version,
            "digest": policy.digest,
            "loaded_at": active.loaded_at.isoformat(),
            "counts": policy.counts(),
        }


def _in(directory: Path, finding: Finding) -> Finding:
    file = f"{directory.name}/{finding.file}" if finding.file else str(directory)
    return Finding(finding.code, finding.message, file, finding.line, finding.id, finding.severity, finding.hint)
