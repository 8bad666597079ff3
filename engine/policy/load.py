"""Load a policy directory: read every YAML file, validate it, index it, digest it.

`load_policy(path)` either returns a `Policy` or raises `PolicyError` carrying every
finding (file, line, id, message, hint). A policy with findings is never returned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor

from engine.errors import Finding, PolicyError
from engine.policy.collector import collector_paused
from engine.policy.grid import EXTENSION, GridPolicy, grid_from_files, validate_grid
from engine.policy.index import Layer, Location, Policy
from engine.policy.layers import (
    MANIFEST_FILE,
    MAX_DEPTH,
    Parsed,
    cycle_finding,
    frozen_history,
    layer_order,
    layer_prefix,
    layer_record,
    manifest_of,
    missing_finding,
    resolve,
    split_layers,
)
from engine.policy.lifecycle import validate_cases
from engine.policy.model import SECTIONS, Calendar, Lifecycle, Manifest, PolicyFile
from engine.policy.validate import validate_references

SKIP_DIRS = {"schema"}
# libyaml's safe loader when PyYAML has it (its wheels do): the same documents and line
# marks, ~10× faster than the pure-Python one (policy load time, bench/results.md).
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class NotADate(str):
    """A scalar that YAML reads as a timestamp but no calendar has (2021-13-01, 2021-02-30).

    PyYAML raises a bare ValueError for those, with no file or line; kept as text, the
    schema rejects it at its own key and the finding says why.
    """

    reason: str


def _timestamp(loader: SafeConstructor, node: yaml.ScalarNode) -> object:
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        value = NotADate(str(node.value))
        value.reason = str(exc)
        return value


class _Loader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """The safe loader, reading impossible dates as `NotADate` instead of crashing."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_LOADER = _Loader


def policy_files(root: Path) -> list[Path]:
    """Every *.yaml / *.yml file under root, in a stable order, except generated schema."""
    files = [
        p
        for p in root.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not SKIP_DIRS.intersection(p.relative_to(root).parts[:-1])
    ]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def digest_files(files: dict[str, str]) -> str:
    """sha256 over the files' relative paths and contents, independent of disk order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode())
        h.update(b"\0")
        h.update(files[name].encode())
        h.update(b"\0")
    return h.hexdigest()


def _node_line(node: yaml.Node | None, loc: Iterable[int | str]) -> int | None:
    """Walk a composed YAML node along a pydantic error location; return the deepest line."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int):
            match = node.value[key] if 0 <= key < len(node.value) else None
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def _item_id(data: Any, loc: tuple[int | str, ...]) -> str | None:
    """The `id` of the section item an error location points into, if it has one."""
    if len(loc) >= 2 and isinstance(data, dict):
        section = data.get(loc[0])
        if isinstance(section, list) and isinstance(loc[1], int) and loc[1] < len(section):
            item = section[loc[1]]
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                return str(item["id"])
    return None


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(part) for part in error["loc"] if not isinstance(part, int))
    if isinstance(error.get("input"), NotADate):
        return f"`{loc}`: `{error['input']}` is not a calendar date ({error['input'].reason})"
    msg = str(error["msg"]).replace("Value error, ", "")
    if error["type"] == "extra_forbidden":
        msg = "unknown key"
    elif error["type"] == "missing":
        msg = "required key is missing"
    msg = msg[0].lower() + msg[1:] if msg else msg
    return f"`{loc}`: {msg}" if loc else msg


def _duplicate(key: tuple[str, str], loc: Location, first: Location) -> Finding:
    return Finding(
        "duplicate_id",
        f"{key[0].removesuffix('s')} id `{key[1]}` is defined twice",
        loc.file,
        loc.line,
        key[1],
        hint=f"first defined at {first.file}:{first.line}",
    )


def _python_loader_error(text: str) -> yaml.YAMLError | None:
    try:
        yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return exc
    return None


