"""``hean plugins new NAME --kind KIND``: a plugin package whose tests pass out of the box.

The folder it writes is self-contained, so the plugin can live anywhere (inside a HEAN
checkout under ``plugins/`` or in its own repository):

* ``pyproject.toml``: the ``hean`` entry point and a ``[test]`` extra (pytest, hypothesis), so
  ``pip install -e '.[test]' && pytest`` runs its tests in any environment with the kernel;
* ``tox.ini``: ``tox`` (or ``tox -e <distribution>``) runs them in a fresh environment with
  only the kernel beside the plugin; the kernel comes from ``HEAN_KERNEL`` or, by default,
  from where the running kernel was installed (its source folder, else the package index);
* the package (config model, a working component, its hookimpl) and ``tests/`` with the
  kind's contract suite;
* for a strategy, ``example.yaml``: a backtest on the real BTC 5m candles shipped with the
  kernel (``hean_framework/data/sample``);
* ``README.md`` saying all of that.

Generated code passes the project's ruff configuration (imports sorted, lines of at most 100
characters); names are therefore limited to :data:`MAX_NAME` characters.
"""

from __future__ import annotations

import json
import os
import re
from importlib import metadata, resources
from pathlib import Path
from urllib.parse import unquote, urlparse

from . import __version__
from .errors import HeanError
from .kinds import KINDS, SCAFFOLD_KINDS

#: base class, registration hook and contract suite of each kind, from the one kind table
BASES = {k: KINDS[k].base.__name__ for k in SCAFFOLD_KINDS}
HOOKS = {k: KINDS[k].hook for k in SCAFFOLD_KINDS}
CONTRACTS = {k: str(KINDS[k].contract) for k in SCAFFOLD_KINDS}
#: longest component name (without the ``hean-`` prefix): generated lines stay within 100
MAX_NAME = 40
LINE_LENGTH = 100
#: the candles ``example.yaml`` replays (shipped with the kernel, see its README)
SAMPLE_SYMBOL = "BTC/USDT:USDT"
SAMPLE_FILE = "binance_usdm_perp_BTCUSDT_5m_20250306_20250413.csv.gz"

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
            # a maker entry (limit at the touch) with a target: what the small-account cost
            # gate lets through (docs/small_capital.md)
            return self.signal(bar.symbol, "buy", bar.ts, bar.close, stop_loss=stop,
                               take_profit=bar.close * (1 + 2 * self.config.stop_pct),
                               prefer_maker=True)
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
    if len(base) > MAX_NAME:
        raise HeanError(f"plugin name {name!r} is {len(base)} characters long",
                        f"use at most {MAX_NAME} (without the hean- prefix)")
    return "hean-" + base.replace("_", "-"), "hean_" + base, base


def kernel_source() -> Path | None:
    """The source folder the running kernel comes from (a checkout, an editable install or a
    ``pip install <folder>``), or None when it was installed from an index or a wheel."""
    here = Path(__file__).resolve().parent
    project = here.parent / "pyproject.toml"
    if project.is_file() and 'name = "hean-framework"' in project.read_text(encoding="utf-8"):
        return here.parent
    try:
        raw = metadata.distribution("hean-framework").read_text("direct_url.json")
        info = json.loads(raw) if raw else {}
    except (metadata.PackageNotFoundError, ValueError):
        return None
    url = info.get("url", "")
    if "dir_info" in info and url.startswith("file://"):
        path = Path(unquote(urlparse(url).path))
        if (path / "pyproject.toml").is_file():
            return path
    return None


def _from_plugin(target: Path, root: Path, prefix: str) -> str:
    """``target`` as the plugin folder's files name it: relative to the plugin folder
    (``prefix`` + ``../..``) when both sit in the kernel's source folder, else absolute."""
    src = kernel_source()
    here, there = root.resolve(), target.resolve()
    if src is not None and here.is_relative_to(src) and there.is_relative_to(src):
        return prefix + Path(os.path.relpath(there, here)).as_posix()
    return there.as_posix()


