"""Capital plan: which strategy × symbol can trade at a given capital, and from what capital.

For each enabled strategy and each of its symbols::

    budget          = capital × (1 − cash_reserve_rate) × weight     (allocator, else equal)
    risk per trade  = budget × risk_pct                              (sizer risk / fixed_risk)
    implied notional = risk per trade / typical stop distance         (≤ budget × max_leverage)
    viable          = the implied size, rounded down to the lot, meets the exchange minimum
    viable from     = min notional × stop / (risk_pct × weight × (1 − reserve))
                      (and ≥ min notional / (max_leverage × weight × (1 − reserve)))

Typical stop distance, first that applies:

1. the strategy's own config key ``typical_stop_pct`` (a fraction);
2. ``risk.typical_stop_pct.<strategy>`` in the run config;
3. an estimate from the last ``risk.stop_estimate_bars`` (288 = one day of 5 m) bars of the
   symbol's bars file, MomentumTrader's own stop rule: ``sl_atr × max(σ·√20, atr_floor_pct)``
   where σ is the standard deviation of the bars' log returns; ``sl_atr`` (1.5) and
   ``atr_floor_pct`` (0.005) come from the strategy's config when it has them, else those
   defaults.

The recent price is the last close of those bars.  ``hean capital-plan CONFIG [--capital X]
[--json]`` prints the plan; ``risk.disable_non_viable: true`` makes the ``risk_limits`` gate
SKIP ``STRATEGY_NOT_VIABLE`` for the non-viable pairs of a run.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import BaseModel, ConfigDict, Field

from ..facts import declare

if TYPE_CHECKING:
    from ..config import RunSetup
    from ..context import RunContext

DEFAULT_SL_ATR = 1.5
DEFAULT_ATR_FLOOR = 0.005


class RiskSection(BaseModel):
    """The run config's top-level ``risk:`` section (validated by the risk plugin)."""

    model_config = ConfigDict(extra="forbid")

    disable_non_viable: bool = Field(False, description="SKIP STRATEGY_NOT_VIABLE for the "
                                     "strategy × symbol pairs the capital plan finds "
                                     "non-viable (needs gates.risk_limits)")
    typical_stop_pct: dict[str, float] = Field(default_factory=dict, description="typical "
                                               "stop distance per strategy (fraction)")
    stop_estimate_bars: int = Field(288, ge=2, le=100_000, description="bars used to "
                                    "estimate a typical stop from the data")


NOT_VIABLE: Any = declare(
    "not_viable", (dict, type(None)), owner="builtin.risk:capital_plan", default=None,
    doc="(strategy, symbol) -> reason of the pairs risk.disable_non_viable refuses; None "
        "until computed (once per run)")


def load_not_viable(ctx: RunContext) -> dict[tuple[str, str], str]:
    """``(strategy, symbol) -> reason`` of the pairs to refuse under
    ``risk.disable_non_viable: true`` (empty otherwise).

    Computed once per run from the run's setup (the capital plan at ``account.capital``),
    logged once per pair, journaled as ``strategy_not_viable`` and published as the fact
    :data:`NOT_VIABLE`, so the ``risk`` sizer (which runs before the gates, i.e. before the
    kernel's POSITION_SIZER_ZERO check) and the ``risk_limits`` gate share it.
    """
    cached = ctx.facts.get(NOT_VIABLE)
    if cached is not None:
        return dict(cached)
    out: dict[tuple[str, str], str] = {}
    section = ctx.run.section("risk")
    setup = getattr(ctx.run, "setup", None)
    if isinstance(section, RiskSection) and section.disable_non_viable and setup is not None:
        plan = plan_for_run(ctx, setup, section=section)
        for row in plan["rows"]:
            if row["viable"]:
                continue
            out[(row["strategy"], row["symbol"])] = row["reason"]
            ctx.log.warning("%s on %s disabled (risk.disable_non_viable): %s",
                            row["strategy"], row["symbol"], row["reason"])
            if ctx.journal is not None:
                ctx.journal.event(ctx.now, "strategy_not_viable", {
                    "strategy": row["strategy"], "symbol": row["symbol"],
                    "reason": row["reason"],
                    "viable_at_capital": row["viable_at_capital"]})
    ctx.facts.set(NOT_VIABLE, out)
    return out


# ------------------------------------------------------------------------------ data


