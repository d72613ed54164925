"""``hean config schema``: a JSON Schema of the whole run file, for editors.

Covers the kernel sections, every installed plugin's component section (its config model plus
the kernel keys of its kind, :mod:`hean_framework.kinds`), the venue and feed choices, and the
top-level sections plugins registered (``risk``, ``small_capital`` ...).  Unknown top-level
keys are not allowed, as in :func:`hean_framework.config.load_setup`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .config import RunConfig
from .kinds import KINDS, SECTION_KINDS, CommonKeys
from .registry import ComponentSpec, Registry


def json_schema(registry: Registry) -> dict[str, Any]:
    """A JSON Schema of the whole file covering every installed plugin's section, the kernel
    keys of each component section and the plugin-owned top-level sections."""
    schema = RunConfig.model_json_schema()
    props = schema.setdefault("properties", {})
    defs = schema.setdefault("$defs", {})
    schema["additionalProperties"] = False

    def model_schema(model: type[BaseModel]) -> dict[str, Any]:
        s = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(s.pop("$defs", {}))
        return s

    def comp_schema(spec: ComponentSpec, common: type[CommonKeys] | None) -> dict[str, Any]:
        s = model_schema(spec.config_model)
        s.setdefault("properties", {})
        if common is not None:
            for k, v in model_schema(common).get("properties", {}).items():
                s["properties"].setdefault(k, v)
        s["description"] = f"{spec.kind} {spec.name!r} from {spec.origin.describe()}"
        return s

    for section, kind in SECTION_KINDS.items():
        specs = [registry.components[kind][n] for n in registry.names(kind)]
        by_name = {s.name: comp_schema(s, KINDS[kind].common) for s in specs}
        props[section] = {
            "type": "object",
            "properties": by_name,
            "additionalProperties": {
                "type": "object", "required": ["plugin"],
                "properties": {"plugin": {"enum": sorted(by_name)}}},
        }
    for section, kind in (("venue", "venue"), ("data", "feed")):
        specs = [registry.components[kind][n] for n in registry.names(kind)]
        props[section] = {"anyOf": [comp_schema(s, None) for s in specs] or [{"type": "object"}]}
    for name, sec in registry.sections.items():
        s = model_schema(sec.model)
        s["description"] = f"section {name!r} from {sec.origin.describe()}"
        props[name] = s
    return schema