def _sample_path(root: Path) -> str:
    """The kernel's bundled candle file, as ``example.yaml`` in ``root`` names it."""
    ref = resources.files("hean_framework") / "data" / "sample" / SAMPLE_FILE
    return _from_plugin(Path(str(ref)), root, "")


def _kernel_requirement(root: Path) -> str:
    """What the plugin's ``tox.ini`` installs as the kernel by default."""
    src = kernel_source()
    if src is not None:
        return _from_plugin(src, root, "{toxinidir}/")
    return f"hean-framework>={_major_minor()},<{_next_minor()}"


def _major_minor() -> str:
    return ".".join(__version__.split(".")[:2])


def _next_minor() -> str:
    major, minor = __version__.split(".")[:2]
    return f"{major}.{int(minor) + 1}"


def _fit(one_line: str, wrapped: str) -> str:
    """``one_line`` when every line fits the line length, else ``wrapped``."""
    fits = all(len(line) <= LINE_LENGTH for line in one_line.splitlines())
    return one_line if fits else wrapped


#: what each kind's module imports, by module (the names in ruff's isort order)
IMPORTS = {
    "strategy": {"hean_framework": "ComponentConfig, Strategy, hookimpl",
                 "hean_framework.models": "Bar, Signal"},
    "filter": {"hean_framework": "ComponentConfig, Filter, Verdict, hookimpl, skip",
               "hean_framework.models": "OrderDecision, Signal"},
    "sizer": {"hean_framework": "ComponentConfig, Sizer, Verdict, hookimpl",
              "hean_framework.models": "OrderDecision, Signal"},
    "gate": {"hean_framework": "ComponentConfig, Gate, Verdict, block, hookimpl",
             "hean_framework.models": "OrderDecision, Signal"},
    "executor": {"hean_framework": "ComponentConfig, Executor, Verdict, hookimpl",
                 "hean_framework.models": "OrderDecision, Signal"},
    "optimizer": {"hean_framework": "ComponentConfig, Optimizer, hookimpl",
                  "hean_framework.components": "OptimizationProblem, OptimizationResult"},
}


def _import_block(kind: str) -> str:
    """The kernel imports of a kind's module, sorted as ruff's isort sorts them."""
    mods = {**IMPORTS[kind], "hean_framework.hookspecs": "RegisterComponent"}
    return "".join(f"from {m} import {mods[m]}\n" for m in sorted(mods))


def scaffold(name: str, kind: str, directory: Path) -> Path:
    """Create ``directory/<distribution>/``: pyproject, tox.ini, package, tests, README and,
    for a strategy, ``example.yaml``."""
    if kind not in BASES:
        raise HeanError(f"unknown kind {kind!r}", f"choose one of {', '.join(BASES)}")
    dist, pkg, comp = names_for(name)
    root = directory / dist
    if root.exists():
        raise HeanError(f"{root} already exists", "choose another name or remove the folder")
    cls = "".join(p.capitalize() for p in comp.split("_")) + BASES[kind]
    (root / pkg).mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(_pyproject(dist, pkg, comp, kind), encoding="utf-8")
    (root / "tox.ini").write_text(_tox_ini(dist, comp, kind, root), encoding="utf-8")
    (root / pkg / "__init__.py").write_text(_module(comp, kind, cls), encoding="utf-8")
    (root / "tests" / f"test_{comp}.py").write_text(_tests(pkg, comp, kind), encoding="utf-8")
    if kind == "strategy":
        (root / "example.yaml").write_text(_example(comp, root), encoding="utf-8")
    (root / "README.md").write_text(_readme(dist, comp, kind), encoding="utf-8")
    return root


def _pyproject(dist: str, pkg: str, comp: str, kind: str) -> str:
    return f'''[build-system]
requires = ["setuptools>=69", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "HEAN {kind} plugin {comp}."
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["hean-framework>={_major_minor()},<{_next_minor()}"]

[project.optional-dependencies]
# what its tests need: `pip install -e '.[test]' && pytest`
test = ["pytest>=8.0", "hypothesis>=6.100"]

[project.entry-points.hean]
{comp} = "{pkg}"

[tool.setuptools.packages.find]
include = ["{pkg}*"]

[tool.pytest.ini_options]
testpaths = ["tests"]
'''


