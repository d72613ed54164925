"""Contract test suites: subclass one in your plugin's tests and set the class attributes.

Each suite checks what the kernel relies on for that kind (registration, config model,
return types, determinism, no crash on missing data).  Tests run on real packaged data.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from ..components import Verdict
from ..kinds import KINDS
from ..models import BLOCK, SKIP, OrderDecision, Signal


class _Contract:
    kind: ClassVar[str] = ""
    #: the registered component name
    plugin_name: ClassVar[str] = ""
    #: dotted module holding the hookimpls (None: rely on installed entry points)
    plugin_module: ClassVar[str | None] = None
    #: YAML-style config for the component under test
    config: ClassVar[dict[str, Any]] = {}

    def plugins(self) -> Any:
        from . import isolated_plugins

        if self.plugin_module:
            return isolated_plugins(self.plugin_module)
        from ..plugins import load_plugins

        return load_plugins()

    def make(self, ctx: Any, config: dict[str, Any] | None = None) -> Any:
        from . import build_component

        return build_component(self.plugins(), self.kind, self.plugin_name, ctx,
                               self.config if config is None else config,
                               symbols=getattr(self, "symbols", None))

    def test_registered_with_valid_model(self) -> None:
        spec = self.plugins().registry.get(self.kind, self.plugin_name)
        assert spec is not None, f"{self.kind} {self.plugin_name!r} is not registered"
        assert issubclass(spec.cls, KINDS[self.kind].base)
        spec.build_config(self.config)
        with pytest.raises(ValidationError):
            spec.build_config({**self.config, "surely_not_a_real_key": 1})

    def _check_verdict(self, v: Any) -> None:
        assert v is None or isinstance(v, Verdict), f"expected Verdict or None, got {v!r}"
        if isinstance(v, Verdict):
            assert v.decision in (SKIP, BLOCK)
            assert v.code and v.code == v.code.upper(), "reason codes are UPPER_SNAKE_CASE"


class StrategyContract(_Contract):
    """Signals are well-formed, owned by the instance, deterministic."""

    kind = "strategy"
    symbols: ClassVar[list[str]] = ["BTC/USDT:USDT"]
    #: how many sample bars to replay
    n_bars: ClassVar[int] = 3000
    #: set True when your strategy must produce at least one signal on the sample
    expects_signals: ClassVar[bool] = True

    def replay(self) -> list[Signal]:
        from ..components import signals_of
        from . import make_context, sample_bars

        ctx = make_context(symbols=self.symbols)
        strat = self.make(ctx)
        out: list[Signal] = []
        for bar in sample_bars(self.n_bars):
            ctx.now = bar.ts
            st = ctx.market[bar.symbol]
            st.last = bar.close
            st.ts = bar.ts
            st.prices.append(bar.close)
            out.extend(signals_of(strat.on_bar(bar)))
        return out

    def test_signals_well_formed(self) -> None:
        sigs = self.replay()
        if self.expects_signals:
            assert sigs, "no signal on the real sample; set expects_signals = False if intended"
        for s in sigs:
            assert isinstance(s, Signal)
            assert s.strategy_id == self.plugin_name
            assert s.side in ("buy", "sell")
            assert s.symbol in self.symbols
            assert s.entry_price > 0 and math.isfinite(s.entry_price)
            if s.stop_loss is not None and not s.reduce_only:
                assert (s.stop_loss < s.entry_price) if s.side == "buy" else \
                    (s.stop_loss > s.entry_price), f"stop on the wrong side: {s}"
            assert 0.0 <= s.confidence <= 1.0

    def test_deterministic(self) -> None:
        a = [(s.ts, s.side, s.entry_price, s.stop_loss) for s in self.replay()]
        b = [(s.ts, s.side, s.entry_price, s.stop_loss) for s in self.replay()]
        assert a == b

    def replay_batched(self, cuts: int = 7) -> list[Signal]:
        """The sample through ``on_bars`` as the engine's fast path calls it: blocks cut at
        uneven places, resumed after every signal at the next row."""
        from array import array

        from ..blocks import BarBlock
        from ..components import signals_of
        from . import make_context, sample_bars

        ctx = make_context(symbols=self.symbols)
        strat = self.make(ctx)
        bars = list(sample_bars(self.n_bars))
        ts = array("q", [b.ts for b in bars])
        o, h, lo, c, v = (array("d", [getattr(b, f) for b in bars])
                          for f in ("open", "high", "low", "close", "volume"))
        out: list[Signal] = []
        edges = sorted({0, len(bars), *range(1, len(bars), max(1, len(bars) // cuts) + 13)})
        for a, b in itertools.pairwise(edges):
            blk = BarBlock(bars[0].symbol, bars[0].interval_ms, ts, o, h, lo, c, v, a, b)
            i = a
            while i < b:
                res = strat.on_bars(blk, i, b)
                if res is None:
                    break
                row, sig = res
                assert i <= row < b, f"on_bars returned row {row} outside {i}..{b - 1}"
                bar = bars[row]
                ctx.now = bar.ts
                ctx.market[bar.symbol].last = bar.close
                out.extend(signals_of(sig))
                i = row + 1
        return out

    def test_batch_form_matches_per_bar(self) -> None:
        """A strategy overriding ``on_bars`` (the engine's fast path) must give exactly the
        signals of ``on_bar`` over the same bars, however the rows are cut into blocks."""
        from ..components import Strategy
        from . import make_context

        if type(self.make(make_context(symbols=self.symbols))).on_bars is Strategy.on_bars:
            pytest.skip("the strategy does not override on_bars")
        want = [(s.ts, s.side, s.entry_price, s.stop_loss, s.size, s.reduce_only, s.tag)
                for s in self.replay()]
        got = [(s.ts, s.side, s.entry_price, s.stop_loss, s.size, s.reduce_only, s.tag)
               for s in self.replay_batched()]
        assert got == want

    def test_unknown_params_are_ignored(self) -> None:
        from . import make_context

        strat = self.make(make_context(symbols=self.symbols))
        assert strat.on_params_updated({"surely_not_a_param": 1}) == []

    def test_params_out_of_range_are_clamped(self) -> None:
        """An update beyond a parameter's declared bounds (an optimizer, the online bridge, a
        user) never raises and never leaves the bounds: numbers are clamped, each key alone
        (:func:`hean_framework.params.apply_clamped`)."""
        from ..params import field_bounds
        from . import make_context

        strat = self.make(make_context(symbols=self.symbols))
        model = type(strat.config)
        for key, field in model.model_fields.items():
            if field.annotation not in (int, float):
                continue
            low, high = field_bounds(field, field.annotation is int)
            for bound, value in ((high, 1e12), (low, -1e12)):
                if bound is None:
                    continue
                strat.on_params_updated({key: value})
                got = getattr(strat.config, key)
                assert (got <= bound if value > 0 else got >= bound), (
                    f"{model.__name__}.{key} = {got} after an update to {value:g}: outside "
                    f"its declared bound {bound:g} (clamp with hean_framework.params."
                    "apply_clamped)")


class _PipelineContract(_Contract):
    price: ClassVar[float] = 80_000.0
    symbol: ClassVar[str] = "BTC/USDT:USDT"

    def signal(self, **kw: Any) -> Signal:
        base = dict(strategy_id="contract", symbol=self.symbol, side="buy", ts=1,
                    entry_price=self.price, stop_loss=self.price * 0.99,
                    take_profit=self.price * 1.02)
        base.update(kw)
        return Signal(**base)  # type: ignore[arg-type]

    def decision(self, sig: Signal) -> OrderDecision:
        return OrderDecision(1, sig.signal_id, sig.strategy_id, sig.symbol, sig.side, sig.ts,
                             price=sig.entry_price, qty_raw=0.01, qty=0.01,
                             notional=0.01 * sig.entry_price)

    def ctx(self, quote: bool = True) -> Any:
        from . import make_context

        p = self.price
        if quote:
            return make_context(symbols=[self.symbol], price=p, bid=p - 0.1, ask=p + 0.1)
        return make_context(symbols=[self.symbol], price=p)

    def call(self, comp: Any, sig: Signal, d: OrderDecision) -> Any:
        raise NotImplementedError

    def test_returns_verdict_or_none(self) -> None:
        comp = self.make(self.ctx())
        sig = self.signal()
        self._check_verdict(self.call(comp, sig, self.decision(sig)))

    def test_no_crash_without_quote(self) -> None:
        comp = self.make(self.ctx(quote=False))
        sig = self.signal()
        self._check_verdict(self.call(comp, sig, self.decision(sig)))


class FilterContract(_PipelineContract):
    """``check`` returns a Verdict or None, with or without a quote."""

    kind = "filter"

    def call(self, comp: Any, sig: Signal, d: OrderDecision) -> Any:
        return comp.check(sig, d)


class GateContract(_PipelineContract):
    """``vote`` returns a Verdict or None, with or without a quote."""

    kind = "gate"

    def call(self, comp: Any, sig: Signal, d: OrderDecision) -> Any:
        return comp.vote(sig, d)


class SizerContract(_PipelineContract):
    """``size`` leaves a finite, non-negative ``qty_raw``."""

    kind = "sizer"

    def call(self, comp: Any, sig: Signal, d: OrderDecision) -> Any:
        v = comp.size(sig, d)
        assert math.isfinite(d.qty_raw) and d.qty_raw >= 0.0
        return v


class ExecutorContract(_PipelineContract):
    """``execute`` places at least one order or declines with a verdict."""

    kind = "executor"

    def call(self, comp: Any, sig: Signal, d: OrderDecision) -> Any:
        before = len(comp.ctx.orders.orders)
        v = comp.execute(sig, d)
        if v is None:
            assert len(comp.ctx.orders.orders) > before, "accepted but placed no order"
        return v


class OptimizerContract(_Contract):
    """``optimize`` returns parameters inside the space whose fitness is what ``evaluate``
    gives them, is deterministic for a seed, never does worse than the incumbent, and gets
    close to the top of a known landscape (ints, floats and choices)."""

    kind = "optimizer"
    #: a fitness at least this share of the way from the incumbent's to the optimum (1.0)
    min_progress: ClassVar[float] = 0.5

    @staticmethod
    def problem(seed: int = 7) -> Any:
        from ..components import OptimizationProblem, Param

        space = {"x": Param("x", "float", -5.0, 5.0), "n": Param("n", "int", 1, 40),
                 "mode": Param("mode", "choice", choices=("a", "b", "c"))}

        def evaluate(p: dict[str, Any]) -> float:
            # maximum 1.0 at x = 1.5, n = 17, mode = "b"
            return 1.0 - ((p["x"] - 1.5) / 10) ** 2 - ((p["n"] - 17) / 40) ** 2 \
                - (0.0 if p["mode"] == "b" else 0.1)

        return OptimizationProblem("s", space, evaluate, {"x": -4.0, "n": 38, "mode": "a"},
                                   seed)

    def _run(self, seed: int = 7) -> tuple[Any, Any]:
        from . import make_context

        opt = self.make(make_context())
        problem = self.problem(seed)
        return problem, opt.optimize(problem)

    def test_result_is_inside_the_space_and_scored_by_evaluate(self) -> None:
        from ..components import OptimizationResult

        problem, res = self._run()
        assert isinstance(res, OptimizationResult)
        assert set(res.params) == set(problem.space)
        for k, v in res.params.items():
            assert problem.space[k].contains(v), f"{k}={v!r} is outside {problem.space[k]}"
        assert res.fitness == problem.evaluate(res.params)

    def test_deterministic_for_a_seed(self) -> None:
        assert self._run(3)[1].params == self._run(3)[1].params

    def test_not_worse_than_the_incumbent_and_makes_progress(self) -> None:
        problem, res = self._run()
        start = problem.evaluate(problem.incumbent)
        assert res.fitness >= start
        assert res.fitness - start >= self.min_progress * (1.0 - start)
