"""Layered policy: a county list that `extends:` a province template (or a city notice).

Contract:
- A layer is a policy directory. Its manifest may name the layer it extends
  (`extends: zhejiang`), found as a sibling directory of that name. A layer marked
  `template: true` is only ever extended, never served.
- A policy's file map keeps its own files under their paths and each extended layer's
  files under `@<layer id>/<path>`, so a stored policy version holds every layer and
  replays alone (`split_layers`; `engine.policy.load.read_layered_dir` reads them).
- Resolution runs from the outermost layer inward. A later layer may
  * add clauses with new ids (matters, rules, delegations, recalls, grid criteria),
  * name its own bodies and vocabulary: organizations, attributes and grid fields with an
    inherited id are replaced (a county names its own 水利局),
  * change an inherited clause by id under `overrides:` (each with its basis), for one
    township kind (`township_kind: street | township`, matters only) or for all,
  * leave an inherited clause out under `removals:` (each with its basis).
- Every resolved clause records the layer that defined it and each override
  (`Policy.history`); decisions cite them.
- Findings (all errors, the policy is rejected): `extends_cycle`, `extends_missing`,
  `override_missing` / `removal_missing` (no inherited clause of that id),
  `override_field` (a field that cannot be overridden), `removal_referenced` (a removed
  clause still named by another), `shadowing` (a clause redefined without `overrides:`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from engine.errors import Finding
from engine.policy.index import Change, Layer, Location
from engine.policy.model import (
    Delegation,
    GridCriterion,
    LayerManifest,
    Matter,
    MatterVariant,
    Override,
    PolicyFile,
    Recall,
    Rule,
)
from engine.policy.validate import suggest

LAYER_MARK = "@"
MAX_DEPTH = 8  # province → city → county → … : deeper chains are a mistake
MANIFEST_FILE = "policy.yaml"

# Clauses: a later layer changes them only through `overrides:` / `removals:`.
CLAUSE_SECTIONS = ("matters", "rules", "delegations", "recalls", "grid_criteria")
# A layer's own bodies and vocabulary: redefining an inherited id replaces it.
NAMED_SECTIONS = ("organizations", "attributes", "grid_fields")

MATTER_FIELDS = frozenset(
    {"lead", "supports", "township_duties", "department_duties", "time_limits", "responsibility",
     "valid_from", "valid_until", "aliases", "attributes"}
)
VARIANT_FIELDS = frozenset({"lead", "supports", "township_duties", "time_limits"})
RULE_OUTCOME_FIELDS = frozenset({"lead", "supports", "coordinator", "time_limits", "township_duties", "notes"})
RULE_FIELDS = frozenset({"priority", "valid_from", "valid_until"}) | RULE_OUTCOME_FIELDS
DELEGATION_FIELDS = frozenset({"townships", "matters", "valid_from", "valid_until"})
RECALL_FIELDS = frozenset({"matters", "townships", "township_kind", "receiver", "method", "valid_from", "valid_until"})
CRITERION_FIELDS = frozenset({"severity", "message", "valid_from", "valid_until"})
OVERRIDABLE: Mapping[str, frozenset[str]] = {
    "matters": MATTER_FIELDS,
    "rules": RULE_FIELDS,
    "delegations": DELEGATION_FIELDS,
    "recalls": RECALL_FIELDS,
    "grid_criteria": CRITERION_FIELDS,
}


# --- reading layers ------------------------------------------------------------------


def manifest_of(files: Mapping[str, str]) -> dict[str, Any] | None:
    """The `policy:` mapping of a layer's files (quick YAML read; None if there is none)."""
    for name in sorted(files):
        if "policy:" not in files[name]:
            continue
        try:
            data = yaml.load(files[name], Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe
        except yaml.YAMLError:
            continue
        manifest = data.get("policy") if isinstance(data, dict) else None
        if isinstance(manifest, dict):
            return manifest
    return None


def source_path(root: Path, file: str) -> Path:
    """Where a file of a policy's file map lives on disk: `@zhejiang/x.yaml` is the sibling
    layer's `zhejiang/x.yaml`, any other name is under `root` itself."""
    if file.startswith(LAYER_MARK) and "/" in file:
        layer, _, rest = file[1:].partition("/")
        return root.parent / layer / rest
    return root / file


def layer_prefix(layer_id: str) -> str:
    return f"{LAYER_MARK}{layer_id}/"


def cycle_finding(chain: list[str]) -> Finding:
    return Finding(
        "extends_cycle",
        "`extends` makes a cycle: " + " → ".join(f"`{c}`" for c in chain),
        MANIFEST_FILE,
        hint="a template must not extend the lists that extend it",
    )


def missing_finding(base: str, file: str, known: list[str]) -> Finding:
    return Finding(
        "extends_missing",
        f"`extends: {base}` names no layer: no sibling directory `{base}` with a {MANIFEST_FILE}",
        file,
        hint=suggest(base, known) or (f"layers here: {', '.join(known)}" if known else None),
    )


def split_layers(files: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Group a file map by layer: "" for the policy's own files, else the layer id."""
    layers: dict[str, dict[str, str]] = {}
    for name, text in files.items():
        if name.startswith(LAYER_MARK) and "/" in name:
            layer, _, rest = name[1:].partition("/")
            layers.setdefault(layer, {})[rest] = text
        else:
            layers.setdefault("", {})[name] = text
    return layers


def layer_order(files: Mapping[str, str]) -> tuple[list[str], list[Finding]]:
    """The layer keys from the outermost template to the policy's own ("" last)."""
    layers = split_layers(files)
    own = manifest_of(layers.get("", {})) or {}
    order = [""]
    seen = [str(own.get("id", "<policy>"))]
    base = own.get("extends")
    while isinstance(base, str):
        if base in seen:
            return [], [cycle_finding([*seen, base])]
        if base not in layers:
            return [], [missing_finding(base, MANIFEST_FILE, sorted(k for k in layers if k))]
        order.append(base)
        seen.append(base)
        base = (manifest_of(layers[base]) or {}).get("extends")
    unused = sorted(set(layers) - set(order))
    if unused:
        return [], [Finding("extends_missing", f"files for layer `{unused[0]}` that no `extends` names", f"{layer_prefix(unused[0])}{MANIFEST_FILE}")]
    return list(reversed(order)), []


# --- resolving -------------------------------------------------------------------------


@dataclass
class Parsed:
    """One file of one layer, parsed: `name` is its key in the policy's file map."""

    name: str
    model: PolicyFile


@dataclass
class Resolution:
    """The effective clauses after resolving every layer, with their history."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # section → id → model
    locations: dict[tuple[str, str], Location] = field(default_factory=dict)
    history: dict[tuple[str, str], list[Change]] = field(default_factory=dict)
    removed: dict[tuple[str, str], Change] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    manifest_file: str = MANIFEST_FILE
    findings: list[Finding] = field(default_factory=list)


def resolve(
    layers: list[tuple[str, list[Parsed]]],
    locations: Mapping[tuple[str, str, str], Location],
    lines: Mapping[tuple[str, str, int], int | None],
) -> Resolution:
    """Resolve parsed layers (outermost first, each with its files) into one set of clauses.

    `locations` holds every item's location by (file, section, id); `lines` the line of
    each `overrides:` / `removals:` entry by (file, section, index).
    """
    out = Resolution()
    for index, (layer_id, parsed) in enumerate(layers):
        inherited = index > 0
        own_ids: set[tuple[str, str]] = set()
        for p in parsed:
            for section in (*CLAUSE_SECTIONS, *NAMED_SECTIONS):
                for item in getattr(p.model, section):
                    key = (section, item.id)
                    loc = locations.get((p.name, section, item.id), Location(p.name))
                    if inherited and key in out.locations and key not in own_ids and section in CLAUSE_SECTIONS:
                        first = out.locations[key]
                        out.findings.append(
                            Finding(
                                "shadowing",
                                f"{section.removesuffix('s')} `{item.id}` redefines the clause of layer "
                                f"`{_layer_of(out, key)}` ({first.file}:{first.line}) without saying so",
                                loc.file,
                                loc.line,
                                item.id,
                                hint="change it under `overrides:` with a basis, or give the new clause its own id",
                            )
                        )
                        continue
                    out.items.setdefault(section, {})[item.id] = item
                    out.locations[key] = loc
                    own_ids.add(key)
                    if section in CLAUSE_SECTIONS:
                        out.history[key] = [Change(layer_id, "defined", loc)]
        for p in parsed:
            for position, override in enumerate(p.model.overrides):
                loc = Location(p.name, lines.get((p.name, "overrides", position)))
                _apply_override(out, layer_id, override, loc, own_ids)
            for position, removal in enumerate(p.model.removals):
                loc = Location(p.name, lines.get((p.name, "removals", position)))
                found = _find(out, removal.id)
                if found is None or found in own_ids:
                    out.findings.append(_not_inherited("removal_missing", removal.id, loc, out, found in own_ids if found else False))
                    continue
                out.items[found[0]].pop(found[1])
                out.removed[found] = Change(layer_id, "remove", loc, basis=removal.basis, note=removal.note)
            if p.model.policy is not None:
                _merge_manifest(out, p.model.policy, p.name)
    _check_removals(out)
    return out


def _layer_of(out: Resolution, key: tuple[str, str]) -> str:
    changes = out.history.get(key)
    return changes[0].layer if changes else "?"


def _find(out: Resolution, clause_id: str) -> tuple[str, str] | None:
    for section in CLAUSE_SECTIONS:
        if clause_id in out.items.get(section, {}):
            return (section, clause_id)
    return None


def _not_inherited(code: str, clause_id: str, loc: Location, out: Resolution, own: bool) -> Finding:
    verb = "overrides" if code == "override_missing" else "removes"
    if own:
        return Finding(code, f"{verb} `{clause_id}`, which this layer defines itself", loc.file, loc.line, clause_id,
                       hint="edit the clause where it is written")
    known = [i for section in CLAUSE_SECTIONS for i in out.items.get(section, {})]
    removed = next((c for (s, i), c in out.removed.items() if i == clause_id), None)
    hint = f"layer `{removed.layer}` already removed it ({removed.location.file}:{removed.location.line})" if removed else suggest(clause_id, known)
    return Finding(code, f"{verb} `{clause_id}`, but no layer it extends defines that clause", loc.file, loc.line, clause_id, hint=hint)


def _apply_override(out: Resolution, layer_id: str, override: Override, loc: Location, own_ids: set[tuple[str, str]]) -> None:
    key = _find(out, override.id)
    if key is None or key in own_ids:
        out.findings.append(_not_inherited("override_missing", override.id, loc, out, key in own_ids if key else False))
        return
    section, clause_id = key
    allowed = VARIANT_FIELDS if override.township_kind else OVERRIDABLE[section]
    bad = sorted(set(override.set) - allowed)
    if override.township_kind and section != "matters":
        bad = ["township_kind"]
    if bad:
        out.findings.append(
            Finding(
                "override_field",
                f"cannot override `{bad[0]}` of {section.removesuffix('s')} `{clause_id}`"
                + (" for one township kind" if override.township_kind else ""),
                loc.file,
                loc.line,
                clause_id,
                hint="fields that can be overridden: " + ", ".join(sorted(allowed)),
            )
        )
        return
    current: BaseModel = out.items[section][clause_id]
    try:
        updated = _updated(current, override)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        out.findings.append(
            Finding("schema", f"override of `{clause_id}`: `{where}`: {err['msg']}", loc.file, loc.line, clause_id)
        )
        return
    out.items[section][clause_id] = updated
    change = Change(layer_id, "override", loc, tuple(sorted(override.set)), override.basis, override.township_kind, override.note)
    out.history.setdefault(key, []).append(change)


def _updated(current: BaseModel, override: Override) -> BaseModel:
    """The clause with the override's fields replaced, validated by its own model."""
    data = current.model_dump(by_alias=True, exclude_none=True)
    if isinstance(current, Matter) and override.township_kind:
        variants = [v for v in data.get("variants", []) if v["township_kind"] != override.township_kind]
        previous = current.variant(override.township_kind)
        merged = {**(previous.model_dump(exclude_none=True) if previous else {}), **override.set}
        merged["township_kind"] = override.township_kind
        merged["basis"] = [*merged.get("basis", []), *(b.model_dump(exclude_none=True) for b in override.basis)]
        variants.append(MatterVariant.model_validate(merged).model_dump(exclude_none=True))
        data["variants"] = variants
        return Matter.model_validate(data)
    if isinstance(current, Rule):
        then = dict(data["then"])
        for name, value in override.set.items():
            if name in RULE_OUTCOME_FIELDS:
                then[name] = value
            else:
                data[name] = value
        data["then"] = then
    else:
        data.update(override.set)
    # The override's basis joins the clause's: both the template's and the county's reasons hold.
    data["basis"] = [*data["basis"], *(b.model_dump(exclude_none=True) for b in override.basis)]
    model: type[BaseModel] = type(current)
    return model.model_validate(data)


def _merge_manifest(out: Resolution, manifest: LayerManifest, name: str) -> None:
    inherited = {k: v for k, v in out.manifest.items() if k in ("domains", "dispatch", "disputes", "time_limit_labels", "illustrative")}
    own = manifest.model_dump(by_alias=True, exclude_unset=True)
    out.manifest = {**inherited, **own}
    out.manifest_file = name


def _check_removals(out: Resolution) -> None:
    """A removed clause that another still names: the author must remove or change that one too."""
    if not out.removed:
        return
    removed = {i: c for (s, i), c in out.removed.items()}
    for section, items in out.items.items():
        for item in items.values():
            for named in sorted(_clause_refs(item) & set(removed)):
                change = removed[named]
                loc = out.locations.get((section, item.id), Location("<policy>"))
                out.findings.append(
                    Finding(
                        "removal_referenced",
                        f"`{named}` is removed by layer `{change.layer}` ({change.location.file}:{change.location.line}) "
                        f"but {section.removesuffix('s')} `{item.id}` still names it",
                        loc.file,
                        loc.line,
                        item.id,
                        hint=f"remove or override `{item.id}` as well",
                    )
                )


def _clause_refs(item: object) -> set[str]:
    """Ids of other clauses (matters) an item names."""
    if isinstance(item, Rule | GridCriterion):
        test = item.tests().get("matter")
        if test is None:
            return set()
        _, value = test.operator
        return {str(v) for v in value} if isinstance(value, tuple) else {str(value)}
    if isinstance(item, Delegation | Recall):
        return set(item.matters)
    return set()


def layer_record(layer_id: str, manifest: LayerManifest, digest: str) -> Layer:
    """The chain entry of one layer: `layer_id` is its key in the file map ("" for the own one)."""
    return Layer(
        id=manifest.id,
        title=manifest.title,
        jurisdiction=manifest.jurisdiction,
        version=manifest.version,
        digest=digest,
        template=manifest.template,
        prefix=layer_prefix(layer_id) if layer_id else "",
    )


def frozen_history(out: Resolution) -> dict[tuple[str, str], tuple[Change, ...]]:
    return {k: tuple(v) for k, v in out.history.items() if k[1] in out.items.get(k[0], {})}
