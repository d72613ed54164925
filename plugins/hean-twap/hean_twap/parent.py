"""State and report row of one TWAP parent order (one pipeline decision cut into slices).

Per parent, with ``s = +1`` for a buy and ``-1`` for a sell, ``M0`` the **arrival price** (the
symbol's mid -- best bid/ask, else the last price -- when the decision was executed, the same
arrival mid as the transaction-cost report's), ``Q_f`` the filled quantity and ``VWAP`` the
average price of the slices' fills:

* ``vwap`` -- ``sum(q_i p_i) / Q_f`` over every fill of every slice;
* ``is_bps`` -- implementation shortfall vs the arrival price, ``s (VWAP - M0) / M0 x 1e4``
  (positive = a cost); ``fees_bps`` the slices' fees in bps of ``Q_f`` at ``M0``;
  ``is_total_bps = is_bps + fees_bps`` (what ``tca.parents[].is_bps`` shows for the parent);
* ``participation`` -- ``Q_f`` / the market volume traded over the parent's life (from its
  first slice until it completed or was aborted): the public trades' summed size when the
  data has trades (``volume_source: trades``), else the summed volume of the candles that
  closed in that time (``bars``); None when neither is known.  In a backtest the public
  trades do not contain the run's own orders.
* slices ``planned`` (after any minimum merge), ``sent``, ``filled`` (completely), ``rejected``,
  ``aborted`` (planned but never sent because the parent was aborted) and ``unsent`` (the data
  ended first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .schedule import Merge

if TYPE_CHECKING:
    from hean_framework.market import SymbolState
    from hean_framework.models import OrderDecision, Signal

__all__ = ["TwapParent"]

#: parent states
RUNNING, COMPLETE, ABORTED, ACCELERATED, REJECTED, INCOMPLETE = (
    "running", "complete", "aborted", "accelerated", "rejected", "incomplete")


class TwapParent:
    """One parent being worked (see the module docstring)."""

    __slots__ = ("abort", "arrival", "bar_marker", "bar_volume", "carry", "decision", "end_ts",
                 "fees", "filled", "filled_slices", "final_volume", "merge", "merges_at_send",
                 "next_index", "offsets", "open_orders", "orders", "planned_slices", "pos0",
                 "qtys",
                 "rejected_slices", "sent", "sign", "signal", "start", "status", "timer",
                 "unit", "value", "volume0")

    def __init__(self, signal: Signal, decision: OrderDecision, start: int, arrival: float,
                 unit: float, qtys: list[float], offsets: list[int], planned_slices: int,
                 merge: Merge | None, st: SymbolState) -> None:
        self.signal = signal
        self.decision = decision
        self.sign = 1.0 if signal.side == "buy" else -1.0
        self.start = start
        self.arrival = arrival
        #: notional of one unit at the arrival price (fees are in bps of it)
        self.unit = unit
        self.qtys = qtys
        self.offsets = offsets
        self.planned_slices = planned_slices
        self.merge = merge
        self.merges_at_send: list[dict[str, Any]] = []
        self.next_index = 0
        self.carry = 0.0  # quantity of a slice merged into the next one when it was sent
        self.sent = 0
        self.filled_slices = 0
        self.rejected_slices = 0
        self.orders: dict[int, int] = {}  # order id -> slice index
        self.open_orders: set[int] = set()
        self.filled = 0.0
        self.value = 0.0
        self.fees = 0.0
        self.status = RUNNING
        self.abort: dict[str, Any] | None = None
        self.end_ts = 0
        self.timer = 0
        self.volume0 = st.trade_volume
        self.bar_marker: tuple[float, float, float] | None = st.bars[-1] if st.bars else None
        self.bar_volume = 0.0
        #: the market volume when the parent ended (None while it runs)
        self.final_volume: tuple[float | None, str] | None = None
        #: the strategy's signed position in the symbol when the parent started
        self.pos0 = 0.0

    @property
    def decision_id(self) -> int:
        """The parent's decision id (every slice's order carries it)."""
        return self.decision.decision_id

    @property
    def total(self) -> float:
        """The parent's quantity."""
        return self.decision.qty + self.decision.close_qty

    @property
    def vwap(self) -> float:
        """Average fill price of the slices (0 before the first fill)."""
        return self.value / self.filled if self.filled > 0.0 else 0.0

    def track_bars(self, st: SymbolState) -> None:
        """Add the volume of the candles closed since the last call (the kernel keeps the
        last 64; a gap longer than that undercounts)."""
        bars = st.bars
        if not bars:
            return
        marker = self.bar_marker
        add = 0.0
        for b in reversed(bars):
            if b is marker:
                break
            add += b[2]
        self.bar_volume += add
        self.bar_marker = bars[-1]

    def market_volume(self, st: SymbolState) -> tuple[float | None, str]:
        """Market volume over the parent's life (so far, while it runs), and its source."""
        if self.final_volume is not None:
            return self.final_volume
        trades = st.trade_volume - self.volume0
        if trades > 0.0:
            return trades, "trades"
        self.track_bars(st)
        if self.bar_volume > 0.0:
            return self.bar_volume, "bars"
        return None, "none"

    def freeze(self, st: SymbolState) -> None:
        """The parent ended: keep its market volume as it is now."""
        self.final_volume = self.market_volume(st)

    def numbers(self, st: SymbolState) -> dict[str, Any]:
        """VWAP, shortfall, fees and participation (module docstring)."""
        out: dict[str, Any] = {"filled_qty": round(self.filled, 12), "vwap": None,
                               "is_bps": None, "fees_bps": None, "is_total_bps": None}
        if self.filled > 0.0 and self.arrival > 0.0:
            is_bps = self.sign * (self.vwap - self.arrival) / self.arrival * 1e4
            base = self.filled * self.unit
            fees = self.fees / base * 1e4 if base > 0.0 else 0.0
            out.update(vwap=round(self.vwap, 10), is_bps=round(is_bps, 6),
                       fees_bps=round(fees, 6), is_total_bps=round(is_bps + fees, 6))
        vol, src = self.market_volume(st)
        out["market_volume"] = None if vol is None else round(vol, 10)
        out["volume_source"] = src
        out["participation"] = (round(self.filled / vol, 12) if vol else None)
        return out

    def as_dict(self, st: SymbolState) -> dict[str, Any]:
        """One row of the report section's ``parents``."""
        sig = self.signal
        n = len(self.qtys)
        left = n - self.sent - len(self.merges_at_send)
        row: dict[str, Any] = {
            "decision_id": self.decision_id, "strategy_id": sig.strategy_id,
            "symbol": sig.symbol, "side": sig.side, "reduce_only": sig.reduce_only,
            "ts": self.start, "end_ts": self.end_ts or None,
            "duration_ms": (self.end_ts - self.start) if self.end_ts else None,
            "status": self.status, "arrival_price": self.arrival,
            "qty": self.total, "slices_configured": self.planned_slices,
            "slices_planned": n, "slices_sent": self.sent,
            "slices_filled": self.filled_slices, "slices_rejected": self.rejected_slices,
            "slices_merged_at_send": len(self.merges_at_send),
            "slices_aborted": left if self.status in (ABORTED, ACCELERATED) else 0,
            "slices_unsent": left if self.status == INCOMPLETE else 0,
            "merge": self.merge.as_dict() if self.merge is not None else None,
            "merges_at_send": list(self.merges_at_send),
            "abort": self.abort,
        }
        row.update(self.numbers(st))
        return row
