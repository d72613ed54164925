"""Trade gate ``trade_gate``: edge must pay for the cost (``docs/small_capital.md``, "Trade gate").

After sizing, for every entry order::

    spread    = quote, else cost.spread_bps[symbol], else (bar data) the Corwin-Schultz estimate
                from the symbol's last bars, else assumed (``details["spread_source"]``)
    edge      = signal.edge_bps, else the edge estimator of :mod:`hean_framework.execution.costs`
                on that spread (``edge_source``; its inputs in ``details["edge_estimate"]``)
    cost      = CostEngine estimate (maker or taker round trip, bps) on that spread
    required  = cost x cost_edge_multiplier (4)            maker
              = cost x taker_edge_multiplier (8)           taker, when allowed as "strong"
    multiplier boost from fill quality (optional) is added to both multipliers

Rules (all failing codes are collected; the verdict carries the first, the decision's
``details["gate_reason_codes"]`` all of them):

* notional < ``min_notional_usd`` -> ``MIN_NOTIONAL_LIMIT``;
* a taker request (market order, not ``prefer_maker``): accepted as taker only when
  ``allow_taker_if_edge_strong`` and edge >= taker cost x ``taker_edge_multiplier``;
  otherwise, with ``maker_only_default``, ``MAKER_ONLY_ENFORCED`` (or, with
  ``convert_taker_to_maker``, the order is evaluated and sent as a maker order);
  without ``maker_only_default`` it is gated as a taker at ``cost_edge_multiplier``;
* edge < required -> ``EDGE_TOO_LOW_FOR_COST``.

``mode: legacy`` (small-capital mode off, as in the original) skips all of this and only asks
the edge estimator: edge below its regime threshold -> SKIP ``LEGACY_EDGE_FILTER``.

The gate runs after sizing so that the notional is the sized ``qty x price`` (the original
gate took the notional from a signal field that did not exist).

Every decision that reaches the gate gets the ORDER_DECISION fields: ``expected_edge_bps``,
``cost_bps``, ``cost_breakdown``, ``required_edge_bps``, ``required_multiplier``,
``edge_cost_ratio``, ``maker_or_taker`` and ``regime``.  A BLOCK's message gives the numbers
and what the strategy's author can change (edge_bps, take_profit, prefer_maker, the
multipliers, or small-capital mode off).

The gate also observes every decision and fill of the run: it keeps the small-capital summary
(``report.json["small_capital_mode"]``, also printed by ``hean why``) and the fill-quality
tracker whose realized slippage feeds the cost model.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import Field

from ..components import ComponentConfig, Gate, Verdict, block
from ..facts import MAKER_FILL_RATE, REGIME
from ..models import BLOCK, CREATE, SKIP, Fill, OrderDecision, Signal
from .costs import CostConfig, CostEngine, CostEstimate, EdgeEstimate, SpreadEstimate, estimate_edge
from .fill_quality import FillQualityConfig, FillQualityTracker

__all__ = ["GateResult", "TradeGate", "TradeGateConfig", "evaluate", "summarize_decisions"]


class TradeGateConfig(ComponentConfig):
    """``gates.trade_gate``: the small-capital cost gate (multipliers 4 / 8 and the 10 USDT
    minimum notional are the original gate's defaults)."""

    cost_edge_multiplier: float = Field(4.0, gt=0, description="required edge = cost x this "
                                        "(maker)")
    taker_edge_multiplier: float = Field(8.0, gt=0, description="required edge for a taker "
                                         "order when allow_taker_if_edge_strong")
    allow_taker_if_edge_strong: bool = Field(False)
    maker_only_default: bool = Field(True, description="taker requests are refused unless "
                                     "their edge is strong")
    convert_taker_to_maker: bool = Field(False, description="with maker_only_default: "
                                         "evaluate a taker request as maker and send it as "
                                         "a post-only order instead of blocking it")
    min_notional_usd: float = Field(10.0, ge=0, description="orders below this notional are "
                                    "blocked (MIN_NOTIONAL_LIMIT)")
    edge_source: Literal["signal_or_estimator", "signal", "estimator"] = Field(
        "signal_or_estimator", description="where the expected edge comes from")
    edge_threshold_scale: float = Field(1.0, gt=0, description="factor on the edge "
                                        "estimator's regime threshold (the original used 0.5)")
    mode: Literal["cost", "legacy"] = Field("cost", description="'legacy' = small capital "
                                            "mode off: the edge estimator only "
                                            "(SKIP LEGACY_EDGE_FILTER)")
    cost: CostConfig = Field(default_factory=CostConfig)
    fill_quality: FillQualityConfig = Field(default_factory=FillQualityConfig)
    report_section: bool = Field(True, description="add report.json['small_capital_mode']")


class GateResult:
    """The numbers and codes of one evaluation (what goes on the decision)."""

    __slots__ = ("codes", "cost", "edge", "maker_or_taker", "multiplier", "ratio", "required")

    def __init__(self, edge: float, cost: CostEstimate, multiplier: float,
                 maker_or_taker: str, codes: list[str]) -> None:
        self.edge = edge
        self.cost = cost
        self.multiplier = multiplier
        self.required = cost.total_bps * multiplier
        self.ratio = edge / cost.total_bps if cost.total_bps > 0 else float("inf")
        self.maker_or_taker = maker_or_taker
        self.codes = codes

    def apply(self, d: OrderDecision) -> None:
        """Write the ORDER_DECISION fields onto ``d``."""
        d.expected_edge_bps = round(self.edge, 4)
        d.cost_bps = round(self.cost.total_bps, 4)
        d.cost_breakdown = self.cost.breakdown()
        d.required_edge_bps = round(self.required, 4)
        d.required_multiplier = self.multiplier
        d.edge_cost_ratio = round(self.ratio, 4) if self.ratio != float("inf") else None
        d.maker_or_taker = self.maker_or_taker


def evaluate(cfg: TradeGateConfig, edge: float, maker_cost: CostEstimate,
             taker_cost: CostEstimate | None, wants_taker: bool, notional: float,
             boost: float = 0.0) -> GateResult:
    """The gate's rules on plain numbers (see the module docstring)."""
    codes: list[str] = []
    if notional < cfg.min_notional_usd:
        codes.append("MIN_NOTIONAL_LIMIT")
    m_mult = cfg.cost_edge_multiplier + boost
    t_mult = cfg.taker_edge_multiplier + boost
    if wants_taker and taker_cost is not None:
        if cfg.allow_taker_if_edge_strong and edge >= taker_cost.total_bps * t_mult:
            return GateResult(edge, taker_cost, t_mult, "taker", codes)
        if cfg.maker_only_default:
            if not cfg.convert_taker_to_maker:
                res = GateResult(edge, taker_cost,
                                 t_mult if cfg.allow_taker_if_edge_strong else m_mult,
                                 "taker", codes)
                codes.append("MAKER_ONLY_ENFORCED")
                if edge < res.required:
                    codes.append("EDGE_TOO_LOW_FOR_COST")
                return res
        else:
            res = GateResult(edge, taker_cost, m_mult, "taker", codes)
            if edge < res.required:
                codes.append("EDGE_TOO_LOW_FOR_COST")
            return res
    res = GateResult(edge, maker_cost, m_mult, "maker", codes)
    if edge < res.required:
        codes.append("EDGE_TOO_LOW_FOR_COST")
    return res


class TradeGate(Gate):
    """Blocks orders whose expected edge does not cover ``multiplier`` x their cost."""

    config_model = TradeGateConfig
    config: TradeGateConfig

    def on_start(self) -> None:
        self.ctx.market.keep_bars = True  # the cost model estimates spreads from candles
        cfg = self.config
        self.fill_quality = FillQualityTracker(cfg.fill_quality)
        self.costs = CostEngine(cfg.cost, history=self.fill_quality.history)
        self.summary = DecisionSummary()
        self.counts: Counter[str] = Counter()
        self.spread_sources: Counter[str] = Counter()
        if cfg.report_section:
            self.ctx.add_section("small_capital_mode", self.small_capital_mode)

    # ------------------------------------------------------------------ voting

    def _edge(self, signal: Signal, regime: str, spread: SpreadEstimate
              ) -> tuple[float | None, str, EdgeEstimate | None]:
        src = self.config.edge_source
        if signal.edge_bps is not None and src != "estimator":
            return float(signal.edge_bps), "signal", None
        if src == "signal":
            return None, "none", None
        st = self.ctx.market[signal.symbol]
        est = estimate_edge(signal, st, regime, self.config.edge_threshold_scale, spread)
        return est.edge_bps, "estimator", est

    def vote(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        cfg = self.config
        ctx = self.ctx
        regime = decision.regime or ctx.facts.get(REGIME, signal.symbol) or "NORMAL"
        decision.regime = regime
        st = ctx.market[signal.symbol]
        inst = ctx.instruments.get(signal.symbol) if signal.symbol in ctx.instruments else None
        spread = self.costs.spread(st, inst)
        decision.details["spread_source"] = spread.source
        self.spread_sources[spread.source] += 1
        if cfg.mode == "legacy":
            legacy = estimate_edge(signal, st, regime, cfg.edge_threshold_scale, spread)
            decision.expected_edge_bps = round(legacy.edge_bps, 4)
            decision.details["edge_threshold_bps"] = legacy.threshold_bps
            decision.details["edge_estimate"] = _edge_details(legacy)
            if not legacy.passes:
                self.counts["LEGACY_EDGE_FILTER"] += 1
                return Verdict(SKIP, "LEGACY_EDGE_FILTER",
                               f"edge {legacy.edge_bps:.2f} bps < threshold "
                               f"{legacy.threshold_bps:.2f} ({_estimate_text(legacy)})", {})
            return None
        edge, source, est = self._edge(signal, regime, spread)
        decision.details["edge_source"] = source
        if est is not None:
            decision.details["edge_estimate"] = _edge_details(est)
        if edge is None:
            self.counts["NO_EDGE"] += 1
            return block("EDGE_TOO_LOW_FOR_COST", "the signal gives no edge_bps and "
                         "gates.trade_gate.edge_source is 'signal': give the signal edge_bps, "
                         "or set edge_source: signal_or_estimator (the default)")
        qty = decision.qty + decision.close_qty
        wants_taker = signal.order_type == "market" and not signal.prefer_maker
        maker_cost = self.costs.estimate_for(signal, st, inst, True, qty, ctx.now, spread)
        taker_cost = self.costs.estimate_for(signal, st, inst, False, qty, ctx.now, spread) \
            if wants_taker else None
        res = evaluate(cfg, edge, maker_cost, taker_cost, wants_taker, decision.notional,
                       self.fill_quality.boost)
        res.apply(decision)
        if res.maker_or_taker == "maker" and wants_taker and not res.codes:
            signal.prefer_maker = True  # converted: executors send it post-only
            decision.details["converted_to_maker"] = True
        if not res.codes:
            self.counts[CREATE] += 1
            self.fill_quality.expect(signal.signal_id, res.cost.total_bps / 2.0)
            return None
        for c in res.codes:
            self.counts[c] += 1
        decision.details["gate_reason_codes"] = list(res.codes)
        first = res.codes[0]
        return block(first, _message(first, cfg, res, decision, est),
                     min_notional_usd=cfg.min_notional_usd)

    # ------------------------------------------------------------------ observing

    def on_decision(self, decision: OrderDecision) -> None:
        self.summary.add(decision)

    def on_fill(self, fill: Fill) -> None:
        self.fill_quality.on_fill(fill)

    # ------------------------------------------------------------------ reporting

    def _maker_fill_rate(self) -> float | None:
        rate = self.ctx.facts.get(MAKER_FILL_RATE)
        return None if rate < 0.0 else rate

    def small_capital_mode(self) -> dict[str, Any]:
        """The seed's ``small_capital_mode`` block for this run."""
        cfg = self.config
        out = self.summary.block(enabled=True)
        out["maker_fill_rate"] = self._maker_fill_rate()
        out["min_notional_usd"] = cfg.min_notional_usd
        out["maker_only_default"] = cfg.maker_only_default
        out["cost_edge_multiplier"] = cfg.cost_edge_multiplier
        out["taker_edge_multiplier"] = cfg.taker_edge_multiplier
        out["allow_taker_if_edge_strong"] = cfg.allow_taker_if_edge_strong
        out["cost_formula"] = cfg.cost.formula
        out["spread_sources"] = dict(self.spread_sources)
        out["fill_quality"] = self.fill_quality.stats()
        return out

    def stats(self) -> dict[str, Any]:
        return {"votes": dict(self.counts), "multiplier_boost": self.fill_quality.boost}


#: How to turn the gate off, at the end of every BLOCK message.
_OFF = ("or turn the gate off (small_capital.enabled: false; gates.trade_gate.enabled: "
        "false where the YAML lists the gate itself)")


def _edge_details(est: EdgeEstimate) -> dict[str, Any]:
    return {"move_bps": round(est.move_bps, 4), "fill_prob": round(est.fill_prob, 4),
            "vol_pen": round(est.vol_pen, 4), "spread_bps": round(est.spread_bps, 4),
            "spread_source": est.spread_source, "threshold_bps": est.threshold_bps}


def _estimate_text(est: EdgeEstimate) -> str:
    return (f"estimated = (take_profit move {est.move_bps:.1f} x fill_prob "
            f"{est.fill_prob:.2f} - spread {est.spread_bps:.2f} from {est.spread_source}) x "
            f"(1 - vol_pen {est.vol_pen:.2f})")


def _message(code: str, cfg: TradeGateConfig, res: GateResult, d: OrderDecision,
             est: EdgeEstimate | None) -> str:
    """The BLOCK message of ``code``: the numbers, then what the author can change."""
    c = res.cost
    spread = (f"spread {c.quoted_spread_bps:.2f} bps from {c.spread_source}"
              if c.quoted_spread_bps is not None else
              f"no spread known, half spread {cfg.cost.no_quote_half_spread_bps:g} bps assumed")
    cost = f"{c.total_bps:.2f} bps ({res.maker_or_taker} round trip; {spread})"
    if code == "MIN_NOTIONAL_LIMIT":
        return (f"notional {d.notional:.2f} < min_notional_usd {cfg.min_notional_usd:g}: "
                f"size a larger order (more risk per trade, or a closer stop), lower "
                f"gates.trade_gate.min_notional_usd, {_OFF}")
    if code == "MAKER_ONLY_ENFORCED":
        strong = (f"allow_taker_if_edge_strong is on but edge {res.edge:.2f} bps < "
                  f"{res.required:.2f} = taker cost {cost} x {res.multiplier:g}"
                  if cfg.allow_taker_if_edge_strong else
                  "gates.trade_gate.allow_taker_if_edge_strong: true accepts takers whose edge "
                  f"is >= the taker cost x {cfg.taker_edge_multiplier:g}")
        return ("taker entry refused (gates.trade_gate.maker_only_default): the signal is a "
                "market order without prefer_maker. To trade, send a maker order "
                "(signal prefer_maker=True, or order_type='limit'), or set "
                f"gates.trade_gate.convert_taker_to_maker: true; {strong}; {_OFF}")
    # EDGE_TOO_LOW_FOR_COST
    head = (f"edge {res.edge:.2f} bps < required {res.required:.2f} = cost {cost} x "
            f"{res.multiplier:g}")
    if est is None:
        return (f"{head}. To trade: a larger signal edge_bps (the strategy's own estimate), "
                f"lower gates.trade_gate.cost_edge_multiplier, {_OFF}")
    tp = ("the signal has no take_profit, so no favourable move is counted: set a "
          "take_profit, or give the signal edge_bps"
          if est.move_bps <= 0.0 else
          "give the signal edge_bps (its own estimate), or a take_profit further away")
    return (f"{head}; no edge_bps on the signal, edge {_estimate_text(est)}. To trade: {tp}; "
            f"lower gates.trade_gate.cost_edge_multiplier; {_OFF}")


class DecisionSummary:
    """Running averages and counts over decisions (entries only; exits are not gated)."""

    __slots__ = ("block_reasons", "cost_n", "cost_sum", "counts", "edge_n", "edge_sum")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.block_reasons: Counter[str] = Counter()
        self.cost_sum = 0.0
        self.cost_n = 0
        self.edge_sum = 0.0
        self.edge_n = 0

    def add(self, d: OrderDecision | Mapping[str, Any]) -> None:
        """Count one decision (an OrderDecision or a journal row)."""
        get = d.get if isinstance(d, Mapping) else (lambda k, _d=d: getattr(_d, k))
        if get("stage") == "exit":
            return
        kind = str(get("decision"))
        self.counts[kind] += 1
        cost = get("cost_bps")
        if cost is not None:
            self.cost_sum += float(cost)
            self.cost_n += 1
        edge = get("expected_edge_bps")
        if edge is not None:
            self.edge_sum += float(edge)
            self.edge_n += 1
        if kind != CREATE:
            for code in get("reason_codes") or ():
                self.block_reasons[code] += 1

    def block(self, enabled: bool) -> dict[str, Any]:
        """The seed's block (without the config-derived keys)."""
        avg_cost = self.cost_sum / self.cost_n if self.cost_n else None
        avg_edge = self.edge_sum / self.edge_n if self.edge_n else None
        ratio = avg_edge / avg_cost if avg_cost and avg_edge is not None else None
        c = self.counts
        return {
            "enabled": enabled,
            "avg_cost_bps": None if avg_cost is None else round(avg_cost, 4),
            "avg_edge_bps": None if avg_edge is None else round(avg_edge, 4),
            "edge_cost_ratio": None if ratio is None else round(ratio, 4),
            "top_block_reasons": [{"reason": k, "count": v}
                                  for k, v in self.block_reasons.most_common(5)],
            "maker_fill_rate": None,
            "decision_counts": {"create": c[CREATE], "skip": c[SKIP], "block": c[BLOCK],
                                "total": c[CREATE] + c[SKIP] + c[BLOCK]},
        }


def summarize_decisions(decisions: Iterable[OrderDecision | Mapping[str, Any]],
                        enabled: bool = False) -> dict[str, Any]:
    """The ``small_capital_mode`` block computed from decisions (e.g. a journal)."""
    s = DecisionSummary()
    for d in decisions:
        s.add(d)
    return s.block(enabled)
