"""The impact of a template change on every county that extends it (`diff --counties`).

`rebase(county_files, template_files)` is the county's file map with the template layer
(and the layers the template extends) replaced by other template files. `template_impact`
resolves each county on the old and the new template and runs `engine.diff.impact`
between the two: the clauses that change in that county (an override or removal of its
own may hide the template's change) and every decision whose lead, supports or outcome
changes there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from engine.analysis.diff import Decide, Impact, impact
from engine.errors import Finding, PolicyError
from engine.policy.index import Policy
from engine.policy.layers import LAYER_MARK, manifest_of, split_layers

# files, a name for messages → the policy and its decide (a Runtime's, in practice)
Activate = Callable[[dict[str, str], str], tuple[Policy, Decide]]


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
    activate: Activate,
    exhaustive: bool = False,
    with_space: bool = True,
) -> list[CountyImpact]:
    """For every county (id → its file map) that extends the template: old vs new template."""
    template = template_id(head_template)
    out = []
    for county, files in counties.items():
        if not extends(files, template):
            continue
        old_policy, old_decide = activate(rebase(files, base_template), f"{county} on the base template")
        new_policy, new_decide = activate(rebase(files, head_template), f"{county} on the head template")
        result = impact(old_policy, old_decide, new_policy, new_decide, with_space=with_space, exhaustive=exhaustive)
        out.append(CountyImpact(county, new_policy.manifest.jurisdiction, result))
    return out
