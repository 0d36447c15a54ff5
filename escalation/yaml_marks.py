"""YAML loading that remembers where every key is, so errors can name a line.

It also bounds what a configuration file may make the loader do: its size, its nesting
depth, its number of aliases, and the size and depth of the document once every alias is
expanded. A "billion laughs" file (aliases of aliases) or a 10,000-deep nesting is refused
with :class:`YamlLimit`, naming the line and key, before anything walks the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

MAX_BYTES = 1_000_000
"""A signoff.yml larger than this is refused (a large real one is a few tens of KB)."""
MAX_DEPTH = 64
"""Nesting deeper than this, written out or reached through aliases, is refused."""
MAX_ALIASES = 1_000
MAX_NODES = 200_000
"""Values in the document with every alias expanded: what validation will walk."""


class YamlLimit(yaml.YAMLError):
    """The file exceeds a loader bound. Says where, what, and how to fix it."""

    def __init__(self, line: int | None, path: Path, message: str, fix: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message, self.fix = line, path, message, fix


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
        self._path: list[str | int] = []
        self._aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """PyYAML's composer, counting aliases and depth as it goes (it recurses per level)."""
        mark = self.peek_event().start_mark
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise YamlLimit(mark.line + 1, tuple(self._path),
                                f"more than {MAX_ALIASES} aliases (*name)",
                                "write the values out, or use fewer anchors and aliases")
            return super().compose_node(parent, index)
        self._path.append(index.value if isinstance(index, ScalarNode) else
                          index if isinstance(index, int) else "?")
        try:
            if len(self._path) > MAX_DEPTH:
                raise YamlLimit(mark.line + 1, tuple(self._path[1:9]),
                                f"nested more than {MAX_DEPTH} levels deep",
                                "flatten this value; no setting nests that deep")
            return super().compose_node(parent, index)
        finally:
            self._path.pop()

    def load_marked(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        check_expansion(node)
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


def _children(node: Node) -> list[tuple[str | int, Node]]:
    if isinstance(node, MappingNode):
        out: list[tuple[str | int, Node]] = []
        for key_node, value_node in node.value:
            name = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            out += [(name, key_node), (name, value_node)]
        return out
    if isinstance(node, SequenceNode):
        return list(enumerate(node.value))
    return []


def check_expansion(root: Node) -> None:
    """Refuse a document whose aliases expand it beyond :data:`MAX_NODES` values or
    :data:`MAX_DEPTH` levels, or make it contain itself. Each node is measured once
    (iteratively, so no recursion limit is reached on the way)."""
    size: dict[int, tuple[int, int]] = {}
    where: dict[int, Path] = {id(root): ()}
    open_: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            kids = [size[id(child)] for _, child in _children(node)]
            measured = (1 + sum(n for n, _ in kids), 1 + max((d for _, d in kids), default=0))
            size[id(node)] = measured
            open_.discard(id(node))
            _within_bounds(node, where[id(node)], *measured)
            continue
        if id(node) in size:
            continue
        if id(node) in open_:
            raise YamlLimit(node.start_mark.line + 1, where[id(node)],
                            "an alias makes this value contain itself",
                            "remove the alias that points back into its own anchor")
        open_.add(id(node))
        stack.append((node, True))
        for key, child in _children(node):
            where.setdefault(id(child), (*where[id(node)], key))
            stack.append((child, False))


def _within_bounds(node: Node, path: Path, nodes: int, depth: int) -> None:
    if nodes > MAX_NODES:
        raise YamlLimit(node.start_mark.line + 1, path,
                        f"its aliases expand to more than {MAX_NODES:,} values (an alias "
                        "bomb)", "write the values out instead of aliasing aliases")
    if depth > MAX_DEPTH:
        raise YamlLimit(node.start_mark.line + 1, path,
                        f"its aliases nest it more than {MAX_DEPTH} levels deep",
                        "write the values out instead of aliasing aliases")


def load_yaml(text: str) -> tuple[Any, Marks]:
    """Parse one YAML document; raises :class:`yaml.YAMLError` on bad syntax and
    :class:`YamlLimit` beyond the loader's bounds."""
    if len(text) > MAX_BYTES:
        raise YamlLimit(None, (), f"the file is {len(text):,} characters; the limit is "
                        f"{MAX_BYTES:,}", "keep signoff.yml to settings (it holds no data)")
    loader = MarkedLoader(text)
    try:
        return loader.load_marked(), loader.key_marks
    finally:
        loader.dispose()