def recent_bars(path: Path, n: int, end: int | None = None) -> list[tuple[float, float, float]]:
    """The last ``n`` ``(high, low, close)`` rows of a bars CSV (before ``end`` ms if given)."""
    import gzip

    with path.open("rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    opener: Any = gzip.open if gz else open
    out: deque[tuple[float, float, float]] = deque(maxlen=n)
    with opener(path, "rt", encoding="utf-8", newline="") as fh2:
        rd = csv.reader(fh2)
        header = [h.strip().lower() for h in next(rd, [])]
        try:
            i_ts = next(header.index(c) for c in ("timestamp", "ts_ms", "ts") if c in header)
            i_h, i_l, i_c = header.index("high"), header.index("low"), header.index("close")
        except (StopIteration, ValueError):
            return []
        for row in rd:
            try:
                if end is not None and int(float(row[i_ts])) >= end:
                    break
                out.append((float(row[i_h]), float(row[i_l]), float(row[i_c])))
            except (ValueError, IndexError):
                continue
    return list(out)


def atr_pct(bars: list[tuple[float, float, float]]) -> float:
    """MomentumTrader's ATR as a price fraction: std of the log returns × √20 (0 if < 3 bars)."""
    closes = [c for _, _, c in bars if c > 0]
    if len(closes) < 3:
        return 0.0
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    mean = sum(rets) / len(rets)
    sigma = math.sqrt(sum((r - mean) ** 2 for r in rets) / len(rets))
    return sigma * math.sqrt(20.0)


# ------------------------------------------------------------------------------ the plan


def _component(setup: Any, kind: str, names: tuple[str, ...]) -> Any:
    for rc in setup.components.get(kind, ()):
        if rc.spec.name in names:
            return rc
    return None


def plan_for_run(ctx: RunContext, setup: RunSetup, capital: float | None = None,
                 section: RiskSection | None = None) -> dict[str, Any]:
    """Build the capital plan of an assembled run (``ctx.instruments`` and ``ctx.run``
    filled)."""
    from ..assembly import data_symbols
    from .allocator import AllocatorConfig, initial_weights, normalise

    cfg = setup.config
    section = section or setup.section("risk") or RiskSection()
    capital = float(capital if capital is not None else cfg.account.capital)
    alloc_rc = _component(setup, "analyzer", ("allocator",))
    acfg: AllocatorConfig = alloc_rc.config if alloc_rc is not None else AllocatorConfig()
    sizer_rc = _component(setup, "sizer", ("risk", "fixed_risk"))
    risk_pct = float(getattr(sizer_rc.config, "risk_pct", 0.01)) if sizer_rc else 0.01
    max_lev = float(getattr(sizer_rc.config, "max_leverage", 3.0)) if sizer_rc else 3.0
    sizer_name = sizer_rc.spec.name if sizer_rc else "(none)"
    strategies = [rc for rc in setup.components.get("strategy", ())]
    ids = [rc.instance for rc in strategies]
    reserve = acfg.cash_reserve_rate
    deployable = capital * (1.0 - reserve)
    fallback = {rc.instance: rc.weight for rc in strategies}
    if alloc_rc is not None:
        weights = initial_weights(acfg, ids, deployable, fallback)
        how = "allocator"
    else:
        weights = normalise(fallback, ids)
        how = "equal split" if len(set(fallback.values())) <= 1 else "strategy weight keys"
    files = getattr(setup.feed.config, "files", []) if setup.feed is not None else []
    end = None
    if setup.feed is not None and getattr(setup.feed.config, "end", None) is not None:
        from ..feeds.config import parse_time

        end = parse_time(setup.feed.config.end)
    bar_cache: dict[str, list[tuple[float, float, float]]] = {}

    def budget_at(cap: float, sid: str) -> float:
        dep = cap * (1.0 - reserve)
        if alloc_rc is not None:
            return dep * initial_weights(acfg, ids, dep, fallback).get(sid, 0.0)
        return dep * weights.get(sid, 0.0)

    rows: list[dict[str, Any]] = []
    for rc in strategies:
        sid = rc.instance
        info = ctx.run.strategies.get(sid)
        symbols = list(info.symbols if info is not None else
                       rc.symbols or data_symbols(setup))
        w = weights.get(sid, 0.0)
        budget = deployable * w
        ceiling = acfg.ceilings.get(sid, acfg.max_budget) if alloc_rc is not None else None
        risk_amount = budget * risk_pct
        for sym in symbols:
            row: dict[str, Any] = {"strategy": sid, "plugin": rc.spec.name, "symbol": sym,
                                   "weight": round(w, 6), "budget": round(budget, 4),
                                   "risk_pct": risk_pct, "risk_amount": round(risk_amount, 4)}
            rows.append(row)
            bars = bar_cache.get(sym)
            if bars is None:
                bars = []
                for f in files:
                    if f.kind == "bars" and f.symbol == sym:
                        p = ctx.run.resolve(f.path)
                        if p.is_file():
                            bars = recent_bars(p, section.stop_estimate_bars, end)
                        break
                bar_cache[sym] = bars
            price = bars[-1][2] if bars else 0.0
            scfg = rc.config
            stop = getattr(scfg, "typical_stop_pct", None)
            stop_src = "strategy config typical_stop_pct"
            if stop is None and sid in section.typical_stop_pct:
                stop = section.typical_stop_pct[sid]
                stop_src = f"risk.typical_stop_pct.{sid}"
            if stop is None and bars:
                mult = float(getattr(scfg, "sl_atr", DEFAULT_SL_ATR))
                floor = float(getattr(scfg, "atr_floor_pct", DEFAULT_ATR_FLOOR))
                a = atr_pct(bars)
                stop = mult * max(a, floor)
                stop_src = (f"{mult:g} x max(ATR {a:.3%} = std of returns x sqrt(20), floor "
                            f"{floor:.2%}) over the last "
                            f"{len(bars)} bars")
            row["typical_stop_pct"] = round(stop, 6) if stop else None
            row["stop_source"] = stop_src if stop else "unknown"
            row["price"] = price
            if sym not in ctx.instruments:
                row.update(viable=False, reason=f"no instrument metadata for {sym}",
                           viable_at_capital=None, exchange_minimum=None)
                continue
            inst = ctx.instruments.get(sym)
            if not price or not stop:
                row.update(viable=False, viable_at_capital=None, exchange_minimum=None,
                           reason="no recent bars for this symbol in data.files: give "
                                  "risk.typical_stop_pct and a bars file")
                continue
            unit = inst.notional(1.0, price)
            min_qty = inst.min_order_qty(price)
            min_notional = inst.notional(min_qty, price)
            row["exchange_minimum"] = inst.describe_minimum(price)
            row["min_qty"] = min_qty
            row["min_notional"] = round(min_notional, 4)
            implied = risk_amount / stop
            cap = budget * max_lev
            notional = min(implied, cap)
            row["implied_notional"] = round(implied, 4)
            row["notional"] = round(notional, 4)
            qty = inst.round_qty(notional / unit) if unit > 0 else 0.0
            row["qty"] = qty
            row["risk_at_minimum"] = round(min_notional * stop, 4)
            viable = qty > 0 and qty + 1e-12 >= min_qty
            row["viable"] = viable
            # capital needed: the risk rule and the leverage rule
            need_budget = max(min_notional * stop / risk_pct, min_notional / max_lev)
            at = _capital_for(need_budget, budget_at, sid)
            if at is None and ceiling is not None:
                row["ceiling"] = ceiling
            row["viable_at_capital"] = at
            if viable:
                row["reason"] = (f"risk {risk_amount:.2f} at a {stop:.2%} stop buys "
                                 f"{notional:.2f} USDT ({qty:g}) >= minimum "
                                 f"{min_notional:.2f} USDT ({min_qty:g})")
            else:
                lim = "" if implied <= cap else f" (capped at {max_lev:g}x budget)"
                why = (f"risk {risk_amount:.2f} at a {stop:.2%} stop buys {notional:.2f} USDT"
                       f"{lim} < exchange minimum {min_notional:.2f} USDT ({min_qty:g}); the "
                       f"minimum would risk {min_notional * stop:.2f}")
                if at is None and ceiling is not None:
                    why += (f"; budget ceiling {ceiling:g} USDT < {need_budget:.2f} needed: "
                            f"not viable at any capital")
                elif at is not None:
                    why += f"; viable from {at:,.2f} USDT capital"
                row["reason"] = why
    return {"capital": capital, "cash_reserve_rate": reserve,
            "deployable": round(deployable, 4), "weights_from": how,
            "sizer": sizer_name, "risk_pct": risk_pct, "max_leverage": max_lev,
            "disable_non_viable": section.disable_non_viable, "rows": rows}


def _capital_for(need_budget: float, budget_at: Any, sid: str) -> float | None:
    """Smallest capital (to the cent) whose budget for ``sid`` reaches ``need_budget``.

    With fixed weights this is ``need_budget / (weight × (1 − reserve))``, i.e. minimum
    notional × stop / (risk_pct × weight × (1 − reserve)); absolute floors and ceilings make
    the weight depend on the capital, so the budget curve is solved by bisection.
    """
    hi = 1e12
    if budget_at(hi, sid) < need_budget * (1.0 - 1e-12):
        return None
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if budget_at(mid, sid) >= need_budget * (1.0 - 1e-12):
            hi = mid
        else:
            lo = mid
        if hi - lo < 1e-4:
            break
    return math.ceil(hi * 100.0 - 1e-6) / 100.0


def build_plan(config: str | Path, capital: float | None = None,
               sets: tuple[str, ...] = ()) -> dict[str, Any]:
    """Load and validate ``config``, build its engine (nothing runs) and plan it."""
    from ..engine import Engine
    from ..session import prepare

    setup, pm = prepare(config, sets)
    engine = Engine(setup, pm, journal=False, progress=False).build()
    return plan_for_run(engine.ctx, setup, capital)


# ------------------------------------------------------------------------------ command


@click.command("capital-plan")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--capital", type=float, default=None,
              help="account capital in USDT (default: account.capital of CONFIG)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="override a config value, e.g. --set account.capital=500 (repeatable)")
def capital_plan(config: str, capital: float | None, as_json: bool,
                 sets: tuple[str, ...]) -> None:
    """Which strategy × symbol of CONFIG is viable at a capital, and from what capital."""
    import orjson

    if capital is not None and not (capital > 0 and math.isfinite(capital)):
        raise click.BadParameter("must be a finite number > 0 (USDT)", param_hint="--capital")
    plan = build_plan(config, capital, sets)
    if as_json:
        click.echo(orjson.dumps(plan, option=orjson.OPT_INDENT_2).decode())
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"Capital plan for {config}: capital {plan['capital']:,.2f} USDT, "
                  f"cash reserve {plan['cash_reserve_rate']:.0%} -> deployable "
                  f"{plan['deployable']:,.2f} USDT; weights: {plan['weights_from']}; sizer "
                  f"{plan['sizer']!r}: {plan['risk_pct']:.2%} risk per trade, max leverage "
                  f"{plan['max_leverage']:g}x")
    # Narrow terminals wrap or fold cells, never cut them: the strategy and the symbol (the
    # names typed into the YAML) share the first column, one per line, which is as wide as
    # the longest of them (at most half the console); the other cells wrap at spaces.
    names = [str(r[k]) for r in plan["rows"] for k in ("strategy", "symbol")]
    name_w = min(max([8, *map(len, names)]), max(8, console.width // 2))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                  show_edge=False)
    table.add_column("strategy\nsymbol", width=name_w, overflow="fold")
    for col in ("budget", "risk/\ntrade", "stop", "notional", "exchange\nminimum", "viable"):
        table.add_column(col, overflow="fold")
    for r in plan["rows"]:
        at = r.get("viable_at_capital")
        viable = "[green]viable[/green]" if r["viable"] else "[red]not viable[/red]"
        viable += f"\nfrom {at:,.2f}" if at is not None else "\nnever"
        table.add_row(
            f"{r['strategy']}\n{r['symbol']}", f"{r['budget']:.2f}", f"{r['risk_amount']:.2f}",
            f"{r['typical_stop_pct']:.2%}" if r.get("typical_stop_pct") else "?",
            f"{r['notional']:.2f}" if "notional" in r else "?",
            f"{r['min_qty']:g} ({r['min_notional']:.2f} USDT)" if "min_qty" in r else "?",
            viable)
    console.print(table)
    for r in plan["rows"]:
        mark = "viable" if r["viable"] else "NOT VIABLE"
        console.print(f"- {r['strategy']} on {r['symbol']}: {mark}: {r['reason']}. "
                      f"{r.get('exchange_minimum') or ''} (stop: {r['stop_source']})",
                      highlight=False)
