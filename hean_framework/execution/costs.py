"""Cost engine and the execution edge estimator (also described in ``docs/small_capital.md``,
"Cost engine" and "Edge estimator").

All numbers are basis points of the entry price and describe a **round trip** (entry + exit),
because the edge a strategy promises is also a round-trip number (entry -> target).

Two formulas, selected by :attr:`CostConfig.formula`:

``original`` (the cost engine of an older snapshot of the original HEAN) -- reproduces the
seed's worked example::

    fee          = 1 (maker) or 6 (taker)  bps per side, fixed
    half_spread  = max(1, spread_bps / 2)  (5 without a quote)
    slippage     = base + liquidity_pen + vol_pen, capped at max_slippage_estimate_bps (20)
                   base = 2 x 0.5 (maker) or 2 x 1.5 (taker)
                   liquidity_pen = 0.5 * (spread_bps - 15) when spread_bps > 15
                   vol_pen = min(10, 50 * volatility_proxy)
    total        = 2 * fee + half_spread + slippage

    spread 4 bps, volatility 1 %, maker -> 2*1 + 2 + (1.0 + 0.5) = 5.5 bps; x4 -> 22 bps.

``proposed`` (default, this framework's model) differs in five ways:

* fees are the instrument's real maker/taker rates (negative = rebate) unless
  ``maker_fee_bps`` / ``taker_fee_bps`` override them;
* a taker round trip pays the **full** spread (cross in, cross out); a maker entry half of it;
* with an L2 book the liquidity penalty is replaced by the walk of the order's size through
  the levels (entry side + exit side; 20 bps when the depth is insufficient);
* the slippage estimate is blended ``book_weight * model + (1 - book_weight) * realized
  history`` (0.7 / 0.3, the weights of the original's unused slippage estimator) once the
  fill-quality tracker has ``min_history_fills`` (5) realized fills for that symbol and side;
* perpetuals add funding for the side that **pays** it: ``|funding_rate| * 1e4 * funding
  periods crossed`` over the expected holding time (``signal.max_hold_ms`` or
  ``default_hold_ms``) for a buy when the rate is positive or a sell when it is negative; the
  side that receives funding is charged nothing (expected income is never counted as a
  negative cost: the rate can turn before the settlement).

Spread (:meth:`CostEngine.spread`, :func:`estimate_spread`), first that applies; the source is
``CostEstimate.spread_source`` and the trade gate's ``decision.details["spread_source"]``::

    quote                       the quoted bid/ask (unchanged wherever a quote exists)
    config                      cost.spread_bps[symbol] (a figure the user knows)
    corwin_schultz(N bars)      bar data: the Corwin-Schultz high/low estimate over the symbol's
                                last N = bar_spread_window (20) bars, floored at one price tick
    assumed                     nothing to go on (trades without quotes, or fewer than N bars):
                                no_quote_half_spread_bps per half (5, i.e. a 10 bps spread)

Corwin, S. A. and Schultz, P. (2012), "A Simple Way to Estimate Bid-Ask Spreads from Daily High
and Low Prices", Journal of Finance 67(2), 719-760 (:func:`corwin_schultz_bps`): for two
consecutive bars ``t, t+1``, with ``H``/``L`` their highs/lows and ``H2``/``L2`` the high/low
over both::

    beta  = ln(H_t / L_t)^2 + ln(H_t+1 / L_t+1)^2
    gamma = ln(H2 / L2)^2
    alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2))
    S     = 2 (e^alpha - 1) / (1 + e^alpha)

negative two-bar estimates are set to zero and the rest averaged (the paper's monthly
estimate).  The paper's overnight-return adjustment is left out: candles of a 24/7 market have
no closure between them (on the bundled BTC 5m bars it changes the mean by < 0.001 bps).  The
estimator assumes the high/low range of one bar is volatility plus the spread and that
volatility scales with time; on short bars of a very liquid market volatility dominates and
the estimate is far above the quoted spread (bundled BTC/ETH 5m bars: a 20-bar median of ~4.5 /
~6.3 bps, against a quoted BTC spread of ~0.02-0.03 bps, one tick, in the bundled BBO sample):
on bars the spread is an upper-side estimate, which errs on the safe side for a cost gate.
``spread_bps`` in the config replaces it with a known figure.

Volume (``proposed``, bar data, when the bars have volume and the order's quantity is known):
the spread-based liquidity penalty (a wide *quoted* spread as a sign of a thin book; a
high/low estimate mostly measures volatility, which ``vol_pen`` already charges) is replaced,
like the book walk replaces it, by the square-root market impact of the order over one bar
(Toth, Lemperiere, Deremble, de Lataillade, Kockelkoren and Bouchaud (2011), "Anomalous price
impact and the critical nature of liquidity in financial markets", Physical Review X 1,
021006)::

    volume_impact = 2 x volume_impact_y x sigma_bar x sqrt(qty / mean bar volume) x 1e4
                    (entry + exit; sigma_bar = std of the bar log returns over the window)

The engine is a plain class: no state besides its config and an optional history callback, so
gates, filters and executors can share one.

Edge estimator (:func:`estimate_edge`), the original HEAN's veto for signals that state no edge
of their own; all numbers in bps (``spread`` relative to the mid, ``move`` to the entry)::

    spread       = the spread above (quote, config, bar estimate; 10 bps when assumed)
    move         = favourable distance entry -> take_profit (0 without a target)
    fill_prob    = clamp(0.75 * (1 - c * min(spread / 16, 0.6)), 0.3, 0.95)
                   c = 0.4 (RANGE), 1.2 (IMPULSE), 0.8 (other regimes)
    vol_pen      = min(50 * mean |dp/p| over the last 20 prices, 0.5)   (0.1 with < 5 prices)
    edge         = (move * fill_prob - spread) * (1 - vol_pen) * f
                   f = 1.05 (IMPULSE), 0.95 (RANGE), 1.0 (other)
    threshold    = MIN_EDGE_BPS[regime] (IMPULSE 8, RANGE 3, NORMAL/other 5) * threshold_scale

The stop does not enter: the estimator prices the target's move, its fill and the spread, not a
win rate, which no bar tells.  A signal that knows its edge states ``edge_bps``.

The original multiplied the threshold by a fixed 0.5 that its code called a temporary debug
reduction; here the factor is the parameter ``edge_threshold_scale`` of the trade gate
(default 1.0).  Without a bid/ask the original returned a placeholder edge of -1000 bps, which
vetoed every signal on bar data; here the spread comes from the resolution above instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from ..components import ComponentConfig

if TYPE_CHECKING:
    from ..instruments import Instrument
    from ..market import SymbolState
    from ..models import Signal

__all__ = [
    "MIN_EDGE_BPS",
    "CostConfig",
    "CostEngine",
    "CostEstimate",
    "EdgeEstimate",
    "SpreadEstimate",
    "corwin_schultz_bps",
    "estimate_edge",
    "estimate_spread",
]

#: Minimum edge per regime of the edge estimator; threshold = this x ``edge_threshold_scale``.
MIN_EDGE_BPS: dict[str, float] = {"IMPULSE": 8.0, "RANGE": 3.0, "NORMAL": 5.0}
#: Regime -> fill-probability sensitivity ``c`` and edge factor of the edge estimator.
_FILL_C: dict[str, float] = {"RANGE": 0.4, "IMPULSE": 1.2}
_EDGE_FACTOR: dict[str, float] = {"IMPULSE": 1.05, "RANGE": 0.95}
#: Round-trip book impact assumed when the book is too thin for the order.
THIN_BOOK_SLIPPAGE_BPS = 20.0
#: ``3 - 2 sqrt(2)``, the denominator of Corwin and Schultz (2012), eq. (18).
_CS_K = 3.0 - 2.0 * math.sqrt(2.0)


class CostConfig(ComponentConfig):
    """Cost model settings (nested as ``cost:`` in the trade gate's YAML section)."""

    formula: Literal["proposed", "original"] = Field(
        "proposed", description="'original' = the older snapshot's formula (fixed 1/6 bps fees, "
        "half spread, no book/history/funding); 'proposed' = instrument fees, full taker "
        "spread, book walk, realized slippage and funding")
    maker_fee_bps: float | None = Field(
        None, description="maker fee per side in bps (negative = rebate); None = the "
        "instrument's rate (original formula: 1.0)")
    taker_fee_bps: float | None = Field(
        None, description="taker fee per side in bps; None = the instrument's rate "
        "(original formula: 6.0)")
    maker_base_slippage_bps: float = Field(0.5, ge=0, description="per side, maker")
    taker_base_slippage_bps: float = Field(1.5, ge=0, description="per side, taker")
    min_half_spread_bps: float = Field(1.0, ge=0, description="floor of the spread component "
                                       "(per half spread)")
    no_quote_half_spread_bps: float = Field(5.0, ge=0, description="half spread assumed "
                                            "when no spread is known (no quote, no "
                                            "spread_bps entry, too few bars to estimate)")
    spread_bps: dict[str, float] = Field(
        default_factory=dict, description="per symbol: the spread in bps to use when the "
        "symbol has no quote (bar data), instead of the estimate from the bars")
    bar_spread_estimator: Literal["corwin_schultz", "none"] = Field(
        "corwin_schultz", description="bar data without a quote: estimate the spread from the "
        "bars' highs and lows (Corwin-Schultz 2012); 'none' = no_quote_half_spread_bps")
    bar_spread_window: int = Field(20, ge=3, le=64, description="bars in the spread estimate "
                                   "(it is made once this many bars were seen)")
    volume_impact_y: float = Field(1.0, ge=0, description="Y of the square-root impact "
                                   "Y x sigma x sqrt(qty / bar volume) used as the liquidity "
                                   "part of the slippage on bars (0: off)")
    liquidity_spread_bps: float = Field(15.0, ge=0, description="spread above which the "
                                        "liquidity penalty applies")
    liquidity_penalty_factor: float = Field(0.5, ge=0)
    vol_penalty_factor: float = Field(50.0, ge=0, description="bps per unit of the "
                                      "volatility proxy (mean |dp/p|)")
    vol_penalty_cap_bps: float = Field(10.0, ge=0)
    volatility_window: int = Field(20, ge=2, description="price updates in the volatility "
                                   "proxy")
    max_slippage_estimate_bps: float = Field(20.0, gt=0)
    use_book: bool = Field(True, description="walk the L2 book when the symbol has one")
    book_weight: float = Field(0.7, ge=0, le=1, description="weight of the model estimate "
                               "when realized history exists (the rest is the history)")
    min_history_fills: int = Field(5, ge=1, description="realized fills needed before the "
                                   "history part of the blend is used")
    include_funding: bool = Field(True, description="add funding over the expected hold "
                                  "(perpetuals)")
    default_hold_ms: int = Field(3_600_000, ge=0, description="expected holding time when "
                                 "the signal has no max_hold_ms")
    funding_interval_ms: int = Field(28_800_000, gt=0, description="funding period (8 h)")


#: Defaults for the module-level helpers called without a config.
_DEFAULT = CostConfig()


@dataclass(slots=True)
class CostEstimate:
    """One round-trip cost estimate in bps; ``breakdown()`` goes on the decision."""

    maker_or_taker: str
    fee_bps: float
    fees_bps: float
    spread_bps: float
    slippage_bps: float
    funding_bps: float
    total_bps: float
    quoted_spread_bps: float | None = None
    volatility: float = 0.0
    book_slippage_bps: float | None = None
    history_slippage_bps: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    #: where the spread came from: quote, config, corwin_schultz(N bars) or assumed
    spread_source: str = "quote"
    volume_impact_bps: float | None = None

    def breakdown(self) -> dict[str, float]:
        """Components in bps (floats only), summing to ``total_cost_bps``."""
        out = {"fee_bps": round(self.fee_bps, 6), "fees_round_trip_bps": round(self.fees_bps, 6),
               "spread_bps": round(self.spread_bps, 6),
               "slippage_bps": round(self.slippage_bps, 6),
               "funding_bps": round(self.funding_bps, 6),
               "total_cost_bps": round(self.total_bps, 6)}
        if self.quoted_spread_bps is not None:
            key = "quoted_spread_bps" if self.spread_source == "quote" else \
                "estimated_spread_bps"
            out[key] = round(self.quoted_spread_bps, 6)
        out["volatility_proxy"] = round(self.volatility, 8)
        if self.book_slippage_bps is not None:
            out["book_slippage_bps"] = round(self.book_slippage_bps, 6)
        if self.history_slippage_bps is not None:
            out["history_slippage_bps"] = round(self.history_slippage_bps, 6)
        if self.volume_impact_bps is not None:
            out["volume_impact_bps"] = round(self.volume_impact_bps, 6)
        return out


@dataclass(slots=True)
class SpreadEstimate:
    """The spread the cost model and the edge estimator use, and where it came from.

    ``bps`` is None only when ``source == "assumed"`` (nothing known: the cost model uses
    ``no_quote_half_spread_bps``, the edge estimator twice that).
    """

    bps: float | None
    source: str


def corwin_schultz_bps(bars: Iterable[tuple[float, ...]]) -> float | None:
    """Corwin-Schultz (2012) spread estimate in bps from consecutive ``(high, low, ...)`` bars.

    Corwin, S. A. and Schultz, P. (2012), "A Simple Way to Estimate Bid-Ask Spreads from Daily
    High and Low Prices", Journal of Finance 67(2), 719-760, eqs. (14)-(18), applied to each
    pair of consecutive bars (formula in the module docstring); negative two-bar estimates are
    set to zero and the estimates averaged, as in the paper.  Bars with a non-positive or
    inverted range are skipped (with the pairs they belong to).  None with fewer than one pair.
    """
    tot = 0.0
    n = 0
    ph = pl = 0.0
    prev = False
    for b in bars:
        h, lo = b[0], b[1]
        if not (lo > 0.0 and h >= lo):
            prev = False
            continue
        if prev:
            beta = math.log(ph / pl) ** 2 + math.log(h / lo) ** 2
            gamma = math.log(max(ph, h) / min(pl, lo)) ** 2
            alpha = (math.sqrt(2.0 * beta) - math.sqrt(beta)) / _CS_K - math.sqrt(gamma / _CS_K)
            if alpha > 0.0:
                ea = math.exp(alpha)
                tot += 2.0 * (ea - 1.0) / (1.0 + ea)
            n += 1
        ph, pl, prev = h, lo, True
    return tot / n * 1e4 if n else None


def estimate_spread(st: SymbolState, inst: Instrument | None = None,
                    config: CostConfig | None = None) -> SpreadEstimate:
    """The spread of ``st``: quote, else ``config.spread_bps[symbol]``, else the Corwin-Schultz
    estimate over the last ``bar_spread_window`` bars floored at one tick of ``inst``, else
    assumed (see the module docstring)."""
    cfg = config or _DEFAULT
    quoted = st.spread_bps()
    if quoted is not None:
        return SpreadEstimate(quoted, "quote")
    fixed = cfg.spread_bps.get(st.symbol)
    if fixed is not None:
        return SpreadEstimate(float(fixed), "config")
    n = cfg.bar_spread_window
    bars = st.bars
    if cfg.bar_spread_estimator == "corwin_schultz" and len(bars) >= n:
        window = list(bars)[-n:]
        est = corwin_schultz_bps(window)
        if est is not None:
            px = st.price
            tick = inst.tick_size / px * 1e4 if inst is not None and px > 0.0 else 0.0
            return SpreadEstimate(max(est, tick), f"corwin_schultz({n} bars)")
    return SpreadEstimate(None, "assumed")


def bar_volume_impact_bps(st: SymbolState, qty: float, window: int, y: float) -> float | None:
    """Round-trip square-root impact of ``qty`` over one bar (module docstring); None when the
    bars carry no volume or the quantity is unknown."""
    if qty <= 0.0 or y <= 0.0 or len(st.bars) < 2:
        return None
    vols = [b[2] for b in list(st.bars)[-window:]]
    mean_vol = sum(vols) / len(vols)
    if mean_vol <= 0.0:
        return None
    return 2.0 * y * st.log_return_std(window) * math.sqrt(qty / mean_vol) * 1e4


#: ``history(symbol, side) -> (mean realized adverse slippage bps per fill, n fills)``.
HistoryFn = Callable[[str, str], tuple[float, int]]


class CostEngine:
    """Estimates the round-trip cost of an order in bps (see the module docstring)."""

    def __init__(self, config: CostConfig | None = None,
                 history: HistoryFn | None = None) -> None:
        self.config = config or CostConfig()
        self.history = history

    # ------------------------------------------------------------------ pure formula

    def estimate_raw(self, *, maker: bool, spread_bps: float | None, volatility: float,
                     maker_fee_bps: float | None = None, taker_fee_bps: float | None = None,
                     book_slippage_bps: float | None = None,
                     history_slippage_bps: float | None = None,
                     funding_bps: float = 0.0, spread_source: str = "quote",
                     volume_impact_bps: float | None = None) -> CostEstimate:
        """The formula on plain numbers (no market state); used by :meth:`estimate`.

        ``spread_bps`` None = no spread known (``no_quote_half_spread_bps``);
        ``volume_impact_bps`` (bar data) replaces the liquidity penalty like the book walk."""
        cfg = self.config
        original = cfg.formula == "original"
        override = cfg.maker_fee_bps if maker else cfg.taker_fee_bps
        if override is not None:
            fee = float(override)
        elif original:
            fee = 1.0 if maker else 6.0
        else:
            inst_fee = maker_fee_bps if maker else taker_fee_bps
            fee = inst_fee if inst_fee is not None else (1.0 if maker else 5.5)
        if spread_bps is None:
            half = cfg.no_quote_half_spread_bps
        else:
            half = max(cfg.min_half_spread_bps, spread_bps / 2.0)
        spread_part = half if (original or maker) else 2.0 * half
        base = 2.0 * (cfg.maker_base_slippage_bps if maker else cfg.taker_base_slippage_bps)
        vol_pen = min(cfg.vol_penalty_cap_bps, cfg.vol_penalty_factor * volatility)
        vol_imp = None
        if book_slippage_bps is not None and not original and cfg.use_book:
            liq = book_slippage_bps
        elif volume_impact_bps is not None and not original:
            liq = vol_imp = volume_impact_bps
        else:
            liq = 0.0
            if spread_bps is not None and spread_bps > cfg.liquidity_spread_bps:
                liq = cfg.liquidity_penalty_factor * (spread_bps - cfg.liquidity_spread_bps)
        slip = min(base + liq + vol_pen, cfg.max_slippage_estimate_bps)
        hist = None
        if history_slippage_bps is not None and not original:
            hist = history_slippage_bps
            # realized history is per fill: a round trip has two fills
            slip = cfg.book_weight * slip + (1.0 - cfg.book_weight) * max(0.0, 2.0 * hist)
            slip = min(slip, cfg.max_slippage_estimate_bps)
        funding = 0.0 if original else funding_bps
        total = 2.0 * fee + spread_part + slip + funding
        return CostEstimate("maker" if maker else "taker", fee, 2.0 * fee, spread_part, slip,
                            funding, total, spread_bps, volatility,
                            book_slippage_bps if not original else None, hist,
                            spread_source=spread_source, volume_impact_bps=vol_imp)

    # ------------------------------------------------------------------ from market state

    def spread(self, st: SymbolState, inst: Instrument | None) -> SpreadEstimate:
        """The spread this engine uses for ``st`` (:func:`estimate_spread` with its config)."""
        return estimate_spread(st, inst, self.config)

    def estimate(self, *, symbol: str, side: str, maker: bool, st: SymbolState,
                 inst: Instrument | None, qty: float = 0.0, now: int = 0,
                 hold_ms: int | None = None,
                 spread: SpreadEstimate | None = None) -> CostEstimate:
        """Estimate from the symbol's current state (quote or bars, book, volatility,
        funding); ``spread`` = an already resolved :meth:`spread` (else resolved here)."""
        cfg = self.config
        original = cfg.formula == "original"
        sp = spread if spread is not None else self.spread(st, inst)
        vol = st.volatility(cfg.volatility_window)
        book_slip = None
        if not original and cfg.use_book and st.book is not None and qty > 0.0:
            book_slip = book_walk_bps(st.book, side, qty)
        vol_imp = None
        if not original and sp.source != "quote" and book_slip is None:
            vol_imp = bar_volume_impact_bps(st, qty, cfg.bar_spread_window, cfg.volume_impact_y)
        hist = None
        if self.history is not None and not original:
            mean, n = self.history(symbol, side)
            if n >= cfg.min_history_fills:
                hist = mean
        funding = 0.0
        if not original and cfg.include_funding and inst is not None and inst.type == "swap" \
                and st.funding_rate:
            hold = cfg.default_hold_ms if hold_ms is None else hold_ms
            iv = cfg.funding_interval_ms
            periods = (now + hold) // iv - now // iv
            rate = st.funding_rate
            if (rate > 0.0) == (side == "buy"):  # longs pay a positive rate, shorts a negative
                funding = abs(rate) * 1e4 * periods
        mfee = tfee = None
        if inst is not None:
            mfee, tfee = inst.maker_fee * 1e4, inst.taker_fee * 1e4
        return self.estimate_raw(maker=maker, spread_bps=sp.bps, volatility=vol,
                                 maker_fee_bps=mfee, taker_fee_bps=tfee,
                                 book_slippage_bps=book_slip, history_slippage_bps=hist,
                                 funding_bps=funding, spread_source=sp.source,
                                 volume_impact_bps=vol_imp)

    def estimate_for(self, signal: Signal, st: SymbolState, inst: Instrument | None,
                     maker: bool, qty: float, now: int,
                     spread: SpreadEstimate | None = None) -> CostEstimate:
        """Shortcut for a signal: its symbol, side and ``max_hold_ms``."""
        return self.estimate(symbol=signal.symbol, side=signal.side, maker=maker, st=st,
                             inst=inst, qty=qty, now=now, hold_ms=signal.max_hold_ms,
                             spread=spread)


def book_walk_bps(book: object, side: str, qty: float) -> float:
    """Round-trip impact of ``qty`` beyond the touch: entry walk + exit walk.

    ``|VWAP - best| / best * 1e4`` per side; :data:`THIN_BOOK_SLIPPAGE_BPS` when a side is too
    thin for the quantity or empty.
    """
    tot = 0.0
    for s in (side, "sell" if side == "buy" else "buy"):
        vwap, filled = book.walk(s, qty)  # type: ignore[attr-defined]
        best = book.ask if s == "buy" else book.bid  # type: ignore[attr-defined]
        if filled + 1e-12 < qty or best <= 0.0:
            return THIN_BOOK_SLIPPAGE_BPS
        tot += abs(vwap - best) / best * 1e4
    return tot


@dataclass(slots=True)
class EdgeEstimate:
    """Result of :func:`estimate_edge`: edge, its threshold and the intermediate numbers."""

    edge_bps: float
    threshold_bps: float
    move_bps: float
    fill_prob: float
    vol_pen: float
    spread_bps: float
    spread_source: str = "quote"

    @property
    def passes(self) -> bool:
        """True when ``edge >= threshold``."""
        return self.edge_bps >= self.threshold_bps


def estimate_edge(signal: Signal, st: SymbolState, regime: str,
                  threshold_scale: float = 1.0,
                  spread: SpreadEstimate | None = None) -> EdgeEstimate:
    """The execution edge estimator (formula in the module docstring).

    ``threshold_scale`` is the trade gate's ``edge_threshold_scale``.  ``spread`` is the
    resolved spread (the trade gate passes its cost engine's); without it the quote, else the
    bar estimate with the default settings, else the assumed ``2 x no_quote_half_spread_bps``.
    ``move_bps`` is the favourable distance entry -> ``take_profit`` (0 without a target).
    """
    reg = (regime or "NORMAL").upper()
    thr = MIN_EDGE_BPS.get(reg, MIN_EDGE_BPS["NORMAL"]) * threshold_scale
    sp = spread if spread is not None else estimate_spread(st)
    spread_bps = sp.bps if sp.bps is not None else 2.0 * _DEFAULT.no_quote_half_spread_bps
    price = signal.entry_price or st.mid
    move = 0.0
    if signal.take_profit is not None and price > 0.0:
        sgn = 1.0 if signal.side == "buy" else -1.0
        move = max(0.0, sgn * (signal.take_profit - price) / price * 1e4)
    c = _FILL_C.get(reg, 0.8)
    fill_prob = min(0.95, max(0.3, 0.75 * (1.0 - c * min(spread_bps / 16.0, 0.6))))
    vol_pen = 0.1 if len(st.prices) < 5 else min(50.0 * st.volatility(19), 0.5)
    edge = (move * fill_prob - spread_bps) * (1.0 - vol_pen) * _EDGE_FACTOR.get(reg, 1.0)
    return EdgeEstimate(edge, thr, move, fill_prob, vol_pen, spread_bps, sp.source)
