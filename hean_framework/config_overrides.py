"""Overrides of a run file: ``HEAN__A__B=value`` environment variables and ``--set a.b=value``.

Dotted keys: parts separated by single dots, list items as ``[N]`` or ``.N`` counting from 0,
the index one past the end appends; an empty part, an unbalanced bracket or a negative index is
a :class:`~hean_framework.errors.ConfigError` explaining the syntax.  Also here: the secrets
check (exchange keys never live in the file) and the shape check of a raw document (size,
depth).
"""

from __future__ import annotations

import os
import re
from typing import Any

from .config_yaml import MAX_CONFIG_DEPTH, MAX_CONFIG_NODES, YamlRefused, parse_value
from .errors import ConfigError

ENV_PREFIX = "HEAN__"
SECRET_KEYS = re.compile(r"(api_?key|secret|password|passphrase|private_?key|token)$", re.I)

#: one part of a dotted key: a name and/or ``[N]`` indexes (``files[0]``, ``files``, ``0``)
_PART = re.compile(r"(?P<name>[^\[\]]*)(?P<idx>(?:\[[^\[\]]*\])*)")
_DOTTED_HELP = ("write --set dotted.key=value: keys separated by single dots, list items as "
                "[N] or .N counting from 0 (the index one past the end appends; negative "
                "indexes are not supported), e.g. --set run.seed=7 --set "
                "data.files[0].path=x.csv.gz; HEAN__A__B=v environment variables set a.b")


def _dotted_keys(dotted: str, origin: str = "") -> list[str | int]:
    """``data.files[0].path`` (or ``data.files.0.path``) -> ``["data", "files", 0, "path"]``.

    :raises ConfigError: an empty key or part (``run..seed``), a bracket that is not
        ``[N]`` (``files[x]``, ``files[0``).  A negative index is returned as is (the caller
        refuses it, knowing the list).
    """
    what = origin or f"--set {dotted}"
    if not dotted:
        raise ConfigError([f"{what}: the key is empty"], hint=_DOTTED_HELP)
    keys: list[str | int] = []
    for part in dotted.split("."):
        m = _PART.fullmatch(part)
        if m is None:
            raise ConfigError([f"{what}: {part!r} is not a key, key[N] or N (check the "
                               "brackets)"], hint=_DOTTED_HELP)
        name, idx = m.group("name"), m.group("idx")
        if not name and not idx:
            raise ConfigError([f"{what}: empty part in {dotted!r} (two dots in a row, or a dot "
                               "at the start or end)"], hint=_DOTTED_HELP)
        if name and idx and name.isdigit():
            raise ConfigError([f"{what}: {part!r}: write the index as [N] after a name"],
                              hint=_DOTTED_HELP)
        if name:
            keys.append(int(name) if name.isdigit() else name)
        for i in re.findall(r"\[([^\[\]]*)\]", idx):
            if not re.fullmatch(r"-?\d+", i.strip()):
                raise ConfigError([f"{what}: index [{i}] is not a number"], hint=_DOTTED_HELP)
            keys.append(int(i))
    return keys


def set_dotted(raw: dict[str, Any], dotted: str, value: Any, origin: str = "") -> None:
    """Set ``a.b.c`` in a nested dict, creating mappings on the way.

    A number (``files[0]`` or ``files.0``) indexes a list; the index one past the end appends
    (``data.files[1]={kind: trades, ...}`` adds a file).  ``origin`` names the override in
    errors (default ``--set <dotted>``).
    """
    what = origin or f"--set {dotted}"
    keys = _dotted_keys(dotted, what)
    cur: Any = raw
    for i, k in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(k, int) and k < 0:
            at = ".".join(map(str, keys[:i]))
            size = f"{at} is a list of {len(cur)}: its last item is [{len(cur) - 1}]" \
                if isinstance(cur, list) and cur else f"{at} is not a list with items"
            raise ConfigError([f"{what}: index [{k}]: negative indexes are not supported "
                               f"({size})"], hint=_DOTTED_HELP)
        if isinstance(k, int) and isinstance(cur, dict):
            k = str(k)  # a numeric mapping key
        if isinstance(k, int):
            if not isinstance(cur, list) or k > len(cur):
                have = f"a list of {len(cur)}" if isinstance(cur, list) else \
                    f"not a list ({type(cur).__name__})"
                raise ConfigError([f"{what}: index {k} does not exist "
                                   f"({'.'.join(map(str, keys[:i]))} is {have}; an index one "
                                   "past the end appends)"])
            if k == len(cur):
                cur.append(value if last else {})
            elif last:
                cur[k] = value
            cur = cur[k]
            continue
        if not isinstance(cur, dict):
            raise ConfigError([f"{what}: {k!r} is not a key of a mapping here"])
        if last:
            cur[k] = value
            return
        nxt = cur.get(k)
        want_list = isinstance(keys[i + 1], int)
        if not (isinstance(nxt, dict) or (want_list and isinstance(nxt, list))):
            nxt = [] if want_list else {}
            cur[k] = nxt
        cur = nxt


def apply_overrides(raw: dict[str, Any], sets: list[str] | tuple[str, ...] = (),
                    environ: dict[str, str] | None = None) -> list[str]:
    """Apply ``HEAN__A__B=v`` env vars then ``--set a.b=v`` items; return what was applied."""
    applied = []
    env = os.environ if environ is None else environ
    items: list[tuple[str, str, str]] = []
    for key, val in sorted(env.items()):
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            items.append((f"env {key}", key[len(ENV_PREFIX):].lower().replace("__", "."), val))
    for item in sets:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ConfigError([f"--set {item!r}: expected dotted.key=value"
                               + ("" if eq else " (no '=')")], hint=_DOTTED_HELP)
        items.append((f"--set {k.strip()}", k.strip(), v))
    for what, dotted, text in items:
        try:
            value = parse_value(text)
        except YamlRefused as exc:
            raise ConfigError([f"{what}: the value is refused: {exc}"]) from exc
        set_dotted(raw, dotted, value, what)
        applied.append(what)
    return applied


def find_secrets(raw: Any, path: str = "") -> list[str]:
    """YAML paths of keys that look like secrets."""
    out = []
    if isinstance(raw, dict):
        for k, v in raw.items():
            p = f"{path}.{k}" if path else str(k)
            if isinstance(k, str) and SECRET_KEYS.search(k) and v not in (None, ""):
                out.append(p)
            out.extend(find_secrets(v, p))
    elif isinstance(raw, list):
        for i, v in enumerate(raw):
            out.extend(find_secrets(v, f"{path}[{i}]"))
    return out


def check_shape(raw: Any) -> list[str]:
    """Problems of a config's nesting and size, found without recursion: more than
    :data:`MAX_CONFIG_NODES` values (shared or self-containing dicts/lists count at every
    place they appear), more than :data:`MAX_CONFIG_DEPTH` levels."""
    count = 0
    stack: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while stack:
        obj, path, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_NODES:
            return [f"{path or '(top level)'}: the config holds more than "
                    f"{MAX_CONFIG_NODES:,} values (or a mapping/list that contains itself)"]
        if depth > MAX_CONFIG_DEPTH:
            return [f"{path}: nested more than {MAX_CONFIG_DEPTH} levels deep"]
        if isinstance(obj, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1)
                         for k, v in obj.items())
        elif isinstance(obj, list | tuple):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(obj))
    return []
