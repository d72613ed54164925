"""``optimize.html``: the search drawn, beside ``optimize.json`` in the output folder.

A self-contained page in the kernel report's style (its CSS, escaping and tables from
:mod:`hean_framework.report_html`; charts drawn the same way, matplotlib ``Figure`` on an Agg
canvas, inlined as base64 PNG, no URL):

* the verdict (promoted or refused, with every reason), the data span and the seed;
* **fitness per generation**: every scored parameter set (dots) and the best so far (line),
  per walk-forward fold;
* **in-sample vs out-of-sample per fold**: the winner's and the incumbent's composite fitness
  on both windows (bars), and the per-fold table with DSR and PBO;
* **the top genomes**: a heat map of the best ``TOP`` in-sample parameter sets (each
  parameter scaled to its searched range, the value written in the cell) and their table;
* **parameter distributions**: per numeric parameter, the values of every scored set against
  those of the top decile.

A chart that cannot be drawn is replaced by a note; it never costs the rest of the page.
"""

from __future__ import annotations

import base64
import io
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hean_framework.components import OptimizationResult
from hean_framework.report_html import CSS, esc, table

NAME = "optimize.html"
TOP = 15
DPI = 90


def _figure(width: float = 8.0, height: float = 3.0) -> Any:
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _img(fig: Any, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img class="chart" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def _safe(fn: Callable[..., str | None], *args: Any, alt: str) -> str:
    try:
        out = fn(*args)
    except Exception as exc:  # a chart never costs the page
        return f'<p class="sub">({esc(alt)}: not drawn: {esc(type(exc).__name__)}: ' \
               f'{esc(exc)})</p>'
    return out if out is not None else f'<p class="sub">({esc(alt)}: nothing to draw)</p>'


def _finite(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(float(x)) else None


def in_sample(history: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The in-sample evaluations of a walk-forward history (every entry of a plain one)."""
    return [h for h in history if h.get("window", "in_sample") == "in_sample"]


def top_genomes(history: Sequence[Mapping[str, Any]], n: int = TOP) -> list[Mapping[str, Any]]:
    """The ``n`` best in-sample evaluations (ties: the earlier), one per parameter set."""
    seen: set[str] = set()
    rows = []
    for h in sorted(in_sample(history), key=lambda h: -(_finite(h["fitness"]) or -math.inf)):
        key = repr(sorted(h["params"].items()))
        if key in seen or _finite(h["fitness"]) is None:
            continue
        seen.add(key)
        rows.append(h)
        if len(rows) == n:
            break
    return rows


def fitness_chart(history: Sequence[Mapping[str, Any]],
                  folds: Sequence[Mapping[str, Any]]) -> str | None:
    """Every scored set's fitness per generation and the best so far, per fold."""
    ins = in_sample(history)
    if not ins:
        return None
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    fold_ids = sorted({int(h.get("fold", 0)) for h in ins})
    width = 0.8 / max(len(fold_ids), 1)
    for j, f in enumerate(fold_ids):
        pts = [(h["generation"] + j * width - 0.4 + width / 2, _finite(h["fitness"]))
               for h in ins if int(h.get("fold", 0)) == f]
        xs = [x for x, y in pts if y is not None]
        ys = [y for _, y in pts if y is not None]
        ax.scatter(xs, ys, s=9, alpha=0.5, label=f"fold {f}")
        curve = next((r["best_by_generation"] for r in folds if r.get("fold") == f), None)
        if curve:
            ax.plot(range(len(curve)), [_finite(c) for c in curve], lw=1.5)
    ax.set_xlabel("generation", fontsize=8)
    ax.set_ylabel("fitness", fontsize=8)
    ax.set_title("fitness per generation (dots: every backtest; line: best so far)",
                 fontsize=10, loc="left")
    ax.grid(True, alpha=0.25)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7)
    return _img(fig, "fitness per generation")


def is_oos_chart(folds: Sequence[Mapping[str, Any]]) -> str | None:
    """Winner and incumbent, in-sample and out-of-sample, per fold."""
    if not folds:
        return None
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    keys = (("winner_in_sample", "winner IS"), ("winner_out_of_sample", "winner OOS"),
            ("incumbent_in_sample", "incumbent IS"),
            ("incumbent_out_of_sample", "incumbent OOS"))
    w = 0.2
    for j, (key, label) in enumerate(keys):
        ax.bar([i + (j - 1.5) * w for i in range(len(folds))],
               [_finite(f[key]["fitness"]) or 0.0 for f in folds], w, label=label)
    ax.set_xticks(range(len(folds)), [f"fold {f['fold']}" for f in folds])
    ax.set_ylabel("composite fitness", fontsize=8)
    ax.set_title("in-sample vs out-of-sample per fold", fontsize=10, loc="left")
    ax.grid(True, axis="y", alpha=0.25)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, ncol=4)
    return _img(fig, "in-sample vs out-of-sample per fold")


def heat_map(top: Sequence[Mapping[str, Any]], space: Mapping[str, Any]) -> str | None:
    """The top genomes, each parameter scaled to its searched range."""
    names = list(space)
    if not top or not names:
        return None
    rows = []
    for h in top:
        row = []
        for k in names:
            lo, hi, choices = space[k]
            v = h["params"].get(k)
            if choices:
                row.append(choices.index(v) / max(len(choices) - 1, 1) if v in choices
                           else 0.0)
            else:
                row.append((float(v) - lo) / (hi - lo) if hi > lo else 0.5)
        rows.append(row)
    fig = _figure(8.0, 0.5 + 0.28 * len(rows))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(rows, aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    for i, h in enumerate(top):
        for j, k in enumerate(names):
            v = h["params"].get(k)
            txt = f"{v:.4g}" if isinstance(v, float) else str(v)
            ax.text(j, i, txt, ha="center", va="center", fontsize=7,
                    color="white" if rows[i][j] < 0.6 else "black")
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_yticks(range(len(top)), [f"{_finite(h['fitness']) or 0:.3f}" for h in top],
                  fontsize=7)
    ax.set_ylabel("in-sample fitness", fontsize=8)
    ax.set_title(f"top {len(top)} genomes (colour: position in the searched range)",
                 fontsize=10, loc="left")
    return _img(fig, "heat map of the top genomes")


def distributions(history: Sequence[Mapping[str, Any]],
                  space: Mapping[str, Any]) -> str | None:
    """Per numeric parameter: every scored value vs the top decile's."""
    ins = [h for h in in_sample(history) if _finite(h["fitness"]) is not None]
    names = [k for k, (_, _, choices) in space.items() if not choices]
    if not ins or not names:
        return None
    ranked = sorted(ins, key=lambda h: -float(h["fitness"]))
    best = ranked[:max(1, len(ranked) // 10)]
    cols = min(len(names), 3)
    nrows = math.ceil(len(names) / cols)
    fig = _figure(8.0, 2.0 * nrows)
    for i, k in enumerate(names):
        ax = fig.add_subplot(nrows, cols, i + 1)
        lo, hi, _ = space[k]
        bins = [lo + (hi - lo) * b / 12 for b in range(13)] if hi > lo else 12
        ax.hist([float(h["params"][k]) for h in ins], bins=bins, alpha=0.5, label="all")
        ax.hist([float(h["params"][k]) for h in best], bins=bins, alpha=0.8, label="top 10%")
        ax.set_title(k, fontsize=9, loc="left")
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _img(fig, "parameter distributions")


def render(strategy: str, metric: str, result: OptimizationResult,
           space: Mapping[str, Any]) -> str:
    """The page (module docstring); ``space``: name -> (low, high, choices)."""
    extra = result.extra
    folds = extra.get("folds", [])
    parts = [f"<h1>symbiont: {esc(strategy)}</h1>"]
    if extra.get("mode") == "walk_forward":
        promo = extra["promotion"]
        verdict = "PROMOTED" if promo["promoted"] else "REFUSED"
        parts.append(f'<p class="sub">{esc(extra["walk_forward"])} walk-forward over '
                     f'{esc(extra["span"]["start"])} .. {esc(extra["span"]["end"])}, seed '
                     f'{esc(extra["seed"])}; {esc(extra["evaluations"])} backtests</p>')
        parts.append(f"<p><b>candidate {esc(extra['candidate'])}: {verdict}</b></p>")
        if promo["reasons"]:
            parts.append("<ul>" + "".join(f"<li>{esc(r)}</li>" for r in promo["reasons"])
                         + "</ul>")
    else:
        parts.append(f'<p class="sub">plain genetic search ({esc(extra.get("why", ""))}), '
                     f'seed {esc(extra.get("seed"))}</p>')
    parts.append(f"<p>{esc(metric)} over the whole data with the result's parameters "
                 f"{esc(result.params)}: {esc(result.fitness)}</p>")
    parts.append("<h2>Fitness per generation</h2>")
    parts.append(_safe(fitness_chart, result.history, folds, alt="fitness per generation"))
    if folds:
        parts.append("<h2>In-sample vs out-of-sample</h2>")
        parts.append(_safe(is_oos_chart, folds, alt="in-sample vs out-of-sample"))
        parts.append(table(
            ["fold", "in-sample", "out-of-sample", "winner", "winner IS", "winner OOS",
             "incumbent IS", "incumbent OOS", "DSR", "PBO"],
            [[f["fold"], f"{f['in_sample']['start']} .. {f['in_sample']['end']}",
              f"{f['out_of_sample']['start']} .. {f['out_of_sample']['end']}", f["winner"],
              f["winner_in_sample"]["fitness"], f["winner_out_of_sample"]["fitness"],
              f["incumbent_in_sample"]["fitness"], f["incumbent_out_of_sample"]["fitness"],
              f["dsr"]["dsr"], f["pbo"]["pbo"]] for f in folds]))
    top = top_genomes(result.history)
    parts.append("<h2>Top genomes</h2>")
    parts.append(_safe(heat_map, top, space, alt="heat map of the top genomes"))
    names = list(space)
    parts.append(table(["fold", "generation", "fitness", *names],
                       [[h.get("fold", "-"), h.get("generation", "-"), h["fitness"],
                         *[h["params"].get(k) for k in names]] for h in top]))
    parts.append("<h2>Parameter distributions</h2>")
    parts.append(_safe(distributions, result.history, space, alt="parameter distributions"))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>symbiont "
            f"{esc(strategy)}</title><style>{CSS}</style></head><body><main>"
            + "".join(parts) + "</main></body></html>")


def write_report(folder: Path, strategy: str, metric: str, result: OptimizationResult,
                 space: Mapping[str, Any]) -> Path:
    """Write ``optimize.html`` into ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NAME
    path.write_text(render(strategy, metric, result, space), encoding="utf-8")
    return path