def _compose_and_construct(text: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for line numbers) and its data, from one parse.

    # NOTE: `yaml.compose` then `yaml.load` parsed every file twice; the constructor builds
    # the data from the node tree it already has.
    """
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


_UNCLOSED = {"flow sequence": "]", "flow mapping": "}", "quoted scalar": "a closing quote"}


def _syntax_finding(name: str, exc: yaml.YAMLError) -> Finding:
    """A YAML syntax error at the line to fix: an unclosed `[`, `{` or quote is reported
    where it opened (the parser only notices on a later line), with the closer to add."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc)
    context, opened = getattr(exc, "context", None) or "", getattr(exc, "context_mark", None)
    for what, closer in _UNCLOSED.items():
        if what in context and opened is not None and (line is None or opened.line + 1 < line):
            at = f"line {opened.line + 1}, column {opened.column + 1}"
            return Finding(
                "yaml_syntax",
                f"invalid YAML: the {what.replace('flow ', '')} opened at {at} is not closed ({problem})",
                name,
                opened.line + 1,
                hint=f"add {closer if closer.startswith('a ') else f'`{closer}`'} where it should end, usually at the end of line {opened.line + 1}",
            )
    return Finding("yaml_syntax", f"invalid YAML: {problem}", name, line)


def parse_file(name: str, text: str) -> tuple[PolicyFile | None, list[Finding], dict[tuple[str, str], Location]]:
    """Parse and validate one file. Returns the model (or None), findings and item locations."""
    try:
        node, data = _compose_and_construct(text)
    except yaml.YAMLError as exc:
        exc = _python_loader_error(text) or exc  # the pure-Python loader words problems better
        return None, [_syntax_finding(name, exc)], {}
    if data is None:
        return PolicyFile(), [], {}
    if not isinstance(data, dict):
        return None, [Finding("file_shape", "a policy file must be a mapping of sections", name, 1)], {}
    locations: dict[tuple[str, str], Location] = {}
    duplicates: list[Finding] = []  # within this file; policy_from_files reports those across files
    for section in SECTIONS:
        items = data.get(section)
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    key, loc = (section, item["id"]), Location(name, _node_line(node, (section, index)))
                    if key in locations:
                        duplicates.append(_duplicate(key, loc, locations[key]))
                    else:
                        locations[key] = loc
    try:
        return PolicyFile.model_validate(data), duplicates, locations
    except ValidationError as exc:
        findings = duplicates + [
            Finding(
                "invalid_date" if isinstance(err.get("input"), NotADate) else "schema",
                _describe(dict(err)),
                name,
                _node_line(node, err["loc"]),
                _item_id(data, tuple(err["loc"])),
                hint=_hint(dict(err)),
            )
            for err in exc.errors()
        ]
        return None, findings, locations


def _hint(error: dict[str, Any]) -> str | None:
    if isinstance(error.get("input"), NotADate):
        return "write a date that exists, as YYYY-MM-DD (2021-02-28, not 2021-02-30; months 01–12)"
    return None


def read_layered_dir(root: Path, own: dict[str, str]) -> dict[str, str]:
    """`own` (the files of `root`) plus every layer it extends, under `@<id>/`.

    Raises PolicyError for a missing layer or a cycle; the layers' contents are checked
    later, when the file map is resolved.
    """
    files = dict(own)
    manifest = manifest_of(own) or {}
    chain = [str(manifest.get("id", root.name))]
    base = manifest.get("extends")
    while isinstance(base, str):
        if base in chain:
            raise PolicyError([cycle_finding([*chain, base])])
        if len(chain) > MAX_DEPTH:
            raise PolicyError([Finding("extends_cycle", f"`extends` is more than {MAX_DEPTH} layers deep", MANIFEST_FILE)])
        directory = root.parent / base
        if not (directory / MANIFEST_FILE).is_file():
            near = sorted(p.name for p in root.parent.iterdir() if (p / MANIFEST_FILE).is_file())
            where = layer_prefix(chain[-1]) if len(chain) > 1 else ""
            raise PolicyError([missing_finding(base, f"{where}{MANIFEST_FILE}", near)])
        layer_files = read_layer_dir(directory)
        files.update({f"{layer_prefix(base)}{name}": text for name, text in layer_files.items()})
        chain.append(base)
        base = (manifest_of(layer_files) or {}).get("extends")
    return files


def read_policy_dir(root: Path) -> dict[str, str]:
    """The policy's files as {relative path: text}, with the files of every layer it
    extends under `@<layer id>/` (engine.policy.layers); raises PolicyError if none can be read."""
    return read_layered_dir(root, read_layer_dir(root))


def read_layer_dir(root: Path) -> dict[str, str]:
    """One directory's files as {relative path: text}; raises PolicyError if none can be read."""
    if not root.is_dir():
        raise PolicyError([Finding("no_policy", f"policy directory `{root}` does not exist")])
    files: dict[str, str] = {}
    findings: list[Finding] = []
    for path in policy_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            files[rel] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            findings.append(Finding("encoding", "file is not valid UTF-8", rel))
    if findings:
        raise PolicyError(findings)
    if not files:
        raise PolicyError([Finding("no_policy", f"no YAML files under `{root}`")])
    return files


