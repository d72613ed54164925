"""Clamped parameter updates shared by the physics components.

``apply_params(config, params)`` is what each component's ``on_params_updated`` does: keys the
config model does not know are ignored, a value of a bounded numeric field is brought into its
declared range (the pydantic ``Field`` bounds, read by the kernel's ``space_of``), a choice
must be one of its values, and the new config is validated as a whole.  When the result is
invalid (e.g. a boundary pushed past another one) nothing changes and no key is accepted.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hean_framework.optimize import space_of

__all__ = ["apply_params"]

M = TypeVar("M", bound=BaseModel)


def apply_params(config: M, params: dict[str, Any]) -> tuple[M, list[str]]:
    """``(new config, accepted keys)``; ``(config, [])`` when nothing applies."""
    model = type(config)
    known = {k: v for k, v in params.items() if k in model.model_fields}
    if not known:
        return config, []
    space = space_of(model)
    clamped: dict[str, Any] = {}
    for k, v in known.items():
        par = space.get(k)
        if par is not None and par.kind != "choice":
            try:
                v = par.clip(v)
            except (TypeError, ValueError):
                return config, []
        clamped[k] = v
    try:
        new = model.model_validate(config.model_dump() | clamped)
    except ValidationError:
        return config, []
    return new, sorted(clamped)
