"""Margin rules of the simulated venue: initial margin, maintenance margin, liquidation.

One cross-margin account in the quote currency (USDT), linear contracts and spot, as the
simulated venue applies it (:mod:`hean_framework.execution.margin_desk`, the venue's desk):

* **Leverage** of a symbol = the venue's ``leverage`` (YAML ``venue.leverage``, default 10,
  1..125), capped by the instrument's maximum leverage where the metadata gives one; spot is
  always 1 (a cash account: no borrowing is modelled).
* **Initial margin** of a symbol = its worst-case notional if every open order on one side
  filled, divided by its leverage::

      IM(symbol) = max(|P + B|, |P - S|) / leverage

  with ``P`` the signed position notional at the current price, ``B``/``S`` the notional of the
  open (pending, resting, stop) buy/sell orders that are not reduce-only, at their limit/trigger
  price (market orders at the current price).  An order is rejected ``insufficient_margin``
  when it raises the account's ``Σ IM`` and the new sum exceeds equity (cash + position value);
  an order that lowers or keeps ``Σ IM`` (a reduction, a reversal's closing part) is never
  refused, nor is any reduce-only order.
* **Maintenance margin** = ``Σ |position notional| × maintenance rate`` (the instrument's rate
  where the metadata gives one, else the venue's ``maintenance_margin_rate``, default 0.005).
  When equity falls to it, every position is liquidated (:func:`liquidation_price`).
* **Liquidation fee** = the instrument's rate where the metadata gives one (Binance's
  ``info.liquidationFee``, 1.25 % for BTCUSDT in the shipped fixture), else the venue's
  ``liquidation_fee``, else the taker fee; it is taken from what is left of the margin and never
  takes equity below zero.

Equity cannot go below zero through normal trading: an order needing more margin than the
account has is refused, and positions are closed when equity reaches the maintenance margin,
i.e. while something is left.  A *gap* through the liquidation price (a bar opening beyond it,
a trade jumping over it) is filled at that worse price and can still cost more than the equity:
on an exchange the insurance fund absorbs that; here the loss is booked and shows.

Where the metadata comes from: :class:`~hean_framework.instruments.Instrument` carries
``max_qty`` today.  :func:`rules_for` also reads ``max_leverage``, ``maintenance_margin_rate``,
``liquidation_fee``, ``max_notional`` and ``max_market_qty`` when the instrument has them, and
:func:`rules_from_ccxt_market` derives exactly those fields from a ccxt market structure
(``limits.leverage.max``, ``info.liquidationFee``, ``limits.cost.max``, ``limits.market.max`` /
Bybit ``info.lotSizeFilter.maxMktOrderQty``, a top-level ``maintenanceMarginRate``).  Binance's
``info.maintMarginPercent`` / ``requiredMarginPercent`` are deliberately *not* used: Binance
documents them as "ignore" (fixed 2.5 / 5 for every symbol; the real values are the leverage
brackets of an authenticated endpoint).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..components import Verdict, block
from ..models import Order

__all__ = ["LIQUIDATION", "SIZE_REJECTS", "MarginRules", "initial_margin", "liquidation_price",
           "maintenance_margin", "refusal_verdict", "rules_for", "rules_from_ccxt_market"]

#: Tag of the orders the venue sends to liquidate positions (and of their fills' liquidity).
LIQUIDATION = "LIQUIDATION"
#: Venue reject codes about size, margin or spot holdings: the plain executor turns them into a
#: BLOCK decision (``INSUFFICIENT_MARGIN``, ``ABOVE_MAX_QTY``, ``ABOVE_MAX_NOTIONAL``,
#: ``INSUFFICIENT_BALANCE`` -- a spot sell beyond holdings without margin mode).
SIZE_REJECTS = frozenset(("insufficient_margin", "above_max_qty", "above_max_notional",
                          "insufficient_balance"))


@dataclass(frozen=True, slots=True)
class MarginRules:
    """Margin and size rules of one symbol as the venue applies them (0 = no limit/unknown)."""

    leverage: float  #: the leverage used for the initial margin (venue setting, capped)
    max_leverage: float  #: the exchange's maximum leverage (0 = not in the metadata)
    maintenance_rate: float  #: maintenance margin / notional
    liquidation_fee: float  #: fee rate of a liquidation fill
    max_qty: float  #: largest order quantity
    max_market_qty: float  #: largest market order quantity
    max_notional: float  #: largest order value (quote currency)
    #: where each number came from: ``{"leverage": "venue.leverage capped by metadata", ...}``
    sources: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the report."""
        return {"leverage": self.leverage, "max_leverage": self.max_leverage,
                "maintenance_rate": self.maintenance_rate,
                "liquidation_fee": self.liquidation_fee, "max_qty": self.max_qty,
                "max_market_qty": self.max_market_qty, "max_notional": self.max_notional,
                "sources": dict(self.sources)}