def load_policy(root: Path | str) -> Policy:
    """Load, validate and index the policy under `root`; raise PolicyError on any finding."""
    return policy_from_files(read_policy_dir(Path(root)))


def _parse_files(files: dict[str, str]) -> tuple[list[tuple[str, PolicyFile]], dict[tuple[str, str], Location], list[Finding]]:
    """Parse every file of one layer; ids must be unique within the layer."""
    findings: list[Finding] = []
    locations: dict[tuple[str, str], Location] = {}
    parsed: list[tuple[str, PolicyFile]] = []
    for name in sorted(files):
        model, file_findings, file_locations = parse_file(name, files[name])
        findings.extend(file_findings)
        for key, loc in file_locations.items():
            if key in locations:
                findings.append(_duplicate(key, loc, locations[key]))
            else:
                locations[key] = loc
        if model is not None:
            parsed.append((name, model))
    return parsed, locations, findings


def _complete_manifest(data: dict[str, Any], file: str) -> tuple[Manifest | None, list[Finding]]:
    """The resolved manifest; a layer that extends nothing must give every required part."""
    try:
        return Manifest.model_validate(data), []
    except ValidationError as exc:
        return None, [
            Finding("manifest", f"`policy.{'.'.join(str(p) for p in err['loc'])}`: {_describe(dict(err)).split(': ', 1)[-1]}",
                    file, hint="a policy that extends no template must give domains, dispatch and disputes")
            for err in exc.errors()
        ]


def policy_from_files(files: dict[str, str]) -> Policy:
    """Build a Policy from file texts (from disk, a stored version or a git revision).

    Files under `@<layer>/` belong to layers this policy extends (engine.policy.layers).
    """
    order, findings = layer_order(files)
    if findings:
        raise PolicyError(findings)
    with collector_paused():
        return _single_layer(files) if order == [""] else _layered(files, order)


def _single_layer(files: dict[str, str]) -> Policy:
    parsed, locations, findings = _parse_files(files)
    manifests = [(name, m.policy) for name, m in parsed if m.policy is not None]
    if len(manifests) != 1 and not findings:
        where = ", ".join(name for name, _ in manifests) or "no file"
        findings.append(
            Finding(
                "manifest",
                f"exactly one file must hold the `policy:` section, found it in {where}",
                hint="put it in policy.yaml",
            )
        )
    chapters: dict[str, list[str]] = {"lifecycle": [], "calendar": []}  # files holding each one-off section
    for name, model in parsed:
        for section, holders in chapters.items():
            if getattr(model, section) is not None:
                holders.append(name)
    for section, holders in chapters.items():
        if len(holders) > 1:
            findings.append(Finding("duplicate_section", f"`{section}:` is given in {len(holders)} files: {', '.join(holders)}", holders[1], 1,
                                    hint="keep one"))
    manifest: Manifest | None = None
    if not findings:
        name, written = manifests[0]
        assert written is not None
        manifest, manifest_findings = _complete_manifest(written.model_dump(by_alias=True, exclude_unset=True), name)
        findings.extend(manifest_findings)
    manifest, grid = _complete(findings, manifest, parsed)
    policy = Policy(
        manifest=manifest,
        organizations={o.id: o for _, m in parsed for o in m.organizations},
        attributes={a.id: a for _, m in parsed for a in m.attributes},
        matters={x.id: x for _, m in parsed for x in m.matters},
        rules=tuple(r for _, m in parsed for r in m.rules),
        delegations=tuple(d for _, m in parsed for d in m.delegations),
        recalls=tuple(r for _, m in parsed for r in m.recalls),
        locations=locations,
        digest=digest_files(files),
        files=dict(files),
        extensions={EXTENSION: grid} if grid is not None else {},
        lifecycle=next((m.lifecycle for _, m in parsed if m.lifecycle is not None), None),
        lifecycle_file=next(iter(chapters["lifecycle"]), None),
        calendar=next((m.calendar for _, m in parsed if m.calendar is not None), None),
        calendar_file=next(iter(chapters["calendar"]), None),
    )
    return _validated(policy)


def _complete(findings: list[Finding], manifest: Manifest | None, parsed: list[tuple[str, PolicyFile]]) -> tuple[Manifest, GridPolicy | None]:
    """The grid chapter from the parsed files; PolicyError with every finding so far."""
    grid, grid_findings = grid_from_files(parsed) if not findings else (None, [])
    findings.extend(grid_findings)
    if findings:
        raise PolicyError(findings)
    assert manifest is not None
    return manifest, grid


