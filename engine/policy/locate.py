"""Line numbers inside policy items, for findings that point at one key of a clause.

`Policy.where` knows the line where each item starts; an author fixing a condition or a
support wants the line of that key (`when.severity`, `then.supports`). `Locator` composes
each file's YAML once, indexes each section's items by id once, and walks to the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml

# libyaml's composer when PyYAML has it: the same nodes and marks as the pure-Python one,
# ~10× faster (engine/policy/load.py reads the files with it too).
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Locator:
    """Finds the line of a key path inside an item of a policy file (1-based)."""

    def __init__(self, files: Mapping[str, str]) -> None:
        self._files = files
        self._roots: dict[str, yaml.Node | None] = {}
        self._items: dict[tuple[str, str], dict[str, yaml.Node]] = {}  # (file, section) → id → item

    def _root(self, file: str) -> yaml.Node | None:
        if file not in self._roots:
            try:
                self._roots[file] = yaml.compose(self._files.get(file, ""), Loader=_COMPOSER)
            except yaml.YAMLError:
                self._roots[file] = None
        return self._roots[file]

    def _item(self, file: str, section: str, items: yaml.SequenceNode, item_id: str) -> yaml.Node | None:
        """The first item of the section with that id.

        # NOTE: indexed once per section: a scan per finding made a ×100 policy's findings
        # quadratic (tens of seconds in the activation gate).
        """
        index = self._items.get((file, section))
        if index is None:
            index = {}
            for item in items.value:
                pair = self._get(item, "id")
                value = getattr(pair[1], "value", None) if pair is not None else None
                if isinstance(value, str):
                    index.setdefault(value, item)
            self._items[(file, section)] = index
        return index.get(item_id)

    @staticmethod
    def _get(node: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if getattr(k, "value", None) == key:
                    return k, v
        return None

    def line(self, file: str, section: str, item_id: str | None, path: Sequence[str | int] = ()) -> int | None:
        """The line of `path` inside the item `item_id` of `section` in `file`.

        With `item_id` None the section itself is the start (e.g. `policy:` → `dispatch`).
        Returns the deepest line found, or None when the file has no such section.
        """
        root = self._root(file)
        found = self._get(root, section) if root is not None else None
        if found is None:
            return None
        key_node, node = found
        line = key_node.start_mark.line + 1
        if item_id is not None:
            if not isinstance(node, yaml.SequenceNode):
                return line
            item = self._item(file, section, node, item_id)
            if item is None:
                return line
            node, line = item, item.start_mark.line + 1
        for part in path:
            if isinstance(part, int):
                if not isinstance(node, yaml.SequenceNode) or not 0 <= part < len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
                continue
            pair = self._get(node, part)
            if pair is None:
                break
            key_node, node = pair
            line = key_node.start_mark.line + 1
        return line
