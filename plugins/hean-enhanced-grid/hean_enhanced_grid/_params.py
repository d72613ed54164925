"""Parameter updates (the optimizer's ``on_params_updated``) clamped into the model's bounds.

:func:`apply_clamped` keeps the keys the config model knows, brings every number into its
field's declared range (the optimizer's search space, :func:`hean_framework.optimize.space_of`:
``ge``/``le`` bounds, ints rounded), validates the whole config and swaps it.  A value of the
wrong type, or a combination the model refuses (``min_range_pct`` not below
``max_range_pct``), changes nothing and returns no key.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from hean_framework import Strategy


def apply_clamped(strategy: Strategy, params: dict[str, Any]) -> list[str]:
    """Known keys of ``params``, numbers clamped, applied to ``strategy.config``; the keys
    accepted (empty: nothing changed)."""
    from hean_framework.optimize import space_of  # not at import: plugins load at every start

    model = type(strategy.config)
    space = space_of(model)
    known: dict[str, Any] = {}
    for key, value in params.items():
        if key not in model.model_fields:
            continue
        p = space.get(key)
        if p is not None and p.kind != "choice" and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            value = p.clip(value)
        known[key] = value
    if not known:
        return []
    try:
        strategy.config = model.model_validate(strategy.config.model_dump() | known)
    except ValidationError:
        return []
    return sorted(known)
