"""YAML loading that remembers where every key is, so errors can name a line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]


def path_text(path: Path) -> str:
    """``routes.payments.chain``, ``policy.rules[3].when.amount``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "." in part or " " in part or not part:
            out += f"[{part!r}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class Marks:
    """1-based line numbers of mapping keys and sequence items, by key path."""

    lines: dict[tuple[str, ...], int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)

    def line(self, path: Path) -> int | None:
        """The line of the longest prefix of ``path`` that the file contains."""
        key = tuple(str(p) for p in path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.lines.get((), None)


class MarkedLoader(yaml.SafeLoader):
    """A SafeLoader that records the line of every mapping key and sequence item."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_marks = Marks()
        self._seen: set[int] = set()

    def load_marked(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        self.key_marks.lines[()] = node.start_mark.line + 1
        self._record(node, ())
        return self.construct_document(node)

    def _record(self, node: Node, path: Path) -> None:
        if id(node) in self._seen:  # an alias: already recorded where it was defined
            return
        self._seen.add(id(node))
        if isinstance(node, MappingNode):
            self._record_mapping(node, path)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.key_marks.lines[(*map(str, path), str(index))] = item.start_mark.line + 1
                self._record(item, (*path, index))

    def _record_mapping(self, node: MappingNode, path: Path) -> None:
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.value == "<<":
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                self.key_marks.duplicates.append(((*path, key), line))
            seen.add(key)
            self.key_marks.lines[(*map(str, path), key)] = line  # YAML keeps the last one
            self._record(value_node, (*path, key))


def load_yaml(text: str) -> tuple[Any, Marks]:
    """Parse one YAML document; raises :class:`yaml.YAMLError` on bad syntax."""
    loader = MarkedLoader(text)
    try:
        return loader.load_marked(), loader.key_marks
    finally:
        loader.dispose()
