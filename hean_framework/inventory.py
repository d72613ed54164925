"""Inventory of a quoting strategy: notional, limit, side limit, inventory stop and flatten.

What a market maker or rebate farmer (``style = "quoting"``, ``docs/quoting.md``) needs to keep
its position in hand, the same rules for every such strategy:

* **Valuation mid** (:func:`touch_mid`): the midpoint of a two-sided, uncrossed touch
  (``bid > 0`` and ``ask > bid``), else the last price (0.0: no price yet).
* **Inventory in notional** (:func:`inventory_notional`): ``position × contract size × mid``,
  signed (long > 0), quote currency; the position is the strategy's own one from
  ``ctx.portfolio`` (every fill counts), so the same notional means the same exposure on any
  symbol.
* **Limit** (:func:`inventory_limit`): ``pct × budget / n_symbols`` with ``budget`` the
  strategy's capital from ``ctx.budgets`` (the allocator's, else equity × weight): a limit per
  symbol (``n_symbols`` 1) or one budget share split over the symbols.
* **Side limit** (:func:`sides_within_limit`): a quote side is allowed only while its fill of
  ``notional`` keeps ``|inventory|`` within the limit (bid: ``inventory + notional <= limit``;
  ask: ``inventory − notional >= −limit``).
* **Inventory stop** (:class:`InventoryStop`, one per symbol; the thresholds ``stop_after_s``,
  ``adverse_move_pct`` and ``stop_cooldown_s`` read from the strategy's config at each check,
  :class:`StopParams`): the *over-limit clock* starts at the first check with ``|inventory| >
  limit > 0`` and is reset by any check within it (it runs during a cooldown too).  A check
  of a non-flat position outside a cooldown returns

  - ``INVENTORY_STOP_TIME`` when the clock has run *longer than* ``stop_after_s`` (exactly
    ``stop_after_s`` does not stop), else
  - ``INVENTORY_STOP_ADVERSE`` when the mid is ``adverse_move_pct`` or more against the
    position's average entry: ``(mid − entry) / entry × side <= −adverse_move_pct`` (side +1
    long, −1 short; no entry known: no adverse stop),
  - else ``""``.

  A stop resets the clock and starts a cooldown of ``stop_cooldown_s``
  (:meth:`InventoryStop.cooling` is true until then; a strategy quotes nothing meanwhile).  A
  flat position never stops.
* **Flatten** (:func:`flatten`): what a stop returns -- the strategy's quote of the symbol
  withdrawn (:meth:`OrderGroup.withdraw <hean_framework.groups.OrderGroup.withdraw>`) and a
  reduce-only market signal against the position, tagged with the stop's code: the pipeline
  decides it as an exit (skips filters, sizers and gates, sized to the position), so the stop
  is a journaled decision with the tag as its reason code, filled by taker.

Plain functions and a small state object holding no reference to the run; nothing here
allocates but :func:`flatten` (and the ``(bid, ask)`` pair of :func:`sides_within_limit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, Protocol

from .groups import OrderGroup
from .models import Signal

if TYPE_CHECKING:
    from .components import Strategy
    from .context import RunContext
    from .market import SymbolState

__all__ = ["STOP_ADVERSE", "STOP_TIME", "InventoryStop", "StopParams", "StopTag", "flatten",
           "inventory_limit", "inventory_notional", "sides_within_limit", "touch_mid"]

#: tag (and reason code) of a stop after ``stop_after_s`` over the limit
STOP_TIME: Final = "INVENTORY_STOP_TIME"
#: tag (and reason code) of a stop after an adverse move from the entry
STOP_ADVERSE: Final = "INVENTORY_STOP_ADVERSE"
#: what :meth:`InventoryStop.check` returns (``""``: no stop)
StopTag = Literal["", "INVENTORY_STOP_TIME", "INVENTORY_STOP_ADVERSE"]


class StopParams(Protocol):
    """The stop's thresholds, as a quoting strategy's config names them (any object with
    these attributes: the config model itself)."""

    @property
    def stop_after_s(self) -> float:
        """Flatten when ``|inventory|`` stays over the limit longer than this, seconds."""
        ...

    @property
    def adverse_move_pct(self) -> float:
        """Flatten when the mid is this fraction against the entry (0.005 = 0.5 %)."""
        ...

    @property
    def stop_cooldown_s(self) -> float:
        """No quote this long after a stop, seconds."""
        ...


def touch_mid(st: SymbolState) -> float:
    """Midpoint of a two-sided, uncrossed touch (``bid > 0``, ``ask > bid``), else the last
    price (0.0: no price yet)."""
    if st.bid > 0.0 and st.ask > st.bid:
        return (st.bid + st.ask) * 0.5
    return st.last


def inventory_notional(ctx: RunContext, strategy_id: str, symbol: str,
                       mid: float = 0.0) -> float:
    """``strategy_id``'s signed inventory in ``symbol`` in the quote currency: position ×
    contract size × ``mid`` (0.0: :func:`touch_mid` of ``ctx.market[symbol]``)."""
    qty = ctx.portfolio.position_qty(strategy_id, symbol)
    if not qty:
        return 0.0
    if mid == 0.0:
        mid = touch_mid(ctx.market[symbol])
    return qty * ctx.instruments.get(symbol).contract_size * mid


def inventory_limit(budget: float, pct: float, n_symbols: int = 1) -> float:
    """The ``|inventory|`` limit: ``pct × budget / n_symbols`` (``budget``: the strategy's
    ``ctx.budgets.budget(strategy_id)``, also the base of its quote size, hence read once by
    the caller)."""
    return pct * budget / n_symbols


def sides_within_limit(inventory: float, notional: float, limit: float) -> tuple[bool, bool]:
    """``(bid, ask)``: may that side be quoted -- would a fill of ``notional`` keep
    ``|inventory|`` within ``limit``."""
    return inventory + notional <= limit, inventory - notional >= -limit


class InventoryStop:
    """One symbol's inventory stop: the over-limit clock and the cooldown (module docstring).

    ``check`` is called on every market event of the symbol, before quoting; the thresholds
    are read from its ``params`` at each call, so a parameter update applies at the next one.
    """

    __slots__ = ("cooldown_until", "over_since")

    def __init__(self) -> None:
        #: when ``|inventory|`` went over the limit, ms (0: within it)
        self.over_since = 0
        #: no quote before this time, ms (0: no cooldown)
        self.cooldown_until = 0

    def cooling(self, ts: int) -> bool:
        """True during the cooldown after a stop."""
        return ts < self.cooldown_until

    def check(self, ts: int, inventory: float, limit: float, mid: float, entry: float,
              params: StopParams) -> StopTag:
        """Advance the over-limit clock and say whether the position must be flattened now:
        ``INVENTORY_STOP_TIME``, ``INVENTORY_STOP_ADVERSE`` or ``""`` (``inventory`` signed,
        notional; ``entry`` the position's average entry price, 0.0 unknown).  A stop starts
        the cooldown."""
        if abs(inventory) > limit > 0.0:
            if not self.over_since:
                self.over_since = ts
        else:
            self.over_since = 0
        if not inventory or ts < self.cooldown_until:
            return ""
        tag: StopTag = ""
        if self.over_since and ts - self.over_since > params.stop_after_s * 1000:
            tag = STOP_TIME
        elif entry > 0.0 and (mid - entry) / entry * (1.0 if inventory > 0 else -1.0) \
                <= -params.adverse_move_pct:
            tag = STOP_ADVERSE
        if tag:
            self.over_since = 0
            self.cooldown_until = ts + int(params.stop_cooldown_s * 1000)
        return tag


def flatten(strategy: Strategy, symbol: str, position: float, ts: int, price: float,
            tag: str, key: str = "") -> list[OrderGroup | Signal]:
    """Withdraw ``strategy``'s quote ``key`` of ``symbol`` and close the position by a
    reduce-only market signal (``position`` signed: quantity or notional; ``price`` the
    reference price of the signal, e.g. the mid), tagged ``tag``."""
    return [OrderGroup.withdraw(strategy.name, symbol, key),
            strategy.signal(symbol, "sell" if position > 0 else "buy", ts, price,
                            reduce_only=True, tag=tag)]
