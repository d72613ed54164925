"""Positions, cash, fees, funding and PnL: the account and one book per strategy.

Two views are kept from the same fills:

* the **account**: the net quantity per symbol (what the exchange sees), cash and equity;
* the **strategy books**: one :class:`~hean_framework.models.Position` per (strategy, symbol),
  average-cost method.  Reductions realize PnL; a fill that crosses zero closes the round trip
  and opens a new one with the remainder.  Every flat-to-flat round trip becomes a
  :class:`~hean_framework.models.ClosedTrade`.

Spot and linear perpetuals of the same base share this one cash account (a basis trade's
two legs are two symbols, ``BTC/USDT`` and ``BTC/USDT:USDT``, each booked on its own).  Spot
holdings are what the account bought; whether a spot sell beyond them is allowed (a borrowed
short, margin mode) is the venue's rule (:mod:`hean_framework.execution.sim_venue`); a spot
short's **borrow cost** is charged through :meth:`Portfolio.charge_borrow`.  **Funding**
settles on perpetuals only: a funding event of a spot symbol pays nothing.

Cash (quote currency, linear and spot alike; notional = qty × contract_size × price)::

    cash = initial − Σ buy notional + Σ sell notional − Σ fees + Σ funding − Σ borrow

and the accounting identity, tested to 1e-9 relative::

    equity = cash + Σ qty × contract_size × price
           = initial + realized − fees + funding − borrow + unrealized

Work is done per fill only (fills are rare compared to market events); equity and unrealized
PnL are computed on demand from ``market[symbol].price`` (falling back to the last fill price).
Inverse (coin-margined) contracts are refused with a clear error.

The portfolio only books: margin and liquidation are the venue's
(:mod:`hean_framework.execution.margin`).  A venue that watches the account for liquidation
registers in :attr:`Portfolio.funding_listeners` to hear of funding payments, the only change
of cash that does not come through one of its own fills.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import HeanError
from .models import ClosedTrade, Fill, Funding, Position

if TYPE_CHECKING:
    from .instruments import Instruments
    from .market import MarketState

__all__ = ["Portfolio"]

#: A position whose |qty| falls below this fraction of the fill size is treated as flat
#: (kills float dust such as 1e-17 left by 0.1 + 0.2 − 0.3).
_DUST = 1e-9


@dataclass(slots=True)
class _RoundTrip:
    """Running totals of the current round trip of one strategy in one symbol."""

    entry_qty: float = 0.0
    entry_notional: float = 0.0
    exit_qty: float = 0.0
    exit_notional: float = 0.0


@dataclass(slots=True)
class _StrategyStats:
    """Per-strategy totals that survive the round trips."""

    realized: float = 0.0
    fees: float = 0.0
    funding: float = 0.0
    borrow: float = 0.0
    trades: int = 0
    wins: int = 0
    fills: int = 0
    turnover: float = 0.0


class Portfolio:
    """Account cash/positions plus per-strategy average-cost books.

    :param initial_cash: starting cash in the quote currency (USDT).
    :param instruments: exchange metadata (contract sizes).
    :param market: the run's market state (prices for equity and unrealized PnL).
    """

    def __init__(self, initial_cash: float, instruments: Instruments,
                 market: MarketState) -> None:
        self.initial_cash = float(initial_cash)
        self.instruments = instruments
        self.market = market
        self.cash = float(initial_cash)
        #: realized PnL (before fees and funding), all strategies
        self.realized = 0.0
        #: fees paid (negative = rebates received)
        self.fees = 0.0
        #: funding received (negative = paid)
        self.funding = 0.0
        #: borrow cost paid on spot shorts (margin mode)
        self.borrow = 0.0
        #: the last funding settlement per position: ``(strategy, symbol, qty, price, rate,
        #: amount)`` tuples (the engine journals them; the group ledger shares them)
        self.last_funding: list[tuple[str, str, float, float, float, float]] = []
        #: borrow cost paid per (strategy, symbol) since the run started
        self.borrow_of: dict[tuple[str, str], float] = {}
        #: Σ |fill notional|
        self.turnover = 0.0
        self.closed_trades: list[ClosedTrade] = []
        #: ``(ts, equity, gross_exposure)`` samples appended by :meth:`sample`
        self.equity_curve: list[tuple[int, float, float]] = []
        self.fill_count = 0
        self._net: dict[str, float] = {}
        self._last_fill_price: dict[str, float] = {}
        self._cs: dict[str, float] = {}
        self._pos: dict[tuple[str, str], Position] = {}
        self._trip: dict[tuple[str, str], _RoundTrip] = {}
        self._by_symbol: dict[str, list[Position]] = {}
        self._stats: dict[str, _StrategyStats] = {}
        #: called (no arguments) after every funding settlement that moved cash
        self.funding_listeners: list[Callable[[], None]] = []
        #: called ``(strategy, symbol, amount)`` after every borrow charge
        self.borrow_listeners: list[Callable[[str, str, float], None]] = []

    # ------------------------------------------------------------------ helpers

    def _contract_size(self, symbol: str) -> float:
        """Contract size of ``symbol`` (cached); refuses inverse instruments."""
        cs = self._cs.get(symbol)
        if cs is None:
            inst = self.instruments.get(symbol)
            if inst.inverse:
                raise HeanError(
                    f"{symbol}: inverse (coin-margined) contracts are not supported by the "
                    "portfolio yet",
                    "trade the linear (USDT-settled) perpetual, e.g. 'BTC/USDT:USDT', or spot")
            cs = inst.contract_size
            self._cs[symbol] = cs
        return cs

    def price(self, symbol: str) -> float:
        """Current price of ``symbol``: market price (last, else mid), else last fill price."""
        st = self.market.get(symbol)
        p = st.price if st is not None else 0.0
        return p if p > 0.0 else self._last_fill_price.get(symbol, 0.0)

    def _stat(self, strategy: str) -> _StrategyStats:
        s = self._stats.get(strategy)
        if s is None:
            s = self._stats[strategy] = _StrategyStats()
        return s

    # ------------------------------------------------------------------ fills

    def apply_fill(self, fill: Fill, reason: str = "") -> ClosedTrade | None:
        """Book one execution.

        :param fill: the execution (``fee`` in quote currency, negative = rebate).
        :param reason: stored on the :class:`ClosedTrade` if this fill closes a round trip
            (e.g. ``take_profit``); a flip without a reason is recorded as ``flip``.
        :returns: the closed round trip when the strategy's position in the symbol returns to
            flat or flips, else None.
        """
        symbol = fill.symbol
        cs = self._cs.get(symbol)
        if cs is None:
            cs = self._contract_size(symbol)
        qty = fill.qty
        price = fill.price
        fee = fill.fee
        if qty <= 0.0:
            raise HeanError(f"fill {fill.fill_id}: quantity must be positive, got {qty}")
        buy = fill.side == "buy"
        signed = qty if buy else -qty
        notional = qty * cs * price

        # ---- account
        self.cash += -notional if buy else notional
        self.cash -= fee
        self.fees += fee
        self.turnover += notional
        self.fill_count += 1
        nets = self._net
        net = nets.get(symbol, 0.0) + signed
        dust = _DUST * qty
        if abs(net) <= dust:
            net = 0.0
        nets[symbol] = net
        self._last_fill_price[symbol] = price

        # ---- strategy book
        sid = fill.strategy_id
        st = self._stats.get(sid)
        if st is None:
            st = self._stat(sid)
        st.fees += fee
        st.fills += 1
        st.turnover += notional
        key = (sid, symbol)
        pos = self._pos.get(key)
        if pos is None or pos.qty == 0.0:
            self._open(key, fill, signed, fee, cs)
            return None
        trip = self._trip[key]
        pos.last_price = price
        old = pos.qty
        if (old > 0.0) == buy:  # add to the position
            new = old + signed
            pos.avg_price = (old * pos.avg_price + signed * price) / new
            pos.qty = new
            pos.fees += fee
            trip.entry_qty += qty
            trip.entry_notional += notional
            return None

        # reduce, close or flip
        closing = min(qty, abs(old))
        close_fee = fee * (closing / qty)
        pnl = (price - pos.avg_price) * closing * cs
        if old < 0.0:
            pnl = -pnl
        pos.realized_pnl += pnl
        pos.fees += close_fee
        self.realized += pnl
        st.realized += pnl
        trip.exit_qty += closing
        trip.exit_notional += closing * cs * price
        remainder = qty - closing
        left = old + signed if remainder <= dust else 0.0
        if abs(left) > dust:  # partial reduction
            pos.qty = left
            return None

        # flat (and maybe flipped): close the round trip
        flipped = remainder > dust
        trade = ClosedTrade(
            sid, symbol, "long" if old > 0.0 else "short", trip.exit_qty,
            trip.entry_notional / (trip.entry_qty * cs), trip.exit_notional / (trip.exit_qty * cs),
            pos.opened_ts, fill.ts, pos.realized_pnl, pos.fees, pos.funding,
            reason or ("flip" if flipped else ""), pos.signal_id)
        self.closed_trades.append(trade)
        st.trades += 1
        if trade.net_pnl > 0.0:
            st.wins += 1
        pos.qty = 0.0
        self._by_symbol[symbol].remove(pos)
        del self._pos[key]
        del self._trip[key]
        if flipped:
            self._open(key, fill, remainder if buy else -remainder, fee - close_fee, cs)
        return trade

    def _open(self, key: tuple[str, str], fill: Fill, signed: float, fee: float,
              cs: float) -> Position:
        """Start a new round trip with ``signed`` quantity at the fill price."""
        price = fill.price
        pos = Position(fill.strategy_id, fill.symbol, signed, price, 0.0, fee, 0.0, fill.ts,
                       price, None, None, None, fill.signal_id)
        a = abs(signed)
        self._pos[key] = pos
        self._trip[key] = _RoundTrip(a, a * cs * price)
        by_symbol = self._by_symbol.get(fill.symbol)
        if by_symbol is None:
            self._by_symbol[fill.symbol] = [pos]
        else:
            by_symbol.append(pos)
        return pos

    # ------------------------------------------------------------------ funding

    def apply_funding(self, ev: Funding) -> float:
        """Settle one funding event for every strategy position in ``ev.symbol``.

        payment = −qty × contract_size × price × rate with price = ``ev.mark_price`` when
        positive, else the market price (Binance's convention: a positive rate means longs pay
        shorts).  Only positions held when the event is dispatched are paid: the feeds order
        funding before the bars and trades of the same millisecond, so a position opened at the
        settlement's timestamp or later receives nothing.  Spot symbols never settle funding.
        :attr:`last_funding` lists each position's payment.

        :returns: the total received (negative = paid).
        """
        self.last_funding = detail = []
        positions = self._by_symbol.get(ev.symbol)
        if not positions:
            return 0.0
        if self.instruments.get(ev.symbol).type == "spot":
            return 0.0
        cs = self._contract_size(ev.symbol)
        price = ev.mark_price if ev.mark_price > 0.0 else self.price(ev.symbol)
        total = 0.0
        for pos in positions:
            pay = -pos.qty * cs * price * ev.rate
            pos.funding += pay
            self._stat(pos.strategy_id).funding += pay
            total += pay
            detail.append((pos.strategy_id, ev.symbol, pos.qty, price, ev.rate, pay))
        self.cash += total
        self.funding += total
        if total:
            for listener in self.funding_listeners:
                listener()
        return total

    def charge_borrow(self, strategy: str, symbol: str, amount: float) -> None:
        """Charge ``amount`` (quote currency, > 0 = paid) of borrow cost on ``strategy``'s
        short ``symbol`` position (a spot short in margin mode; the venue computes it)."""
        self.cash -= amount
        self.borrow += amount
        self._stat(strategy).borrow += amount
        key = (strategy, symbol)
        self.borrow_of[key] = self.borrow_of.get(key, 0.0) + amount
        for listener in self.borrow_listeners:
            listener(strategy, symbol, amount)

    def funding_detail(self) -> list[dict[str, Any]]:
        """:attr:`last_funding` as JSON-ready dicts (for the journal's ``funding`` event)."""
        return [{"strategy": s, "symbol": sym, "qty": q, "price": px, "rate": r, "amount": a}
                for s, sym, q, px, r, a in self.last_funding]

    # ------------------------------------------------------------------ queries

    def net_qty(self, symbol: str) -> float:
        """Account net quantity of ``symbol`` (all strategies; > 0 long)."""
        return self._net.get(symbol, 0.0)

    def account_positions(self) -> list[tuple[str, float]]:
        """``(symbol, net quantity)`` of every symbol the account is not flat in."""
        return [(s, q) for s, q in self._net.items() if q]

    def position(self, strategy: str, symbol: str) -> Position:
        """The strategy's current position in ``symbol`` (a new flat one when none).

        The returned object is live while the position is open; the engine may set its
        ``stop_loss``/``take_profit``/``max_hold_ms``.
        """
        pos = self._pos.get((strategy, symbol))
        return pos if pos is not None else Position(strategy, symbol)

    def position_qty(self, strategy: str, symbol: str) -> float:
        """The strategy's signed quantity in ``symbol`` (0.0 when flat)."""
        pos = self._pos.get((strategy, symbol))
        return pos.qty if pos is not None else 0.0

    def positions(self) -> list[Position]:
        """Every open (non-flat) strategy position."""
        return list(self._pos.values())

    def position_value(self) -> float:
        """Σ account qty × contract_size × price (signed)."""
        total = 0.0
        for symbol, q in self._net.items():
            if q:
                total += q * self._cs[symbol] * self.price(symbol)
        return total

    def equity(self) -> float:
        """Cash plus the signed value of every account position."""
        return self.cash + self.position_value()

    def unrealized(self) -> float:
        """Σ over strategy positions of qty × contract_size × (price − avg_price)."""
        return sum((self.unrealized_of(pos) for pos in self._pos.values()), 0.0)

    def unrealized_of(self, pos: Position) -> float:
        """Unrealized PnL of one position at the current price."""
        if not pos.qty:
            return 0.0
        return pos.qty * self._cs[pos.symbol] * (self.price(pos.symbol) - pos.avg_price)

    def gross_exposure(self) -> float:
        """Σ |account qty| × contract_size × price."""
        total = 0.0
        for symbol, q in self._net.items():
            if q:
                total += abs(q) * self._cs[symbol] * self.price(symbol)
        return total

    def equity_and_exposure(self) -> tuple[float, float]:
        """``(equity(), gross_exposure())`` in one pass over the account positions."""
        value = gross = 0.0
        for symbol, q in self._net.items():
            if q:
                v = q * self._cs[symbol] * self.price(symbol)
                value += v
                gross += abs(v)
        return self.cash + value, gross

    def net_pnl(self) -> float:
        """equity − initial cash = realized − fees + funding − borrow + unrealized."""
        return self.equity() - self.initial_cash

    def sample(self, ts: int) -> None:
        """Append ``(ts, equity, gross_exposure)`` to :attr:`equity_curve` (the numbers of
        :meth:`equity_and_exposure`, computed in line: this runs after every fill)."""
        value = gross = 0.0
        market = self.market
        for symbol, q in self._net.items():
            if q:
                st = market.get(symbol)
                p = st.price if st is not None else 0.0
                if not p > 0.0:
                    p = self._last_fill_price.get(symbol, 0.0)
                v = q * self._cs[symbol] * p
                value += v
                gross += abs(v)
        self.equity_curve.append((ts, self.cash + value, gross))

    def strategy_summary(self) -> dict[str, dict[str, Any]]:
        """Per strategy: realized, unrealized, fees, funding, net_pnl, trades, wins, fills,
        turnover (quote currency)."""
        unreal: dict[str, float] = {}
        open_funding: dict[str, float] = {}
        for (strategy, _), pos in self._pos.items():
            unreal[strategy] = unreal.get(strategy, 0.0) + self.unrealized_of(pos)
            open_funding[strategy] = open_funding.get(strategy, 0.0) + pos.funding
        out: dict[str, dict[str, Any]] = {}
        for strategy, s in sorted(self._stats.items()):
            u = unreal.get(strategy, 0.0)
            out[strategy] = {
                "realized": s.realized, "unrealized": u, "fees": s.fees, "funding": s.funding,
                "net_pnl": s.realized + u - s.fees + s.funding - s.borrow,
                "borrow": s.borrow, "trades": s.trades,
                "wins": s.wins, "fills": s.fills, "turnover": s.turnover,
            }
        return out

    def summary(self) -> dict[str, float]:
        """Account totals for reports."""
        eq = self.equity()
        return {
            "initial_cash": self.initial_cash, "cash": self.cash, "equity": eq,
            "realized": self.realized, "unrealized": self.unrealized(), "fees": self.fees,
            "funding": self.funding, "borrow": self.borrow, "net_pnl": eq - self.initial_cash,
            "turnover": self.turnover, "gross_exposure": self.gross_exposure(),
            "trades": float(len(self.closed_trades)), "fills": float(self.fill_count),
        }

    def __repr__(self) -> str:
        return (f"Portfolio(cash={self.cash:.2f}, equity={self.equity():.2f}, "
                f"positions={len(self._pos)}, trades={len(self.closed_trades)})")