def _validated(policy: Policy) -> Policy:
    findings = [f for f in [*validate_references(policy), *validate_grid(policy), *validate_cases(policy)] if f.severity == "error"]
    if findings:
        raise PolicyError(findings)
    return policy


def _layered(files: dict[str, str], order: list[str]) -> Policy:
    groups = split_layers(files)
    findings: list[Finding] = []
    layers: list[tuple[str, list[Parsed]]] = []
    records: list[Layer] = []
    item_locations: dict[tuple[str, str, str], Location] = {}
    lines: dict[tuple[str, str, int], int | None] = {}
    settings: list[tuple[str, PolicyFile]] = []
    # the lifecycle and the calendar: each the innermost layer's whole chapter
    lifecycle: tuple[Lifecycle, str] | None = None
    calendar: tuple[Calendar, str] | None = None
    for key in order:
        prefix = f"@{key}/" if key else ""
        layer_files = {prefix + name: text for name, text in groups[key].items()}
        parsed, locations, layer_findings = _parse_files(layer_files)
        findings.extend(layer_findings)
        manifests = [(name, m.policy) for name, m in parsed if m.policy is not None]
        if len(manifests) != 1:
            where = ", ".join(name for name, _ in manifests) or "no file"
            findings.append(Finding("manifest", f"layer `{key or 'own'}`: exactly one file must hold `policy:`, found it in {where}", f"{prefix}policy.yaml"))
            continue
        manifest = manifests[0][1]
        assert manifest is not None
        if key and manifest.id != key:
            findings.append(Finding("extends_missing", f"the layer in directory `{key}` says its id is `{manifest.id}`", f"{prefix}policy.yaml", hint=f"name the directory `{manifest.id}` or set `id: {key}`"))
        for (section, item_id), loc in locations.items():
            item_locations[(loc.file, section, item_id)] = loc
        for name, model in parsed:
            if model.overrides or model.removals:
                lines.update(_positions(name, layer_files[name]))
            if model.grid_admission is not None:
                settings.append((name, PolicyFile(grid_admission=model.grid_admission)))
            if model.lifecycle is not None:
                lifecycle = (model.lifecycle, name)
            if model.calendar is not None:
                calendar = (model.calendar, name)
        layers.append((manifest.id, [Parsed(name, model) for name, model in parsed]))
        records.append(layer_record(key, manifest, digest_files(groups[key])))
    if findings:
        raise PolicyError(findings)
    resolution = resolve(layers, item_locations, lines)
    findings.extend(resolution.findings)
    manifest_model, manifest_findings = _complete_manifest(resolution.manifest, resolution.manifest_file)
    findings.extend(manifest_findings)
    items = resolution.items
    grid_parts = [*settings[-1:], ("<layers>", PolicyFile(grid_fields=tuple(items.get("grid_fields", {}).values()), grid_criteria=tuple(items.get("grid_criteria", {}).values())))]
    resolved, grid = _complete(findings, manifest_model, grid_parts)
    policy = Policy(
        manifest=resolved,
        organizations=dict(items.get("organizations", {})),
        attributes=dict(items.get("attributes", {})),
        matters=dict(items.get("matters", {})),
        rules=tuple(items.get("rules", {}).values()),
        delegations=tuple(items.get("delegations", {}).values()),
        recalls=tuple(items.get("recalls", {}).values()),
        locations=resolution.locations,
        digest=digest_files(files),
        files=dict(files),
        extensions={EXTENSION: grid} if grid is not None else {},
        layers=tuple(records),
        history=frozen_history(resolution),
        removed=dict(resolution.removed),
        lifecycle=lifecycle[0] if lifecycle else None,
        lifecycle_file=lifecycle[1] if lifecycle else None,
        calendar=calendar[0] if calendar else None,
        calendar_file=calendar[1] if calendar else None,
    )
    return _validated(policy)


def _positions(name: str, text: str) -> dict[tuple[str, str, int], int | None]:
    """Lines of each `overrides:` and `removals:` entry of one file."""
    node = yaml.compose(text, Loader=_LOADER)
    out: dict[tuple[str, str, int], int | None] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) in ("overrides", "removals") and isinstance(value, yaml.SequenceNode):
                for index, item in enumerate(value.value):
                    out[(name, str(key.value), index)] = item.start_mark.line + 1
    return out