def _pos(value: Any) -> float:
    """``value`` as a positive finite float, else 0.0 (None, '', 'abc', NaN, ≤ 0)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) and x > 0.0 else 0.0


def rules_from_ccxt_market(market: Mapping[str, Any]) -> dict[str, float]:
    """The margin/size fields a ccxt unified market structure gives (only those present).

    Keys: ``max_leverage`` (``limits.leverage.max``; Bybit ``info.leverageFilter.maxLeverage``),
    ``maintenance_margin_rate`` (a top-level ``maintenanceMarginRate``, as ccxt's leverage tiers
    name it), ``liquidation_fee`` (Binance ``info.liquidationFee``), ``max_qty``
    (``limits.amount.max``), ``max_market_qty`` (``limits.market.max``; Bybit
    ``info.lotSizeFilter.maxMktOrderQty``), ``max_notional`` (``limits.cost.max``).
    """
    out: dict[str, float] = {}
    limits = market.get("limits") or {}
    info = market.get("info") or {}
    if not isinstance(info, Mapping):
        info = {}

    def lim(name: str, key: str) -> float:
        section = limits.get(name) or {}
        return _pos(section.get(key)) if isinstance(section, Mapping) else 0.0

    lev = lim("leverage", "max")
    if not lev:
        lev_filter = info.get("leverageFilter")
        if isinstance(lev_filter, Mapping):
            lev = _pos(lev_filter.get("maxLeverage"))
    lot = info.get("lotSizeFilter")
    found = {
        "max_leverage": lev,
        "maintenance_margin_rate": _pos(market.get("maintenanceMarginRate")),
        "liquidation_fee": _pos(info.get("liquidationFee")),
        "max_qty": lim("amount", "max"),
        "max_market_qty": lim("market", "max") or (
            _pos(lot.get("maxMktOrderQty")) if isinstance(lot, Mapping) else 0.0),
        "max_notional": lim("cost", "max"),
    }
    for key, value in found.items():
        if value > 0.0:
            out[key] = value
    return out


def rules_for(inst: Any, *, leverage: float, maintenance_rate: float,
              liquidation_fee: float | None, taker_fee: float) -> MarginRules:
    """The rules of ``inst`` (an :class:`~hean_framework.instruments.Instrument`) under the
    venue settings: metadata first, the venue's defaults where it has nothing."""
    sources: list[tuple[str, str]] = []
    spot = getattr(inst, "type", "") == "spot"
    max_lev = _pos(getattr(inst, "max_leverage", None))
    if spot:
        lev = 1.0
        sources.append(("leverage", "spot: 1 (cash account)"))
    elif max_lev and max_lev < leverage:
        lev = max_lev
        sources.append(("leverage", f"metadata max_leverage {max_lev:g} "
                                    f"(venue.leverage {leverage:g})"))
    else:
        lev = float(leverage)
        sources.append(("leverage", "venue.leverage"))
    mmr = _pos(getattr(inst, "maintenance_margin_rate", None))
    sources.append(("maintenance_rate", "metadata" if mmr else "venue.maintenance_margin_rate"))
    mmr = mmr or float(maintenance_rate)
    liq = _pos(getattr(inst, "liquidation_fee", None))
    if liq:
        sources.append(("liquidation_fee", "metadata"))
    elif liquidation_fee is not None:
        liq = float(liquidation_fee)
        sources.append(("liquidation_fee", "venue.liquidation_fee"))
    else:
        liq = float(taker_fee)
        sources.append(("liquidation_fee", "taker fee"))
    return MarginRules(lev, max_lev, mmr, liq, _pos(getattr(inst, "max_qty", None)),
                       _pos(getattr(inst, "max_market_qty", None)),
                       _pos(getattr(inst, "max_notional", None)), tuple(sources))


def initial_margin(position_notional: float, buys: float, sells: float,
                   leverage: float) -> float:
    """``max(|P + B|, |P − S|) / leverage`` (see the module docstring)."""
    return max(abs(position_notional + buys), abs(position_notional - sells)) / leverage


def maintenance_margin(positions: Iterable[tuple[float, float]]) -> float:
    """``Σ |notional| × rate`` over ``(signed notional, maintenance rate)`` pairs."""
    return sum(abs(n) * r for n, r in positions)


def liquidation_price(rest: float, qty: float, contract_size: float, rate: float) -> float:
    """Price of one symbol at which equity equals the maintenance margin, the others fixed.

    Equity − maintenance margin is linear in the symbol's price ``p``::

        H(p) = rest + contract_size × (qty − |qty| × rate) × p

    where ``rest`` = cash + Σ over the *other* symbols of ``cs × (q − |q| × rate) × price``.
    A long (``qty`` > 0) is liquidated at ``p ≤`` the returned price (≤ 0: never), a short at
    ``p ≥`` it.
    """
    coef = contract_size * (qty - abs(qty) * rate)
    if coef == 0.0:
        return 0.0 if qty > 0.0 else math.inf
    return -rest / coef


def refusal_verdict(order: Order | None) -> Verdict | None:
    """BLOCK with the venue's reason when it refused ``order`` at once for its size or margin
    (``INSUFFICIENT_MARGIN``, ``ABOVE_MAX_QTY``, ``ABOVE_MAX_NOTIONAL``); None otherwise.
    Executors return it from ``execute`` so the refusal is the signal's decision."""
    if order is None or order.status != "rejected":
        return None
    code = order.reason.split(":", 1)[0]
    if code not in SIZE_REJECTS:
        return None
    return block(code.upper(), order.reason, order_id=order.order_id, venue_code=code)
