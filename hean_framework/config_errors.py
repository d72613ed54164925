"""Pydantic validation errors as lines a user can act on: ``path: problem (got value;
allowed ...)``, the allowed keys for an unknown one, union labels dropped, long values cut."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError


def _loc(prefix: str, loc: tuple[Any, ...]) -> str:
    parts = [prefix] if prefix else []
    for x in loc:
        if isinstance(x, int):
            if parts:
                parts[-1] += f"[{x}]"
            else:
                parts.append(f"[{x}]")
        else:
            parts.append(str(x))
    return ".".join(parts)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Walk ``loc`` (minus the bad key) through nested models to list allowed keys."""
    cur: Any = model
    map_key = False  # the next part is a key of a ``dict[str, Model]`` field
    for part in loc[:-1]:
        if map_key or isinstance(part, int) \
                or not (isinstance(cur, type) and issubclass(cur, BaseModel)):
            map_key = False
            continue
        f = cur.model_fields.get(str(part))
        if f is None:
            return []
        ann = f.annotation
        map_key = getattr(ann, "__origin__", None) is dict
        args = getattr(ann, "__args__", ())
        nested = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            for a in args:
                nested += [b for b in getattr(a, "__args__", ())
                           if isinstance(b, type) and issubclass(b, BaseModel)]
        cur = nested[0] if nested else None
    if isinstance(cur, type) and issubclass(cur, BaseModel):
        return sorted(cur.model_fields)
    return []


def _short(val: Any, limit: int = 80) -> str:
    """``repr(val)`` cut to ``limit`` characters (mappings shown as ``{...}``)."""
    if isinstance(val, dict):
        return "{...}"
    text = repr(val)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _input_loc(loc: tuple[Any, ...], data: Any, typ: str) -> tuple[tuple[Any, ...], bool]:
    """``loc`` without the labels pydantic inserts (union members such as ``bool`` or
    ``literal['auto']``, ``[key]``): the parts that are keys/indexes of the validated input
    ``data`` (and the last part of a missing or unknown key).  Also: whether one was dropped."""
    out: list[Any] = []
    cur = data
    for i, part in enumerate(loc):
        indexes = isinstance(cur, list | tuple) and isinstance(part, int) \
            and 0 <= part < len(cur)
        if indexes or (isinstance(cur, dict) and part in cur):
            cur = cur[part]
        elif not (i == len(loc) - 1 and typ in ("missing", "extra_forbidden")):
            continue
        out.append(part)
    return tuple(out), len(out) < len(loc)


_NO_DATA = object()


def format_errors(exc: ValidationError, prefix: str, model: type[BaseModel],
                  extra_allowed: tuple[str, ...] = (), data: Any = _NO_DATA) -> list[str]:
    """Turn pydantic errors into ``path: problem (got value; allowed ...)`` lines.

    With the validated input ``data`` the paths are YAML paths: pydantic's union-member labels
    are dropped and the errors of one union (``true``, or ``'auto'``) become one line.
    """
    out: list[str] = []
    merged: dict[str, int] = {}  # path -> index in out of a union's line
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        typ = e.get("type", "")
        union = False
        if data is not _NO_DATA:
            loc, union = _input_loc(loc, data, typ)
        elif loc and loc[-1] == "[key]":
            loc = loc[:-1]
        path = _loc(prefix, loc)
        val = e.get("input")
        if typ == "extra_forbidden":
            allowed = sorted(set(_allowed_keys(model, loc)) | set(extra_allowed))
            out.append(f"{path}: unknown key; allowed keys: {', '.join(allowed)}")
            continue
        if typ == "invalid_key" or (e.get("loc") and e["loc"][-1] == "[key]"):
            where = _loc(prefix, loc[:-1])
            out.append(f"{where or '(top level)'}: key {val!r} must be a string (quote it: "
                       f"'{val}')")
            continue
        msg = e.get("msg", "invalid")
        if typ == "value_error":
            msg = msg.removeprefix("Value error, ")
        ctx = e.get("ctx") or {}
        extra = ""
        if "expected" in ctx:
            extra = f"; allowed: {ctx['expected']}"
        shown = _short(val)
        if typ == "missing":
            out.append(f"{path}: required key is missing")
        elif union and path in merged:
            i = merged[path]
            head, got = out[i].rsplit(" (got ", 1)
            out[i] = f"{head}, or {msg[0].lower()}{msg[1:]} (got {got[:-1]}{extra})"
        else:
            if union:
                merged[path] = len(out)
            out.append(f"{path or '(top level)'}: {msg} (got {shown}{extra})")
    return out
