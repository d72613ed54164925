"""Small helpers shared by the risk components (no state, no side effects)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import RunContext

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def strategy_ids(ctx: RunContext, fallback: list[str] | None = None) -> list[str]:
    """The run's strategy instance names (``fallback`` when the run has none)."""
    return list(ctx.run.strategies) or list(fallback or [])


def plugin_names(ctx: RunContext) -> dict[str, str]:
    """Strategy instance name -> registered plugin name (``momentum_fast`` -> ``momentum_trader``).

    Tables keyed by the original strategy names (daily attempts, loss lockouts, phase
    affinity) are looked up by instance name first, then by plugin name.
    """
    return {name: s.plugin for name, s in ctx.run.strategies.items()}


def lookup(table: dict[str, Any], sid: str, plugins: dict[str, str], default: Any) -> Any:
    """``table[sid]``, else ``table[plugin name of sid]``, else ``default``."""
    if sid in table:
        return table[sid]
    p = plugins.get(sid)
    if p is not None and p in table:
        return table[p]
    return default


def journal_event(ctx: RunContext, kind: str, payload: dict[str, Any],
                  ts: int | None = None) -> None:
    """Journal a rare event at ``ts`` (default ``ctx.now``) when journaling is on."""
    j = ctx.journal
    if j is not None:
        j.event(ctx.now if ts is None else ts, kind, payload)


def clamp(x: float, lo: float, hi: float) -> float:
    """``x`` limited to ``[lo, hi]``."""
    return lo if x < lo else hi if x > hi else x


def pct(x: float) -> str:
    """``0.006`` -> ``0.6%``, ``0.2`` -> ``20%``: a configured fraction as the user wrote it
    (``:.0%`` would print 0.6 % as 1 %)."""
    return f"{x * 100:.4g}%"
