"""``hean plugins new NAME --kind KIND``: a plugin package whose tests pass out of the box."""

from __future__ import annotations

import re
from pathlib import Path

from . import __version__
from .errors import HeanError
from .kinds import KINDS, SCAFFOLD_KINDS

#: base class, registration hook and contract suite of each kind, from the one kind table
BASES = {k: KINDS[k].base.__name__ for k in SCAFFOLD_KINDS}
HOOKS = {k: KINDS[k].hook for k in SCAFFOLD_KINDS}
CONTRACTS = {k: str(KINDS[k].contract) for k in SCAFFOLD_KINDS}

BODIES = {
    "strategy": '''
    def on_start(self) -> None:
        self.prices: dict[str, list[float]] = {}

    def on_bar(self, bar: Bar) -> Signal | None:
        """Buy when the close breaks the highest close of the last ``lookback`` bars."""
        hist = self.prices.setdefault(bar.symbol, [])
        hist.append(bar.close)
        if len(hist) <= self.config.lookback:
            return None
        del hist[: -self.config.lookback - 1]
        if bar.close > max(hist[:-1]):
            stop = bar.close * (1 - self.config.stop_pct)
            return self.signal(bar.symbol, "buy", bar.ts, bar.close, stop_loss=stop,
                               take_profit=bar.close * (1 + 2 * self.config.stop_pct))
        return None
''',
    "filter": '''
    def check(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Skip signals when the quoted spread is wider than ``max_spread_bps``."""
        spread = self.ctx.market[signal.symbol].spread_bps()
        if spread is not None and spread > self.config.max_spread_bps:
            return skip("SPREAD_TOO_WIDE", f"spread {spread:.2f} bps",
                        spread_bps=spread, max_spread_bps=self.config.max_spread_bps)
        return None
''',
    "sizer": '''
    def size(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Scale the size computed by earlier sizers by ``multiplier``."""
        decision.qty_raw *= self.config.multiplier
        return None
''',
    "gate": '''
    def vote(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Block orders whose notional exceeds ``max_notional``."""
        if decision.notional > self.config.max_notional:
            return block("NOTIONAL_TOO_LARGE", f"{decision.notional:.2f} > "
                         f"{self.config.max_notional}", notional=decision.notional)
        return None
''',
    "optimizer": '''
    def optimize(self, problem: OptimizationProblem) -> OptimizationResult:
        """Coordinate descent: try ``steps`` values of each parameter in turn, keep the best."""
        best = {k: p.clip(problem.incumbent.get(k, p.low if p.kind != "choice" else
                                               p.choices[0]))
                for k, p in problem.space.items()}
        best_fit = problem.evaluate(best)
        history = [{"params": dict(best), "fitness": best_fit}]
        for _ in range(self.config.rounds):
            for name, p in problem.space.items():
                values = p.choices if p.kind == "choice" else [
                    p.clip(p.low + (p.high - p.low) * i / (self.config.steps - 1))
                    for i in range(self.config.steps)]
                for v in values:
                    cand = {**best, name: v}
                    fit = problem.evaluate(cand)
                    history.append({"params": cand, "fitness": fit})
                    if fit > best_fit:
                        best, best_fit = cand, fit
        return OptimizationResult(best, best_fit, history)
''',
    "executor": '''
    def execute(self, signal: Signal, decision: OrderDecision) -> Verdict | None:
        """Send one market order for the decided quantity."""
        decision.maker_or_taker = "taker"
        self.ctx.orders.submit(signal, decision, decision.qty, executor=self)
        return None
''',
}

FIELDS = {
    "strategy": ('    lookback: int = Field(20, ge=2, description="bars in the breakout window")\n'
                 '    stop_pct: float = Field(0.01, gt=0, lt=0.5, description="stop distance")\n'),
    "filter": '    max_spread_bps: float = Field(8.0, gt=0, description="widest spread allowed")\n',
    "sizer": '    multiplier: float = Field(1.0, ge=0, le=3, description="size multiplier")\n',
    "gate": '    max_notional: float = Field(1000.0, gt=0, description="largest order")\n',
    "executor": '    note: str = Field("", description="free text")\n',
    "optimizer": ('    steps: int = Field(9, ge=2, le=1000, description="values tried per '
                  'parameter")\n'
                  '    rounds: int = Field(2, ge=1, le=100, description="passes over the '
                  'parameters")\n'),
}