def _tox_ini(dist: str, comp: str, kind: str, root: Path) -> str:
    return f'''# This plugin's tests in a fresh environment holding only the kernel and the plugin:
#   tox            (or: tox -e {dist})
# The kernel is HEAN_KERNEL (a source folder, a wheel or a requirement) when it is set, else
# where the kernel was installed from when this plugin was scaffolded.
[tox]
env_list = {dist}
skip_missing_interpreters = false

[testenv]
description = the {comp} {kind}'s tests, with only the kernel beside it
package = wheel
extras = test
deps = {{env:HEAN_KERNEL:{_kernel_requirement(root)}}}
pass_env = HEAN_*
commands = pytest -q -p no:cacheprovider {{posargs:tests}}
'''


def _module(comp: str, kind: str, cls: str) -> str:
    register = _fit(f'    register("{comp}", {cls}, config={cls}Config)\n',
                    f'    register(\n        "{comp}",\n        {cls},\n'
                    f'        config={cls}Config,\n    )\n')
    return f'''"""HEAN {kind} plugin ``{comp}``."""

from __future__ import annotations

from pydantic import Field

{_import_block(kind)}
__version__ = "0.1.0"


class {cls}Config(ComponentConfig):
    """Config of ``{comp}``, its section of the run YAML:
    ``{KINDS[kind].section}.{comp}``."""

{FIELDS[kind]}

class {cls}({BASES[kind]}):
    """TODO: describe what this {kind} does."""

    config: {cls}Config
{BODIES[kind]}

@hookimpl
def {HOOKS[kind]}(register: RegisterComponent) -> None:
    """Register ``{comp}``."""
{register}'''


def _tests(pkg: str, comp: str, kind: str) -> str:
    extra = "    expects_signals = True\n" if kind == "strategy" else ""
    return f'''"""Tests of the {kind} ``{comp}``.

The kernel's contract suite for its kind comes first; add your own rules below it.
"""

from __future__ import annotations

from hean_framework.testing import {CONTRACTS[kind]}


class TestContract({CONTRACTS[kind]}):
    plugin_name = "{comp}"
    plugin_module = "{pkg}"
{extra}'''


def _example(comp: str, root: Path) -> str:
    return f'''# A backtest of this strategy with the default pipeline on real Binance USDT-M BTC
# 5-minute candles (2025-03-06 .. 2025-04-13) shipped with the kernel (hean_framework/data/sample):
#   hean backtest example.yaml      then: hean why runs/{comp}
run:
  name: {comp}

account:
  # a small account: the kernel's small-account cost gating is on (below 10,000 USDT). The
  # template's signals pass it because they enter as makers (prefer_maker) with a target the
  # cost model can weigh; a taker entry would be refused (BLOCK MAKER_ONLY_ENFORCED, shown by
  # `hean why`) -- see the kernel's docs/small_capital.md.
  capital: 1000

data:
  files:
    - kind: bars
      symbol: {SAMPLE_SYMBOL}
      path: {_sample_path(root)}

strategies:
  {comp}:
    symbols: [{SAMPLE_SYMBOL}]
'''


def _readme(dist: str, comp: str, kind: str) -> str:
    example = ("    hean backtest example.yaml   # real BTC 5m candles shipped with the kernel\n"
               if kind == "strategy" else "")
    return f"""# {dist}

HEAN {kind} plugin `{comp}`.

## Install and test it

In a virtual environment where the HEAN kernel is installed (`pip install -e /path/to/hean`
from a checkout), from this folder:

    pip install -e '.[test]'     # the plugin, its `hean` entry point, pytest and hypothesis
    hean plugins list            # lists `{comp}`
    pytest                       # the kernel's contract suite for a {kind}, then your tests
{example}
Or, from this folder, `tox`: a fresh environment holding only the kernel and this plugin.
`tox.ini` installs the kernel from `HEAN_KERNEL` when it is set (a source folder, a wheel or a
requirement), else from where it was installed when this plugin was scaffolded. Inside a HEAN
checkout the project's matrix runs these tests too: `tox -e {dist}` from the checkout's root.
"""
