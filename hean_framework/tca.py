"""Transaction-cost analysis (TCA): what executing each parent order cost, split by cause.

A **parent order** is a decision that produced orders (every executor: plain, maker chase,
TWAP, smart order, exits).  The order router tells :class:`TransactionCosts` about the first
order of each decision (:meth:`~TransactionCosts.on_submit`), about every fill of an order
that belongs to a decision (:meth:`~TransactionCosts.on_fill`) and about the decision itself
(:meth:`~TransactionCosts.on_decision`): work per order and per fill, never per market event.
Protective stop/target orders (no decision) are not parents; their fills are counted apart.

Per parent, with ``s = +1`` for a buy and ``-1`` for a sell, ``M0`` the **arrival mid** (the
symbol's mid -- best bid/ask, else the last price -- when the decision's first order was
submitted, i.e. at decision time) and, for each fill ``i`` of quantity ``q_i`` at price
``p_i``, ``m_i`` the mid at the fill and ``t_i`` the touch the fill would cross (the ask for a
buy, the bid for a sell)::

    delay_i   = s (m_i - M0)                the market moved between decision and fill
    spread_i  = s (t_i - m_i)               taker fill: half the spread paid
              = s (p_i - m_i)               maker fill: the half spread earned (negative)
    impact_i  = s (p_i - t_i)               taker fill: the walk beyond the touch (slippage)
              = 0                           maker fill
    fees      = sum of the fills' fees (negative = rebate)

A fill without a known bid/ask (bar data) has no touch: its spread part is 0 and the whole
``s (p_i - m_i)`` is impact/slippage.  Each component is summed over the fills weighted by
``q_i`` and expressed in **bps of the arrival notional** ``Q M0`` (``Q`` = filled quantity);
fees in bps of the instrument's notional of ``Q`` at ``M0``.  Because ``delay_i + spread_i +
impact_i = s (p_i - M0)`` exactly, the components add up::

    implementation shortfall (IS) = s (VWAP - M0) / M0 * 1e4 + fees_bps
                                  = delay_bps + spread_bps + impact_bps + fees_bps

(positive = a cost).  Hand-checkable example: a buy decided at bid 100 / ask 100.2 (``M0`` =
100.1) filled 2 units at 100.3 when the quote was 100.1 / 100.3, fee 0.0802 (4 bp):
``delay = (100.2 - 100.1) / 100.1 = 9.99 bps``, ``spread = 0.1 / 100.1 = 9.99 bps``,
``impact = 0``, ``fees = 0.0802 / 200.2 = 4.006 bps``, ``IS = 23.98 bps``.

The run's report gets a ``tca`` section (:meth:`TransactionCosts.report`): per executor the
parents (with and without fills), fills and maker share, filled notional, the notional-weighted
mean of each component, the median and 90th percentile of the parents' IS, the total cost in
the quote currency, plus the last parents one by one.  The executor of a parent is the
deciding stage without its ``executor:`` prefix (``plain``, ``maker_chase``, ``twap``, ...;
``exit`` for exits).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

from .models import Fill, Order, OrderDecision

if TYPE_CHECKING:
    from .context import RunContext

__all__ = ["COMPONENTS", "ParentCost", "TransactionCosts", "percentile"]

#: The IS components, in the order they are shown.
COMPONENTS: Final = ("delay_bps", "spread_bps", "impact_bps", "fees_bps")
#: Parents listed one by one in the report (the most recent ones).
RECENT_PARENTS: Final = 100


class ParentCost:
    """Execution record of one parent order (one decision); sums in price units x qty."""

    __slots__ = ("arrival_mid", "decision_id", "delay", "executor", "fees", "filled", "fills",
                 "first_fill_ts", "impact", "last_fill_ts", "maker_fills", "ordered", "side",
                 "sign", "spread", "symbol", "ts", "unit", "value")

    def __init__(self, decision_id: int, symbol: str, side: str, ts: int, arrival_mid: float,
                 executor: str, unit: float) -> None:
        self.decision_id = decision_id
        self.symbol = symbol
        self.side = side
        self.sign = 1.0 if side == "buy" else -1.0
        self.ts = ts
        self.arrival_mid = arrival_mid
        self.executor = executor
        #: the instrument's notional of one unit at the arrival mid (fees are in bps of it)
        self.unit = unit
        self.ordered = 0.0
        self.filled = 0.0
        self.value = 0.0  # sum q_i p_i
        self.fees = 0.0
        self.delay = 0.0  # sum q_i s (m_i - M0)
        self.spread = 0.0
        self.impact = 0.0
        self.fills = 0
        self.maker_fills = 0
        self.first_fill_ts = 0
        self.last_fill_ts = 0

    @property
    def vwap(self) -> float:
        """Average fill price (0 before the first fill)."""
        return self.value / self.filled if self.filled > 0.0 else 0.0

    def components(self) -> dict[str, float]:
        """``delay_bps``, ``spread_bps``, ``impact_bps``, ``fees_bps`` and ``is_bps``."""
        base = self.filled * self.arrival_mid
        if base <= 0.0:
            return {k: 0.0 for k in (*COMPONENTS, "is_bps")}
        scale = 1e4 / base
        arrival_notional = self.filled * self.unit
        fees = self.fees / arrival_notional * 1e4 if arrival_notional > 0.0 else 0.0
        out = {"delay_bps": self.delay * scale, "spread_bps": self.spread * scale,
               "impact_bps": self.impact * scale, "fees_bps": fees}
        out["is_bps"] = self.sign * (self.vwap - self.arrival_mid) / self.arrival_mid * 1e4 \
            + fees
        return out

    def as_dict(self) -> dict[str, Any]:
        """One row of the report's ``parents`` list."""
        row: dict[str, Any] = {
            "decision_id": self.decision_id, "executor": self.executor, "symbol": self.symbol,
            "side": self.side, "ts": self.ts, "arrival_mid": self.arrival_mid,
            "ordered_qty": self.ordered, "filled_qty": self.filled,
            "avg_fill_price": self.vwap or None, "fills": self.fills,
            "maker_fills": self.maker_fills,
            "delay_ms": (self.first_fill_ts - self.ts) if self.fills else None,
        }
        if self.fills:
            row.update({k: round(v, 6) for k, v in self.components().items()})
        return row


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values`` by linear interpolation (None when empty)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class TransactionCosts:
    """The TCA of one run (see the module docstring); fed by the order router."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.parents: dict[int, ParentCost] = {}
        self.recent: deque[ParentCost] = deque(maxlen=RECENT_PARENTS)
        #: fills of orders without a decision (protective stops and targets)
        self.unattributed_fills = 0

    # ------------------------------------------------------------------ inputs

    def on_submit(self, order: Order, decision: OrderDecision, executor: str) -> None:
        """An order was created for ``decision``: the first one opens the parent at the
        current mid (the arrival mid)."""
        did = order.decision_id
        if not did or did in self.parents:
            return
        ctx = self.ctx
        st = ctx.market[order.symbol]
        mid = st.mid
        if mid <= 0.0:
            mid = decision.price
        unit = ctx.instruments.get(order.symbol).notional(1.0, mid)
        p = ParentCost(did, order.symbol, order.side, ctx.now, mid, executor or "?", unit)
        p.ordered = decision.qty + decision.close_qty
        self.parents[did] = p
        self.recent.append(p)

    def on_decision(self, d: OrderDecision) -> None:
        """The deciding stage names the parent's executor (``exit`` for exits)."""
        p = self.parents.get(d.decision_id)
        if p is None:
            return
        stage = d.stage
        p.executor = stage[9:] if stage.startswith("executor:") else stage
        p.ordered = d.qty + d.close_qty

    def on_fill(self, fill: Fill, order: Order) -> None:
        """One execution: add its delay, spread, impact and fee to its parent."""
        p = self.parents.get(order.decision_id) if order.decision_id else None
        if p is None:
            self.unattributed_fills += 1
            return
        st = self.ctx.market[fill.symbol]
        q = fill.qty
        px = fill.price
        s = p.sign
        bid, ask = st.bid, st.ask
        if bid > 0.0 and ask > 0.0:
            mid = (bid + ask) * 0.5
            if fill.is_maker:
                p.spread += q * s * (px - mid)
            else:
                touch = ask if s > 0.0 else bid
                p.spread += q * s * (touch - mid)
                p.impact += q * s * (px - touch)
        else:
            mid = st.last or px
            p.impact += q * s * (px - mid)
        p.delay += q * s * (mid - p.arrival_mid)
        p.filled += q
        p.value += q * px
        p.fees += fill.fee
        p.fills += 1
        if fill.is_maker:
            p.maker_fills += 1
        if not p.first_fill_ts:
            p.first_fill_ts = fill.ts
        p.last_fill_ts = fill.ts

    # ------------------------------------------------------------------ output

    def by_executor(self) -> dict[str, dict[str, Any]]:
        """Per executor: counts, filled notional, weighted mean components, IS percentiles."""
        groups: dict[str, list[ParentCost]] = {}
        for p in self.parents.values():
            groups.setdefault(p.executor, []).append(p)
        keys = (*COMPONENTS, "is_bps")
        out: dict[str, dict[str, Any]] = {}
        for name in sorted(groups):
            ps = groups[name]
            filled = [p for p in ps if p.filled > 0.0]
            weight = 0.0
            sums = dict.fromkeys(keys, 0.0)
            iss: list[float] = []
            costs: list[float] = []
            for p in filled:  # each parent's components once (they are summed in this order)
                w = p.filled * p.unit
                comps = p.components()
                weight += w
                for k in keys:
                    sums[k] += comps[k] * w
                is_bps = comps["is_bps"]
                iss.append(is_bps)
                costs.append(is_bps * p.filled * p.unit / 1e4)
            fills = sum(p.fills for p in ps)
            ordered = sum(p.ordered for p in ps)
            row: dict[str, Any] = {
                "parents": len(ps), "filled_parents": len(filled),
                "unfilled_parents": len(ps) - len(filled),
                "fills": fills,
                "maker_fill_share": round(sum(p.maker_fills for p in ps) / max(1, fills), 6),
                "filled_notional": round(sum(p.filled * p.unit for p in filled), 6),
                "fill_ratio": (round(sum(p.filled for p in ps) / ordered, 6)
                               if ordered > 0.0 else None),
            }
            for k, v in sums.items():
                row[k] = round(v / weight, 6) if weight > 0.0 else None
            med, p90 = percentile(iss, 0.5), percentile(iss, 0.9)
            row["median_is_bps"] = None if med is None else round(med, 6)
            row["p90_is_bps"] = None if p90 is None else round(p90, 6)
            row["cost_quote"] = round(sum(costs), 8)
            out[name] = row
        return out

    def report(self) -> dict[str, Any]:
        """The report's ``tca`` section."""
        return {
            "by_executor": self.by_executor(),
            "parents": [p.as_dict() for p in self.recent],
            "unattributed_fills": self.unattributed_fills,
            "definitions": {
                "arrival_mid": "mid (best bid/ask, else last price) when the decision's "
                               "first order was submitted",
                "is_bps": "implementation shortfall: side x (avg fill - arrival mid) / "
                          "arrival mid + fees, bps (positive = cost) = delay + spread + "
                          "impact + fees",
                "delay_bps": "mid at the fills vs the arrival mid",
                "spread_bps": "touch vs mid at a taker fill; fill vs mid at a maker fill "
                              "(negative: spread earned)",
                "impact_bps": "taker fill beyond the touch (book walk, slippage); without "
                              "a quote the whole fill vs mid",
                "fees_bps": "fees / notional of the filled quantity at the arrival mid",
            },
        }
