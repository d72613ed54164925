"""Parameter updates (optimizer, online bridge, API) clamped into a config model's bounds.

:func:`apply_clamped` is what :meth:`Strategy.on_params_updated
<hean_framework.components.Strategy.on_params_updated>` does by default, and what any other
component with a ``config`` may call from its own ``on_params_updated``:

* keys the config model does not know are ignored (not accepted);
* an ``int``/``float`` value is brought into its field's declared range (``ge``/``gt``/``le``/
  ``lt`` of the pydantic ``Field``; one-sided bounds too), ints rounded;
* the merged config is validated as a whole: a value of the wrong type, or a combination the
  model's validators refuse, changes nothing and accepts no key;
* the accepted keys are returned sorted (empty: the config was not changed).

The bounds are the same ones the optimizer searches (:func:`hean_framework.optimize.space_of`),
so an update can never leave the declared parameter space.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError

__all__ = ["apply_clamped", "clamp_value", "field_bounds"]


class Configured(Protocol):
    """Anything with a pydantic ``config`` (every component)."""

    config: Any


def field_bounds(field: Any, integer: bool) -> tuple[float | None, float | None]:
    """``(low, high)`` of a pydantic field from its ``ge``/``gt``/``le``/``lt`` metadata (None:
    unbounded on that side); strict bounds become the next representable value inside."""
    low = high = None
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            low = float(m.ge)
        if getattr(m, "gt", None) is not None:
            low = float(m.gt) + 1 if integer else math.nextafter(float(m.gt), math.inf)
        if getattr(m, "le", None) is not None:
            high = float(m.le)
        if getattr(m, "lt", None) is not None:
            high = float(m.lt) - 1 if integer else math.nextafter(float(m.lt), -math.inf)
    return low, high


def clamp_value(model: type[BaseModel], key: str, value: Any) -> Any:
    """``value`` for field ``key`` of ``model`` brought into the field's bounds (numbers only;
    anything else is returned unchanged for the model to validate)."""
    field = model.model_fields[key]
    ann = field.annotation
    if ann not in (int, float) or isinstance(value, bool) or \
            not isinstance(value, int | float) or not math.isfinite(value):
        return value
    low, high = field_bounds(field, ann is int)
    v = float(value)
    if low is not None and v < low:
        v = low
    if high is not None and v > high:
        v = high
    return round(v) if ann is int else v


def apply_clamped(component: Configured, params: Mapping[str, Any]) -> list[str]:
    """Apply the known keys of ``params`` to ``component.config``, numbers clamped; return the
    keys accepted (see the module docstring)."""
    config = component.config
    model = type(config)
    known = {k: clamp_value(model, k, v) for k, v in params.items()
             if k in model.model_fields}
    if not known:
        return []
    try:
        component.config = model.model_validate(config.model_dump() | known)
    except ValidationError:
        return []
    return sorted(known)