def names_for(name: str) -> tuple[str, str, str]:
    """(distribution, package, component name) for a user-given plugin name."""
    base = re.sub(r"^hean[-_]", "", name.strip().lower()).replace("-", "_")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", base):
        raise HeanError(f"invalid plugin name {name!r}",
                        "use letters, digits, '_' or '-', starting with a letter")
    return "hean-" + base.replace("_", "-"), "hean_" + base, base


def scaffold(name: str, kind: str, directory: Path) -> Path:
    """Create ``directory/<distribution>/`` with pyproject, package, tests and README."""
    if kind not in BASES:
        raise HeanError(f"unknown kind {kind!r}", f"choose one of {', '.join(BASES)}")
    dist, pkg, comp = names_for(name)
    root = directory / dist
    if root.exists():
        raise HeanError(f"{root} already exists", "choose another name or remove the folder")
    cls = "".join(p.capitalize() for p in comp.split("_")) + BASES[kind]
    (root / pkg).mkdir(parents=True)
    (root / "tests").mkdir()
    major_minor = ".".join(__version__.split(".")[:2])
    nxt = f"{__version__.split('.')[0]}.{int(__version__.split('.')[1]) + 1}"
    (root / "pyproject.toml").write_text(f'''[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "HEAN {kind} plugin {comp}."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["hean-framework>={major_minor},<{nxt}"]

[project.optional-dependencies]
test = ["pytest>=8.0"]

[project.entry-points.hean]
{comp} = "{pkg}"

[tool.setuptools.packages.find]
include = ["{pkg}*"]
''', encoding="utf-8")
    imports = {
        "strategy": "from hean_framework import ComponentConfig, Strategy, hookimpl\n"
                    "from hean_framework.models import Bar, Signal\n",
        "filter": "from hean_framework import ComponentConfig, Filter, Verdict, hookimpl, skip\n"
                  "from hean_framework.models import OrderDecision, Signal\n",
        "sizer": "from hean_framework import ComponentConfig, Sizer, Verdict, hookimpl\n"
                 "from hean_framework.models import OrderDecision, Signal\n",
        "gate": "from hean_framework import ComponentConfig, Gate, Verdict, block, hookimpl\n"
                "from hean_framework.models import OrderDecision, Signal\n",
        "executor": "from hean_framework import ComponentConfig, Executor, Verdict, hookimpl\n"
                    "from hean_framework.models import OrderDecision, Signal\n",
        "optimizer": "from hean_framework import ComponentConfig, Optimizer, hookimpl\n"
                     "from hean_framework.components import OptimizationProblem, "
                     "OptimizationResult\n",
    }[kind]
    (root / pkg / "__init__.py").write_text(f'''"""HEAN {kind} plugin ``{comp}``."""

from __future__ import annotations

from pydantic import Field

{imports}from hean_framework.hookspecs import RegisterComponent

__version__ = "0.1.0"


class {cls}Config(ComponentConfig):
    """``{kind}`` section of the run YAML for ``{comp}``."""

{FIELDS[kind]}

class {cls}({BASES[kind]}):
    """TODO: describe what this {kind} does."""

    config: {cls}Config
{BODIES[kind]}

@hookimpl
def {HOOKS[kind]}(register: RegisterComponent) -> None:
    """Register ``{comp}``."""
    register("{comp}", {cls}, config={cls}Config)
''', encoding="utf-8")
    extra = "    expects_signals = True\n" if kind == "strategy" else ""
    doc = f"Tests of the {comp} {kind}: the kernel's contract suite, then your own rules."
    (root / "tests" / f"test_{comp}.py").write_text(f'''"""{doc}"""

from __future__ import annotations

from hean_framework.testing import {CONTRACTS[kind]}


class TestContract({CONTRACTS[kind]}):
    plugin_name = "{comp}"
    plugin_module = "{pkg}"
{extra}''', encoding="utf-8")
    (root / "README.md").write_text(f"""# {dist}

HEAN {kind} plugin `{comp}`.

Install beside the kernel: `pip install -e {root.as_posix()}`; check it is found:
`hean plugins list`; test it alone: `tox -e {dist}`.
""", encoding="utf-8")
    return root
