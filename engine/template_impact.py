"""The impact of a template change on every county that extends it.

`rebase(county_files, template_files)` is the county's file map with the template layer
(and the layers the template extends) replaced by other template files. `template_impact`
resolves each county on the old and the new template and runs `engine.diff.impact`
between the two: the clauses that change in that county (an override or removal of its
own may hide the template's change) and every decision whose lead, supports or outcome
changes there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine.diff import Impact, impact
from engine.errors import Finding, PolicyError
from engine.layers import LAYER_MARK, manifest_of, split_layers
from engine.runtime import Runtime


@dataclass(frozen=True)
class CountyImpact:
    county: str
    name: str
    impact: Impact

    def to_dict(self) -> dict[str, object]:
        return {"county": self.county, "name": self.name, **self.impact.to_dict()}


def template_id(files: Mapping[str, str]) -> str:
    manifest = manifest_of(split_layers(files).get("", {})) or {}
    if not isinstance(manifest.get("id"), str):
        raise PolicyError([Finding("manifest", "the template has no `policy:` section with an id", "policy.yaml")])
    return str(manifest["id"])


def extends(county_files: Mapping[str, str], template: str) -> bool:
    """True when the county's file map holds the template layer."""
    return any(name.startswith(f"{LAYER_MARK}{template}/") for name in county_files)


def rebase(county_files: Mapping[str, str], template_files: Mapping[str, str]) -> dict[str, str]:
    """The county with the template layer (and what the template extends) replaced."""
    template = template_id(template_files)
    own_bases = {layer for layer in split_layers(template_files) if layer}
    dropped = {template, *own_bases}
    out = {n: t for n, t in county_files.items() if not (n.startswith(LAYER_MARK) and n[1:].split("/", 1)[0] in dropped)}
    for name, text in template_files.items():
        out[name if name.startswith(LAYER_MARK) else f"{LAYER_MARK}{template}/{name}"] = text
    return out


def template_impact(
    base_template: Mapping[str, str],
    head_template: Mapping[str, str],
    counties: Mapping[str, Mapping[str, str]],
    exhaustive: bool = False,
    with_space: bool = True,
) -> list[CountyImpact]:
    """For every county (id → its file map) that extends the template: old vs new template."""
    template = template_id(head_template)
    out = []
    for county, files in counties.items():
        if not extends(files, template):
            continue
        old = Runtime.from_files(rebase(files, base_template), f"{county} on the base template", cache_size=0)
        new = Runtime.from_files(rebase(files, head_template), f"{county} on the head template", cache_size=0)
        result = impact(old.policy, old.decide, new.policy, new.decide, with_space=with_space, exhaustive=exhaustive)
        out.append(CountyImpact(county, new.policy.manifest.jurisdiction, result))
    return out
