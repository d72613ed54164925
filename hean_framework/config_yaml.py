"""Reading a run file: PyYAML's SafeLoader with the limits a config needs.

:class:`ConfigLoader` refuses, while it reads: a key given twice in one mapping (naming both
lines; ``<<:`` merge keys may still override), a file over :data:`MAX_YAML_BYTES`, more than
:data:`MAX_CONFIG_NODES` values with aliases expanded (an alias bomb is refused in well under a
second), nesting deeper than :data:`MAX_CONFIG_DEPTH`, and an alias inside the node it repeats.
:func:`read_yaml` turns every refusal into a :class:`~hean_framework.errors.ConfigError`
naming the file; :func:`parse_value` reads a ``--set`` value the same way.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

#: A run file larger than this is refused before it is parsed (a config is a few KiB).
MAX_YAML_BYTES = 1 << 20
#: Values a config may hold, counting every alias at its full size (a "billion laughs"
#: document of ten lines expands to 10**9 values; it is refused while it is being read).
MAX_CONFIG_NODES = 100_000
#: Mappings / lists inside each other (a config needs fewer than ten).
MAX_CONFIG_DEPTH = 64


class YamlRefused(yaml.YAMLError):
    """A YAML document the loader refuses: duplicate key, too large, too deep, alias loop."""


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with budgets and duplicate-key detection.

    While composing it counts the values of the document -- an alias counts as the whole
    node it repeats -- and the nesting depth, and refuses an alias of a node that contains it;
    while constructing it refuses a key given twice in one mapping (``<<`` merge keys may be
    overridden, as YAML intends).  Refusals are :class:`YamlRefused` naming the YAML path and
    the line(s).
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._count = 0
        self._sizes: dict[str, int] = {}  # anchor -> its values, aliases expanded
        self._open: set[str] = set()      # anchors whose node is being composed
        self._paths: list[str] = []       # YAML path of each node being composed
        self._where: dict[int, str] = {}  # id(mapping node) -> its YAML path
        self._checked: set[int] = set()

    def _grow(self, n: int, here: str, mark: Any) -> None:
        self._count += n
        if self._count > MAX_CONFIG_NODES:
            raise YamlRefused(f"{here or '(top level)'}: the document holds more than "
                              f"{MAX_CONFIG_NODES:,} values with its aliases expanded (line "
                              f"{_line(mark)}); a run config needs a few hundred -- is this an "
                              "alias bomb?")

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        up = self._paths[-1] if self._paths else ""
        if isinstance(index, int):
            here = f"{up}[{index}]"
        elif isinstance(index, yaml.ScalarNode):
            here = f"{up}.{index.value}" if up else str(index.value)
        else:
            here = up
        anchor = event.anchor
        if isinstance(event, yaml.AliasEvent):
            if anchor in self._open:
                raise YamlRefused(f"{here or '(top level)'}: alias *{anchor} (line "
                                  f"{_line(event.start_mark)}) repeats a node that contains it; "
                                  "a config cannot be infinite")
            self._grow(self._sizes.get(anchor or "", 0), here, event.start_mark)
            return super().compose_node(parent, index)
        if len(self._paths) >= MAX_CONFIG_DEPTH:
            raise YamlRefused(f"{here}: nested more than {MAX_CONFIG_DEPTH} levels deep (line "
                              f"{_line(event.start_mark)})")
        before = self._count
        self._grow(1, here, event.start_mark)
        if anchor is not None:
            self._open.add(anchor)
        self._paths.append(here)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._paths.pop()
        if anchor is not None:
            self._open.discard(anchor)
            self._sizes[anchor] = self._count - before
        if isinstance(node, yaml.MappingNode):
            self._where.setdefault(id(node), here)
        return node

    def _check_duplicates(self, node: yaml.MappingNode) -> None:
        if id(node) in self._checked:
            return
        self._checked.add(id(node))
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node)
            if not isinstance(key, Hashable):
                continue
            first = seen.setdefault(key, key_node)
            if first is not key_node:
                where = self._where.get(id(node), "")
                path = f"{where}.{key}" if where else str(key)
                raise YamlRefused(
                    f"{path}: duplicate key {key!r} (line {_line(first.start_mark)} and line "
                    f"{_line(key_node.start_mark)}); YAML would silently keep only the last "
                    "one -- remove one of them")

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            self._check_duplicates(node)
        return super().construct_mapping(node, deep=deep)

    def flatten_mapping(self, node: Any) -> None:
        # merge sources (``<<: *base``) are checked before their keys are merged in
        self._check_duplicates(node)
        super().flatten_mapping(node)


MERGE_TAG = "tag:yaml.org,2002:merge"


def _line(mark: Any) -> int:
    """The 1-based line of a PyYAML mark (0 when unknown)."""
    return int(mark.line) + 1 if mark is not None else 0


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    """``2025-03-13`` / ``2025-03-13T08:00:00Z`` stay the text written: times in a run config
    are read by their own fields (ISO or epoch ms, UTC), never as naive ``date`` objects."""
    return str(loader.construct_scalar(node))


ConfigLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def load_yaml_text(text: str) -> Any:
    """Parse one YAML document with :class:`ConfigLoader` (raises :class:`YamlRefused` or
    another :class:`yaml.YAMLError`)."""
    loader = ConfigLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; raise :class:`ConfigError` with the file name on failure."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError([f"file not found: {p}"], str(p), "check the path")
    size = p.stat().st_size
    if size > MAX_YAML_BYTES:
        raise ConfigError([f"the file is {size:,} bytes; a run config may be at most "
                           f"{MAX_YAML_BYTES:,} bytes"], str(p),
                          "is this the right file? data belongs in data.files, not in the YAML")
    try:
        raw = load_yaml_text(p.read_text(encoding="utf-8"))
    except YamlRefused as exc:
        raise ConfigError([str(exc)], str(p)) from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError([f"YAML error: {exc}"], str(p)) from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"top level must be a mapping, got {type(raw).__name__}"], str(p))
    return raw


def parse_value(text: str) -> Any:
    """Parse an override value the way YAML would (``3`` -> int, ``[a, b]`` -> list).

    Text that is not YAML stays a string; a refused document (duplicate key, alias bomb)
    raises :class:`YamlRefused`.
    """
    try:
        return load_yaml_text(text)
    except YamlRefused:
        raise
    except (yaml.YAMLError, ValueError):
        return text
